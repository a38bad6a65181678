"""Check one notebook against the review rubric, line by line.

    python -m dlnd review [dlnd_face_generation.ipynb | gan_variants.ipynb] [--no-sandbox]

The notebook is graded as `python -m dlnd grade` grades a class (dlnd.grading.grade): its code runs in a sandbox
under the graded checks, and the record it leaves is judged where no learner code runs, against the rubric
(dlnd.grading.rubric). Exits 1 when a line is not met.
"""
import argparse
import os
import sys

from ..fileio import DataError
from ..notebook import NOTEBOOK
from . import sandbox
from .grade import grade_notebook, refusal


def review(path, isolation=sandbox.BUBBLEWRAP):
    """[GradedLine] for the notebook at `path`: its code run in the sandbox, judged outside it (dlnd.grading.grade)."""
    graded = grade_notebook(path, isolation=isolation, checkpoints_beside=True)
    if graded.refused:
        raise SystemExit(f'{path}: {graded.refused}')
    return graded.lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('notebook', nargs='?', default=str(NOTEBOOK))
    parser.add_argument('--no-sandbox', action='store_true', help="run the notebook's code without the sandbox "
                        '(only for your own notebook, where no sandbox can run)')
    args = parser.parse_args()
    os.environ.setdefault('MPLBACKEND', 'Agg')
    isolation, refused = (sandbox.NONE, None) if args.no_sandbox else refusal()
    if refused:
        print(refused, file=sys.stderr)
        return 2
    try:
        lines = review(args.notebook, isolation)
    except DataError as e:
        print(f'the quality lines need the reference data: {e}', file=sys.stderr)
        return 2
    for line in lines:
        print(f'{"MEETS" if line.met else "DOES NOT MEET":14} {line.line}\n{"":14} {line.reason}')
        for suggestion in line.suggestions:
            print(f'{"":14} suggestion: {suggestion}')
    failed = sum(not line.met for line in lines)
    print(f'\n{len(lines) - failed} of {len(lines)} rubric lines met ({sandbox.describe(isolation)})')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
