"""The judging step of dlnd.grade, as a server: one sandbox per worker judges submission after submission.

    python -m dlnd.judging [--scratch DIR] [--own-namespace]   (started by dlnd.grade, in its sandbox)

The server imports TensorFlow and the checks once, then reads requests on its standard input, one JSON line
each: {"notebook": name, "text": the notebook, "records": {file name: text}, "seconds": limit}. Each is judged
in a forked child (dlnd.review.judge on the records, exactly as before the server existed) with its own CPU-time
and wall-clock limits; its answer goes back on DLND_RESULT_FD as one JSON line: {"lines": the judged rubric
lines} or {"failed": why}. A child starts with nothing of the child before it.

Why one server may judge many learners: no learner code runs in it. The records are the learners' data, and a
record crafted to subvert TensorFlow could at worst take over the child judging it, which gives it no more than a
judge of its own would: its own verdict. It cannot reach another submission's: the child holds no descriptor but
its own files (it closes the requests and answers before judging, and the server relays only the answer file the
child wrote, read once the child and whatever it started are dead), the server is not dumpable (no ptrace, no
/proc/PID/mem for a process without capabilities), and the scratch folder, where the child's files are, is
emptied before the next request. Killing the server loses only the request in flight: dlnd.grade starts another.
"""
import argparse
import ctypes
import json
import os
import resource
import sys
from pathlib import Path

from .sandbox import clear_scratch, exit_now, in_child

PR_SET_DUMPABLE = 4


def judge_request(request, scratch):
    """In the child: judge one request's records; the answer, written to scratch/answer.json."""
    from .review import judge
    folder = Path(scratch) / 'request'
    (folder / 'records').mkdir(parents=True)
    notebook = folder / Path(str(request['notebook'])).name
    notebook.write_text(request['text'])
    for name, text in request['records'].items():
        (folder / 'records' / Path(name).name).write_text(text)
    answer = {'lines': judge(notebook, folder / 'records')}
    (Path(scratch) / 'answer.json').write_text(json.dumps(answer))


def child(request, scratch, cpu_seconds, results_fd):
    """A fresh judge: none of the server's descriptors, its own CPU-time limit, the first the OOM killer takes."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    Path('/proc/self/oom_score_adj').write_text('1000')
    devnull = os.open(os.devnull, os.O_RDWR)
    log = os.open(Path(scratch) / 'judge.log', os.O_WRONLY | os.O_CREAT, 0o600)
    for fd, target in ((0, devnull), (1, log), (2, log)):
        os.dup2(target, fd)
    os.close(results_fd)
    judge_request(request, scratch)


def answer(request_line, scratch, own_namespace, results_fd):
    """The answer to one request line, as a dict."""
    try:
        request = json.loads(request_line)
        seconds = float(request['seconds'])
    except (ValueError, TypeError, KeyError) as e:
        return {'failed': f'a request the judge could not read ({type(e).__name__})'}
    ended = in_child(lambda: child(request, scratch, max(1, int(seconds * 2)), results_fd), seconds, own_namespace)
    try:
        if ended.get('exit') == 0:
            return json.loads((Path(scratch) / 'answer.json').read_text())
        if ended['timed_out']:
            return {'failed': f'judging took longer than {seconds:.0f} s'}
        log = (Path(scratch) / 'judge.log').read_text(errors='replace').strip().splitlines()
        how = f"was ended by {ended['signal']}" if 'signal' in ended else f"ended with exit status {ended['exit']}"
        return {'failed': f'the judge {how}' + (f': {log[-1][:300]}' if log else '')}
    except (OSError, ValueError) as e:
        return {'failed': f'the judge left no answer ({type(e).__name__})'}
    finally:
        clear_scratch(scratch)


def preload():
    """What every judgement needs, imported once: TensorFlow, the checks, the replay."""
    import importlib
    for name in ('problem_unittests', 'dlnd.replay', 'dlnd.review'):
        importlib.import_module(name)
    from .tf_setup import set_grading_defaults
    set_grading_defaults()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--scratch', type=Path, required=True, help='the folder the children write in, emptied '
                        'after each')
    parser.add_argument('--own-namespace', action='store_true', help='the sandbox gave this process its own PID '
                        'namespace: every other process in it is a child\'s leftover')
    args = parser.parse_args()
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    os.environ['DLND_FORK_AFTER_IMPORT'] = '1'  # no TensorFlow session before the forks
    preload()
    results_fd = int(os.environ.get('DLND_RESULT_FD', 1))
    with open(results_fd, 'w', closefd=False) as results:
        for line in sys.stdin:
            results.write(json.dumps(answer(line, args.scratch, args.own_namespace, results_fd)) + '\n')
            results.flush()
    return 0


if __name__ == '__main__':
    exit_now(main())
