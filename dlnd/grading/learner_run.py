"""What runs inside a submission's sandbox: the learner's code under the graded checks, recorded.

    python -m dlnd.grading.learner_run NOTEBOOK [--check-seconds S] [--scratch DIR] NAME...

TensorFlow is imported once; then each graded function's check runs in a child process of its own (a fork:
fresh learner state, its own CPU-time limit, killed at its wall-clock limit) that loads the notebook's
definitions and runs the check on them, recording every call (dlnd.checks.replay) as <function>.json. For the
face-generation notebook, one more child runs `train` briefly on random data (train.json). For each trained
generator the submission carries (checkpoints/mnist, ...: dlnd.notebook.SAVED_GENERATORS), one child restores it
into the learner's own network (`generator`, `fc_generator`, ...) and draws images with it (mnist_drawing.json,
...). Each record, and
how each child ended (<function>.status.json), is handed back on the file descriptor DLND_RESULT_FD
(dlnd.grading.sandbox) as soon as it exists, one JSON line a file, so what came before a crash is kept.
Everything handed back is the learner's data: the grader judges it in another sandbox, where no learner code
runs (dlnd.grading.judging).
"""
import argparse
import base64
import contextlib
import dataclasses
import io
import json
import os
import re
import resource
import sys
from pathlib import Path

from ..fileio import checkpoint_files
from ..notebook import cell_settings, code_cells, load_functions, read
from .inside import clear_scratch, exit_now, in_child, preload, result_descriptor
from .rubric import (
    DIGITS,
    DRAWINGS,
    ENOUGH_BATCHES,
    LOSS_PATTERNS,
    SHOW_EVERY,
    TRAIN_BATCHES,
    Z_DISTRIBUTIONS,
    calls_train,
    describe,
    longest_gap,
)

TRAIN_BATCH_SIZE = 2  # batch norm needs 2


def hand_back(file_name, data):
    """Send one file of the record to the grader: a JSON line on DLND_RESULT_FD (stdout when run by hand). It goes
    straight out, not through the scratch folder, which the learner's code can fill."""
    line = json.dumps({'name': file_name, 'text': data if isinstance(data, str) else json.dumps(data)}) + '\n'
    with open(result_descriptor(), 'w', closefd=False) as out:
        out.write(line)


class EnoughBatches(BaseException):
    """Raised by the batches of run_train once train has shown what the grader needs: not an Exception, so the
    learner's own `except Exception` does not take it for an error of theirs."""


def run_train(functions, np, tf, batch_size=TRAIN_BATCH_SIZE):
    """Run the notebook's train on random data: what it printed and raised, after how many batches it showed the
    generator, and the learning rates model_opt got, for the grader to judge. The batches end at the first one
    from ENOUGH_BATCHES on where train has printed both losses and shown a grid every SHOW_EVERY batches (the rest
    would only repeat it), else at TRAIN_BATCHES."""
    if not callable(functions.get('train')) or not callable(functions.get('show_generator_output')):
        return {'defined': False}
    given, shown_at, real_show = [0], [], functions['show_generator_output']
    functions['show_generator_output'] = lambda *a, **k: shown_at.append(given[0]) or real_show(*a, **k)
    rates, real_opt = [], functions.get('model_opt')
    if callable(real_opt):
        functions['model_opt'] = lambda d_loss, g_loss, rate, *a, **k: rates.append(
            'tensor' if hasattr(rate, 'graph') else repr(rate)) or real_opt(d_loss, g_loss, rate, *a, **k)
    rng = np.random.default_rng(0)
    printed, error = io.StringIO(), None

    def seen_enough():
        return given[0] >= ENOUGH_BATCHES and longest_gap(shown_at, given[0]) <= SHOW_EVERY and \
            all(re.search(p, printed.getvalue()) for p in LOSS_PATTERNS)

    def get_batches(size):
        while given[0] < TRAIN_BATCHES:
            if seen_enough():
                raise EnoughBatches
            given[0] += 1
            yield rng.uniform(-1, 1, (size, 28, 28, 1)).astype(np.float32)
    try:
        with contextlib.redirect_stdout(printed), tf.Graph().as_default():  # as the notebook runs it
            functions['train'](1, batch_size, 16, 2e-4, 0.5, get_batches,
                               (TRAIN_BATCHES * batch_size, 28, 28, 1), 'L')
    except EnoughBatches:
        pass
    except BaseException as e:  # sys.exit too: it is the learner's train that stopped
        from ..checks.graph_checks import error_line
        error = error_line(e) if isinstance(e, tf.errors.OpError) else describe(e)
    return {'defined': True, 'printed': printed.getvalue()[-20000:], 'shown_at': shown_at, 'batches': given[0],
            'rates': rates, 'error': error}


def draw(functions, np, tf, files, drawing, z_hints):
    """The record of the learner's generator drawing drawing.count images for each of its noises: the network the
    drawing names, its variables restored from the checkpoint of `files` (checkpoint_files). The noise's size is
    the checkpoint's: each z_dim in `z_hints` is tried (the training cells', or the one the project trains with),
    then the first dimension of each matrix the generator saved."""
    network, folder = drawing.generator.network, files[0].parent
    if not callable(functions.get(network)):
        return {'error': f'{network} is not defined'}
    prefix = str(files[0])[:-len('.index')]
    try:
        saved = tf.train.list_variables(prefix)
    except Exception as e:
        return {'error': f'checkpoints/{folder.name} cannot be read: {describe(e)}'}
    z_dims = dict.fromkeys([*z_hints, *(shape[0] for name, shape in saved if name.startswith('generator')
                                        and len(shape) == 2)])
    why = 'it holds no variable of a generator'
    for z_dim in z_dims:
        try:
            return {'z_dim': z_dim, 'drawings': drawn(functions[network], np, tf, prefix, drawing, z_dim)}
        except Exception as e:  # the shapes do not fit this z_dim, or the variables are not the generator's
            why = describe(e)
    return {'error': f"the notebook's {network} cannot be restored from checkpoints/{folder.name}: {why}"}


