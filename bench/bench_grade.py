"""Grading speed: face-generation submissions a minute, sandboxed against not sandboxed, side by side in one run.

    python bench/bench_grade.py [--copies 3] [--rounds 2] [--workers N] [--styles reference course_style ...]

The submissions are real: the reference notebook and the learner solutions of the tests
(tests/learner_solutions.py), each dropped into the reference notebook, `--copies` of each. Each round grades
the whole set once sandboxed and once with --no-sandbox, in alternating order, with every core in use.
Goals: at least 10 submissions a minute on 2 cores, sandboxed, and the sandbox costing under 20%.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / 'tests')]
from dlnd import grade  # noqa: E402
from dlnd.notebook import NOTEBOOK, read  # noqa: E402


def real_submissions(folder, copies, styles=None):
    from learner_solutions import SOLUTIONS
    from test_review import with_solution
    reference = read(NOTEBOOK)
    notebooks = {'reference': reference, **{style: with_solution(reference, solution)
                                            for style, (solution, _) in SOLUTIONS.items()}}
    paths = []
    for copy in range(copies):
        for name, nb in notebooks.items():
            if styles and name not in styles:
                continue
            path = Path(folder) / f'{name}-{copy}.ipynb'
            path.write_text(json.dumps(nb))
            paths.append((path.stem, path))
    return paths


def per_minute(submissions, workers, sandboxed):
    with tempfile.TemporaryDirectory() as out:
        start = time.monotonic()
        rows = grade.grade_all(submissions, out, workers, grade.sandbox.Limits(), sandboxed, progress=False)
        seconds = time.monotonic() - start
    failed = [name for name, results in rows if results['score'] < len(results['tests'])]
    if failed:
        raise SystemExit(f'these real submissions did not pass every line: {failed}')
    return len(rows) / seconds * 60


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--copies', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--styles', nargs='*', help='only these: reference and the learner solutions\' names')
    args = parser.parse_args()
    refused = grade.refusal()
    if refused:
        raise SystemExit(refused)
    from dlnd.tf_setup import cpu_class
    with tempfile.TemporaryDirectory() as folder:
        submissions = real_submissions(folder, args.copies, args.styles)
        print(f'{len(submissions)} real face-generation submissions, {args.workers} workers, {os.cpu_count()} cores, '
              f'CPU class {cpu_class()}')
        rates = {True: [], False: []}
        for round_ in range(args.rounds):
            for sandboxed in ((True, False) if round_ % 2 == 0 else (False, True)):
                rates[sandboxed].append(per_minute(submissions, args.workers, sandboxed))
                print(f'  round {round_ + 1}, {"sandboxed" if sandboxed else "no sandbox"}: '
                      f'{rates[sandboxed][-1]:.1f} a minute', flush=True)
    boxed, plain = (sum(rates[k]) / len(rates[k]) for k in (True, False))
    print(f'sandboxed {boxed:.1f} a minute (goal 10), not sandboxed {plain:.1f}; the sandbox costs '
          f'{(1 - boxed / plain) * 100:.0f}% (goal under 20%)')


if __name__ == '__main__':
    main()
