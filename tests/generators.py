"""Generators for the grading tests, saved as the notebook's train saves them (checkpoints/mnist, checkpoints/celeba).

    python tests/generators.py OUT DATA mnist=1000 celeba=200    (what trained() runs, in a process of its own)

trained(): the reference notebook's own train, run for a few batches of the real data: 1,000 MNIST batches draw
digits that meet the rubric's line; 200 CelebA batches draw blurs that do not meet the faces line (meeting it
takes about 5,000, too long for a test). 0 batches: the untrained generator a notebook that never trains saves.
remembering(): checkpoints of a generator that draws real images it holds (REMEMBERING_GENERATOR): what a
generator that meets both lines draws, in seconds. Each is kept in build/ while the code that made it is unchanged.
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


def remembering(images):
    """A folder holding checkpoints/<dataset> of REMEMBERING_GENERATOR holding `images` ({dataset: 1,000 uint8
    images})."""
    def make(folder):
        import helper
        tf = helper.import_tensorflow()
        for dataset, held in images.items():
            with tf.Graph().as_default(), tf.Session() as sess:
                namespace = {'tf': tf}
                exec(REMEMBERING_GENERATOR, namespace)
                namespace['generator'](tf.placeholder(tf.float32, (None, 100)), held.shape[3], is_train=True)
                sess.run(tf.global_variables()[0].assign(held.astype('float32') / 127.5 - 1))
                (folder / 'checkpoints' / dataset).mkdir(parents=True)
                tf.train.Saver().save(sess, str(folder / 'checkpoints' / dataset / 'model'))
    return _cached(['remembering', REMEMBERING_GENERATOR, {k: hashlib.sha256(v.tobytes()).hexdigest()
                                                            for k, v in images.items()}], make)


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


if __name__ == '__main__':
    main(*sys.argv[1:])
