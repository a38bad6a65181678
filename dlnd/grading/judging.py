"""The judging step of dlnd.grading.grade, as a server: one sandbox per worker judges submission after submission.

    python -m dlnd.grading.judging [--scratch DIR] [--alone]   (started by dlnd.grading.grade, in its sandbox)

The server imports TensorFlow and the checks once, then reads requests on its standard input, one JSON line
each: {"notebook": name, "text": the notebook, "records": {file name: text}, "seconds": limit}. Each is judged
in a forked child (dlnd.grading.rubric.judge on the records, the drawings scored against the reference file
$DLND_QUALITY_REFERENCE, read once by the server) with its own CPU-time
and wall-clock limits; its answer goes back on DLND_RESULT_FD as one JSON line: {"lines": the judged rubric
lines} or {"failed": why}. A child starts with nothing of the child before it.

Why one server may judge many learners: no learner code runs in it. The records are the learners' data, and a
record crafted to subvert TensorFlow could at worst take over the child judging it, which gives it no more than a
judge of its own would: its own verdict. It cannot reach another submission's: the child holds no descriptor but
its own files (it closes the requests and answers before judging, and the server relays only the answer file the
child wrote, read once the child and whatever it started are dead), the server is not dumpable (no ptrace, no
/proc/PID/mem for a process without capabilities), and the scratch folder, where the child's files are, is
emptied before the next request. Killing the server loses only the request in flight: dlnd.grading.grade starts another.
"""
import argparse
import ctypes
import dataclasses
import json
import os
import resource
import sys
from pathlib import Path

from ..gan.quality import Reference
from .inside import clear_scratch, exit_now, in_child, preload, result_descriptor
from .rubric import judge

PR_SET_DUMPABLE = 4


def judge_request(request, scratch, reference):
    """In the child: judge one request's records; the answer, written to scratch/answer.json (read once the child
    and whatever it started are dead)."""
    if not isinstance(request.get('records'), dict):
        raise ValueError('a request without records')
    lines = judge(json.loads(request['text']), request['records'], reference)
    (Path(scratch) / 'answer.json').write_text(json.dumps({'lines': [dataclasses.asdict(line) for line in lines]}))


def child(request, scratch, cpu_seconds, results_fd, reference):
    """A fresh judge: none of the server's descriptors, its own CPU-time limit."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    devnull = os.open(os.devnull, os.O_RDWR)
    log = os.open(Path(scratch) / 'judge.log', os.O_WRONLY | os.O_CREAT, 0o600)
    for fd, target in ((0, devnull), (1, log), (2, log)):
        os.dup2(target, fd)
    os.close(results_fd)
    judge_request(request, scratch, reference)


def answer(request_line, scratch, alone, results_fd, reference):
    """The answer to one request line, as a dict."""
    try:
        request = json.loads(request_line)
        seconds = float(request['seconds'])
    except (ValueError, TypeError, KeyError) as e:
        return {'failed': f'a request the judge could not read ({type(e).__name__})'}
    ended = in_child(lambda: child(request, scratch, max(1, int(seconds * 2)), results_fd, reference), seconds,
                     alone)
    try:
        if ended.exit == 0:
            return json.loads((Path(scratch) / 'answer.json').read_text())
        if ended.timed_out:
            return {'failed': f'judging took longer than {seconds:.0f} s'}
        log = (Path(scratch) / 'judge.log').read_text(errors='replace').strip().splitlines()
        return {'failed': f'the judge {ended.in_words()}' + (f': {log[-1][:300]}' if log else '')}
    except (OSError, ValueError) as e:
        return {'failed': f'the judge left no answer ({type(e).__name__})'}
    finally:
        clear_scratch(scratch)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--scratch', type=Path, required=True, help='the folder the children write in, emptied '
                        'after each')
    parser.add_argument('--alone', action='store_true', help='this process is alone in its sandbox (its '
                        'own PID namespace or user): every other process it may signal is a child\'s leftover')
    args = parser.parse_args()
    # The first the OOM killer takes, with every child; written while /proc/self is still this process's own.
    Path('/proc/self/oom_score_adj').write_text('1000')
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    os.environ['DLND_FORK_AFTER_IMPORT'] = '1'  # no TensorFlow session before the forks
    preload(('problem_unittests', 'dlnd.checks.replay', 'dlnd.grading.rubric', 'dlnd.gan.quality',
             'matplotlib.figure'))  # what every judgement needs
    reference_path = os.environ.get('DLND_QUALITY_REFERENCE')
    reference = Reference.load(reference_path) if reference_path else None
    results_fd = result_descriptor()
    with open(results_fd, 'w', closefd=False) as results:
        for line in sys.stdin:
            results.write(json.dumps(answer(line, args.scratch, args.alone, results_fd, reference)) + '\n')
            results.flush()
    return 0


if __name__ == '__main__':
    exit_now(main())
