"""Grading speed: face-generation submissions a minute in each isolation, side by side in one run.

    python bench/bench_grade.py [--copies 3] [--rounds 2] [--workers N] [--styles reference course_style ...]
                                [--isolations bubblewrap user none]

The submissions are real: the reference notebook and the learner solutions of the tests
(tests/learner_solutions.py), each dropped into the reference notebook, `--copies` of each. Each round grades
the whole set once in each isolation, the order turning round by round, with every core in use, each run as
`python -m dlnd grade` in a process of its own: bubblewrap (namespaces, cgroups), user (a user of its own, as in
Gradescope's Docker container: tests/container.py, rlimits) and none (--no-sandbox).
Goals: at least 10 submissions a minute on 2 cores in bubblewrap; each sandbox costing under 20% of none.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / 'tests')]
from dlnd.grading import sandbox  # noqa: E402
from dlnd.notebook import NOTEBOOK, read  # noqa: E402

ISOLATIONS = (sandbox.BUBBLEWRAP, sandbox.USER, sandbox.NONE)


def real_submissions(folder, copies, styles=None):
    from learner_solutions import SOLUTIONS
    from test_review import with_solution
    reference = read(NOTEBOOK)
    notebooks = {'reference': reference, **{style: with_solution(reference, solution)
                                            for style, (solution, _) in SOLUTIONS.items()}}
    for copy in range(copies):
        for name, nb in notebooks.items():
            if not styles or name in styles:
                (Path(folder) / f'{name}-{copy}.ipynb').write_text(json.dumps(nb))
    return len(list(Path(folder).iterdir()))


def grade_command(folder, out, workers, isolation):
    """`python -m dlnd grade` over the folder in `isolation` (user: inside a simulated Docker container)."""
    import container
    command = [sys.executable, '-m', 'dlnd', 'grade', str(folder), '--out', str(out), '--workers', str(workers)]
    if isolation == sandbox.NONE:
        return command + ['--no-sandbox']
    command += ['--isolation', isolation]
    return container.command(command) if isolation == sandbox.USER else command


def per_minute(folder, count, workers, isolation):
    with tempfile.TemporaryDirectory(prefix='bench-graded-') as out:
        start = time.monotonic()
        run = subprocess.run(grade_command(folder, out, workers, isolation), cwd=ROOT, capture_output=True,
                             text=True)
        seconds = time.monotonic() - start
        if run.returncode != 0:
            raise SystemExit(f'{isolation}: the grader failed: {run.stderr[-2000:]}')
        rows = [json.loads(p.read_text()) for p in Path(out).glob('*/results.json')]
    failed = [r['output'].splitlines()[0] for r in rows if r['score'] < len(r['tests'])]
    if len(rows) != count or failed:
        raise SystemExit(f'{isolation}: these real submissions did not pass every line: {failed}')
    return count / seconds * 60


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--copies', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--styles', nargs='*', help='only these: reference and the learner solutions\' names')
    parser.add_argument('--isolations', nargs='*', choices=ISOLATIONS, default=list(ISOLATIONS))
    args = parser.parse_args()
    for isolation in set(args.isolations) - {sandbox.NONE, sandbox.USER}:
        if sandbox.unavailable(isolation):
            raise SystemExit(f'{isolation}: {sandbox.unavailable(isolation)}')
    from dlnd.tf_setup import cpu_class
    with tempfile.TemporaryDirectory(prefix='bench-submissions-') as folder:
        Path(folder).chmod(0o755)  # a user of its own reads its submission from here
        count = real_submissions(folder, args.copies, args.styles)
        print(f'{count} real face-generation submissions, {args.workers} workers, {os.cpu_count()} cores, '
              f'CPU class {cpu_class()}')
        rates = {isolation: [] for isolation in args.isolations}
        for round_ in range(args.rounds):
            turn = round_ % len(args.isolations)
            for isolation in args.isolations[turn:] + args.isolations[:turn]:
                rates[isolation].append(per_minute(folder, count, args.workers, isolation))
                print(f'  round {round_ + 1}, {isolation}: {rates[isolation][-1]:.1f} a minute', flush=True)
    mean = {isolation: sum(found) / len(found) for isolation, found in rates.items()}
    print(', '.join(f'{isolation} {rate:.1f} a minute' for isolation, rate in mean.items()))
    if sandbox.NONE in mean:
        for isolation in set(mean) - {sandbox.NONE}:
            print(f'{isolation} against none: {mean[isolation] / mean[sandbox.NONE]:.2f}x '
                  f'(costs {(1 - mean[isolation] / mean[sandbox.NONE]) * 100:.0f}%, goal under 20%)')


if __name__ == '__main__':
    main()
