"""Generators for the grading tests, saved as the notebooks save them (checkpoints/mnist, checkpoints/celeba, and
gan_variants.ipynb's checkpoints/vanilla-cross-entropy, ...).

    python tests/generators.py OUT DATA mnist=1000 celeba=200    (what trained() runs, in a process of its own)
    python tests/generators.py family OUT MNIST_DATA FLOWERS_DATA BATCHES                          (family())

trained(): the reference notebook's own train, run for a few batches of the real data: 1,000 MNIST batches draw
digits that meet the rubric's line; 200 CelebA batches draw blurs that do not meet the faces line (meeting it
takes about 5,000, too long for a test). 0 batches: the untrained generator a notebook that never trains saves.
family(): gan_variants.ipynb's seven generators, trained by its own code (dlnd.gan.gan_family.train) for a few
batches. remembering(): checkpoints of a generator that draws real images it holds (REMEMBERING_GENERATOR, or
REMEMBERING_CONDITIONAL for the conditional GAN): what a generator that meets the quality lines draws, in
seconds. Each is kept in build/ while the code that made it is unchanged.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / 'build' / 'test-generators'
BATCHES = {'mnist': 1000, 'celeba': 200}  # trained(): digits that meet the line, faces that do not yet

# A generator that meets the shape checks of the quality lines and draws, for uniform noise, one of 1,000 images it
# holds as a variable (real ones, once restored from its checkpoint).
REMEMBERING_GENERATOR = '''
def generator(z, out_channel_dim, is_train=True):
    with tf.variable_scope('generator', reuse=not is_train):
        held = tf.get_variable('held', (1000, 28, 28, out_channel_dim), initializer=tf.zeros_initializer())
        which = tf.cast((z[:, 0] + 1) / 2 * 1000, tf.int32)
        return tf.gather(held, tf.clip_by_value(which, 0, 999))
'''
# The conditional one: image i of the 1,000 it holds shows the digit i % 10; the labels choose the digit.
REMEMBERING_CONDITIONAL = '''
def conditional_generator(z, labels, out_channel_dim, is_train=True, alpha=0.2):
    with tf.variable_scope('generator', reuse=not is_train):
        held = tf.get_variable('held', (1000, 28, 28, out_channel_dim), initializer=tf.zeros_initializer())
        which = tf.clip_by_value(tf.cast((z[:, 0] + 1) / 2 * 100, tf.int32), 0, 99) * 10
        return tf.gather(held, which + tf.argmax(labels, axis=1, output_type=tf.int32))
'''
# gan_variants.ipynb's generators: checkpoints/<key> -> (the discriminator, generator, loss and model_loss of
# the notebook that part 4 or 5 trains it with; its data set). None: gan_family's default model_loss.
FAMILY = {'vanilla-cross-entropy': ('fc_discriminator', 'fc_generator', 'gan_loss', None, 'mnist'),
          'vanilla-least-squares': ('fc_discriminator', 'fc_generator', 'lsgan_loss', None, 'mnist'),
          'dcgan-cross-entropy': ('discriminator', 'generator', 'gan_loss', None, 'mnist'),
          'dcgan-least-squares': ('discriminator', 'generator', 'lsgan_loss', None, 'mnist'),
          'conditional-dcgan-cross-entropy': ('conditional_discriminator', 'conditional_generator', 'gan_loss',
                                              'conditional_model_loss', 'mnist'),
          'flowers-dcgan': ('discriminator', 'generator', 'gan_loss', None, 'flowers'),
          'flowers-dcgan-diffaugment': ('discriminator', 'generator', 'gan_loss', 'augmented_model_loss', 'flowers')}


def _cached(key_parts, make):
    """The folder make(folder) fills, kept under build/ by a hash of key_parts."""
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()[:16]
    folder = CACHE / key
    if not (folder / 'done').is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        make(folder)
        (folder / 'done').write_text('')
    return folder


def trained(data_folders, batches):
    """A folder holding checkpoints/<dataset> of the reference notebook's train run for batches[dataset] batches
    of the real data ({dataset: its prepared data folder})."""
    from dlnd.notebook import NOTEBOOK, cell_sources, definitions_source
    code = definitions_source(cell_sources(NOTEBOOK))

    def make(folder):
        for dataset, count in batches.items():
            subprocess.run([sys.executable, __file__, str(folder), str(data_folders[dataset]), f'{dataset}={count}'],
                           check=True, cwd=ROOT, env={**os.environ, 'MPLBACKEND': 'Agg', 'DLND_MIXED_PRECISION': '0'})
    return _cached(['trained', code, batches], make)


def family(data_folders, batches):
    """A folder holding checkpoints/<key> of each of gan_variants.ipynb's generators (FAMILY), trained by its
    reference code as parts 4 and 5 train them, for `batches` batches of the real data ({'mnist': its prepared
    folder, 'flowers': its})."""
    from dlnd.notebook import NOTEBOOK, VARIANTS_NOTEBOOK, cell_sources, definitions_source
    code = [definitions_source(cell_sources(notebook)) for notebook in (NOTEBOOK, VARIANTS_NOTEBOOK)]

    def make(folder):
        subprocess.run([sys.executable, __file__, 'family', str(folder), str(data_folders['mnist']),
                        str(data_folders['flowers']), str(batches)], check=True, cwd=ROOT,
                       env={**os.environ, 'DLND_MIXED_PRECISION': '0'})
    return _cached(['family', code, FAMILY, batches], make)


def remembering(images):
    """A folder holding checkpoints/<folder> of REMEMBERING_GENERATOR holding `images` ({folder: 1,000 uint8
    images}); conditional-*: REMEMBERING_CONDITIONAL, whose image i must show the digit i % 10."""
    def make(folder):
        import helper
        tf = helper.import_tensorflow()
        for name, held in images.items():
            conditional = name.startswith('conditional')
            with tf.Graph().as_default(), tf.Session() as sess:
                namespace = {'tf': tf}
                exec(REMEMBERING_CONDITIONAL if conditional else REMEMBERING_GENERATOR, namespace)
                inputs = [tf.placeholder(tf.float32, (None, 100))] + \
                    ([tf.placeholder(tf.float32, (None, 10))] if conditional else [])
                namespace['conditional_generator' if conditional else 'generator'](*inputs, held.shape[3])
                sess.run(tf.global_variables()[0].assign(held.astype('float32') / 127.5 - 1))
                (folder / 'checkpoints' / name).mkdir(parents=True)
                tf.train.Saver().save(sess, str(folder / 'checkpoints' / name / 'model'))
    return _cached(['remembering', REMEMBERING_GENERATOR, REMEMBERING_CONDITIONAL,
                    {k: hashlib.sha256(v.tobytes()).hexdigest() for k, v in images.items()}], make)


def files(folder):
    """{'checkpoints/<dataset>/<file>': its bytes} of a folder trained() or remembering() made."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted((folder / 'checkpoints').rglob('*'))
            if p.is_file()}


