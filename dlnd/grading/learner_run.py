"""What runs inside a submission's sandbox: the learner's code under the graded checks, recorded.

    python -m dlnd.grading.learner_run NOTEBOOK [--check-seconds S] [--scratch DIR] NAME...

TensorFlow is imported once; then each graded function's check runs in a child process of its own (a fork:
fresh learner state, its own CPU-time limit, killed at its wall-clock limit) that loads the notebook's
definitions and runs the check on them, recording every call (dlnd.checks.replay) as <function>.json. For the
face-generation notebook, one more child runs `train` briefly on random data (train.json). Each record, and
how each child ended (<function>.status.json), is handed back on the file descriptor DLND_RESULT_FD
(dlnd.grading.sandbox) as soon as it exists, one JSON line a file, so what came before a crash is kept.
Everything handed back is the learner's data: the grader judges it in another sandbox, where no learner code
runs (dlnd.grading.judging).
"""
import argparse
import contextlib
import dataclasses
import io
import json
import os
import re
import resource
import sys
from pathlib import Path

from .inside import clear_scratch, exit_now, in_child, preload, result_descriptor
from .rubric import (
    ENOUGH_BATCHES,
    LOSS_PATTERNS,
    SHOW_EVERY,
    TRAIN_BATCHES,
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


# Imported once, before the forks, so each child starts with them: TensorFlow, and what the notebooks import.
PRELOADED = ('problem_unittests', 'matplotlib.pyplot', 'IPython.display', 'dlnd.gan.evaluation', 'dlnd.gan.gan_family',
             'dlnd.hosted', 'dlnd.checks.replay', 'dlnd.grading.rubric')


def child(name, notebook, cpu_seconds):
    """One check (or train's run), in a fresh child: load the definitions, run, record."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    import numpy as np

    import problem_unittests

    from ..checks import replay
    from ..notebook import load_functions
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