def drawn(network, np, tf, prefix, drawing, z_dim, batch=250):
    """{noise: the images as uint8 bytes (count, 28, 28, channels), base64} from the network restored from
    `prefix` (a conditional one asked for each digit in turn); ValueError for images of another shape or not
    finite."""
    rng = np.random.default_rng(0)
    count, channels = drawing.count, drawing.generator.channels
    with tf.Graph().as_default(), tf.Session() as sess:
        z = tf.placeholder(tf.float32, (None, z_dim))
        inputs, feed = [z], {}
        if drawing.generator.conditional:
            inputs.append(tf.placeholder(tf.float32, (None, DIGITS)))
            feed[inputs[1]] = np.eye(DIGITS)[np.arange(count) % DIGITS]
        network(*inputs, channels, is_train=True)  # makes its variables, as the model's loss does in training
        images = network(*inputs, channels, is_train=False)
        tf.train.Saver(tf.global_variables()).restore(sess, prefix)
        drawings = {}
        for name in drawing.noises:
            noise = Z_DISTRIBUTIONS[name](rng, (count, z_dim))
            pictures = np.concatenate([sess.run(images, {z: noise[i:i + batch], **{
                placeholder: values[i:i + batch] for placeholder, values in feed.items()}})
                for i in range(0, count, batch)])
            if pictures.shape != (count, 28, 28, channels):
                raise ValueError(f'the generator drew images of shape {pictures.shape[1:]}, not (28, 28, {channels})')
            if not np.isfinite(pictures).all():
                raise ValueError('the generator drew values that are not finite numbers (NaN or infinity)')
            pixels = np.clip(np.round((pictures + 1) * 127.5), 0, 255).astype(np.uint8)
            drawings[name] = base64.b64encode(pixels.tobytes()).decode('ascii')
    return drawings


def draw_saved(drawing, namespace, notebook, np, tf):
    """The record of a drawing by the generator in checkpoints/<folder> beside the notebook, built by the network
    the notebook defines, or the one of the notebook it takes it from (gan_variants.ipynb: the face-generation
    notebook's DCGAN, which the submission carries beside it)."""
    generator = drawing.generator
    files = checkpoint_files(notebook.parent / 'checkpoints' / generator.folder)
    if not files:
        return {'missing': True}
    if generator.defined_in:
        source = notebook.parent / generator.defined_in
        if not source.is_file():
            return {'error': f'{generator.defined_in}, whose {generator.network} {generator.saved_by} trains, is not '
                             'in the submission: submit the zip python -m dlnd submit builds, which carries it'}
        try:
            namespace = load_functions(tf, notebook=source)
        except BaseException as e:
            return {'error': f"{generator.defined_in}'s code does not run: {describe(e)}"}
    hints = [generator.z_dim] if generator.z_dim else z_dims_set(notebook)
    return draw(namespace, np, tf, files, drawing, hints)


def z_dims_set(notebook):
    """The z_dim values the notebook's training cells set."""
    values = []
    for cell in code_cells(read(notebook)):
        if calls_train(cell['source']):
            try:
                values.append(cell_settings(cell['source']).get('z_dim'))
            except SyntaxError:
                continue
    return [v for v in values if isinstance(v, int) and 0 < v <= 4096]


# Imported once, before the forks, so each child starts with them: TensorFlow, and what the notebooks import.
PRELOADED = ('problem_unittests', 'matplotlib.pyplot', 'IPython.display', 'dlnd.gan.evaluation', 'dlnd.gan.gan_family',
             'dlnd.hosted', 'dlnd.checks.replay', 'dlnd.grading.rubric')


def child(name, notebook, cpu_seconds):
    """One check (or train's run), in a fresh child: load the definitions, run, record."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    import numpy as np

    import problem_unittests

    from ..checks import replay
    tf = problem_unittests.tf
    sys.stdout = io.StringIO()  # what the learner's code prints in a check is not the check's result
    try:
        namespace = load_functions(tf, notebook=notebook)
    except BaseException as e:
        hand_back(f'{name}.json', {'load_error': describe(e)})
        return
    if name == 'train':
        hand_back('train.json', run_train(namespace, np, tf))
        return
    if name in DRAWINGS:
        hand_back(f'{name}.json', draw_saved(DRAWINGS[name], namespace, Path(notebook), np, tf))
        return
    check = getattr(problem_unittests, f'test_{name}').check
    if not callable(namespace.get(name)):
        hand_back(f'{name}.json', {'undefined': True})
        return
    hand_back(f'{name}.json', replay.record(check, name, namespace))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('notebook', type=Path)
    parser.add_argument('--check-seconds', type=float, default=120)
    parser.add_argument('--alone', action='store_true', help='this process is alone in its sandbox (its '
                        'own PID namespace or user): every other process it may signal is a check\'s leftover')
    parser.add_argument('--scratch', type=Path, help='a folder to empty after each check')
    parser.add_argument('names', nargs='*')
    args = parser.parse_args()
    os.environ['DLND_FORK_AFTER_IMPORT'] = '1'  # no TensorFlow session before the forks
    preload(PRELOADED)
    for name in args.names:
        ended = in_child(lambda: child(name, args.notebook, int(args.check_seconds * 2)), args.check_seconds,
                         args.alone)
        if args.scratch:
            clear_scratch(args.scratch)
        hand_back(f'{name}.status.json', dataclasses.asdict(ended))


if __name__ == '__main__':
    exit_now(main() or 0)