def main(out, data_folder, *runs):
    """Run the reference notebook's train for each dataset=batches, saving into OUT/checkpoints/<dataset>."""
    sys.path.insert(0, str(ROOT))
    import itertools

    import helper
    from dlnd.notebook import load_functions
    tf = helper.import_tensorflow()
    functions = load_functions(tf)
    functions.update(helper=helper, os=os, itertools=itertools, show_grid=lambda *args, **kwargs: None)
    for run in runs:
        dataset, count = run.split('=')
        data = helper.Dataset(dataset, data_folder)
        with tf.Graph().as_default():
            functions['train'](1, 64, 100, 2e-4, 0.5, data.get_batches, data.shape, data.image_mode,
                               max_batches=int(count), checkpoint_dir=os.path.join(out, 'checkpoints', dataset))


def main_family(out, mnist_folder, flowers_folder, batches):
    """Train each of FAMILY's generators as gan_variants.ipynb does, saving into OUT/checkpoints/<key>."""
    sys.path.insert(0, str(ROOT))
    import helper
    from dlnd.gan import gan_family
    from dlnd.notebook import load_variant_functions
    functions = load_variant_functions(helper.import_tensorflow())
    data = {'mnist': helper.Dataset('mnist', mnist_folder), 'flowers': helper.Dataset('flowers', flowers_folder)}
    for key, (discriminator, generator, loss, model_loss, dataset) in FAMILY.items():
        variant = gan_family.Variant(key, functions[discriminator], functions[generator], functions[loss],
                                     functions.get(model_loss), conditional=key.startswith('conditional'))
        gan_family.train(variant, data[dataset], 10 ** 9, max_batches=int(batches), log=lambda line: None,
                         checkpoint_dir=os.path.join(out, 'checkpoints', key))


if __name__ == '__main__':
    main_family(*sys.argv[2:]) if sys.argv[1] == 'family' else main(*sys.argv[1:])
