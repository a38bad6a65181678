"""The grader as a Gradescope autograder.

    python -m dlnd gradescope bundle autograder.zip [--assignment face-generation|gan-family] [--points FILE]
                                                    [--timeout S] [--memory GIB]
    python -m dlnd gradescope run /autograder     (what run_autograder does, for each submission)

Gradescope unpacks the zip into /autograder/source and runs setup.sh once to build its image (Ubuntu 22.04 with
Python 3.10, or 24.04 with 3.12); then, in a fresh container for each submission, it runs run_autograder as root:
the submission lies in /autograder/submission, the results go to /autograder/results/results.json.
AUTOGRADER_ROOT moves that tree (for tests).

Gradescope's containers keep Docker's defaults: no namespace can be made, so bubblewrap cannot start, and
/sys/fs/cgroup is read-only. The learner's code then runs as a user of its own (dlnd.grading.sandbox, USER),
which cannot write the source, the submission or the results, nor reach the network, and whose every process is
gone before the judge, another user of its own, reads its record. The results say which isolation graded them.
If no isolation can run, nothing of the learner's runs: results.json says so. Every run writes a results.json,
a partial one when the grader itself fails.
"""
import argparse
import json
import os
import stat
import sys
import traceback
import zipfile
from pathlib import Path

from ..fileio import atomic_path
from ..notebook import ROOT, package_files
from . import sandbox
from .cgroups import memory_allowed
from .grade import add_limit_options, grade_notebook, limits_from, quality_reference, refusal
from .results import Graded, Points, results_json, write_json
from .submission import in_folder

ASSIGNMENTS = {'face-generation': 'face generation', 'gan-family': 'GAN family'}
CONFIG = 'autograder.json'  # in the bundle: the assignment, its points and limits, as `bundle` was told
# Gradescope's defaults: 10 minutes a submission. The grader's own limit leaves room for the container's start-up.
TIMEOUT, MEMORY = 420, 3
# The reference and its generators peak at 0.83 GB, a real solution at 0.94 GB (docs/experiments.md)
MEMORY_NEEDED = 2 ** 30

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, to build the autograder's image (Ubuntu 22.04 or 24.04).
# PYTHON: install into that Python (a virtual environment, say) instead of the system's.
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
if [ -z "${PYTHON:-}" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap libseccomp2 python3 python3-pip
fi
python="${PYTHON:-python3}"
cd "$root/source"
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
constraints=constraints-py$version.txt  # the exact versions for this Python, where they differ
[ -f "$constraints" ] || constraints=constraints.txt
"$python" -m pip install --quiet -r requirements.txt -c "$constraints" ||
    "$python" -m pip install --quiet --break-system-packages -r requirements.txt -c "$constraints"  # 24.04
# The learner's code runs as a user of its own: the grader's code must be root's alone.
chown -R root:root "$root/source"
chmod -R go-w,a+rX "$root/source"
"""
RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission, as root, in a fresh container.
root="${AUTOGRADER_ROOT:-/autograder}"
chmod -R go-w,a+rX "$root/source"
chmod -R go-w "$root/submission" 2>/dev/null || true  # graded from a copy, but kept as received all the same
mkdir -p "$root/results" && chown root:root "$root/results" && chmod 755 "$root/results"
cd "$root/source" && "${PYTHON:-python3}" -m dlnd gradescope run "$root"
status=$?
if [ ! -s "$root/results/results.json" ]; then  # the grader could not even start: still a result
    why="The autograder failed before it could grade (exit status $status): ask your course staff."
    printf '{"score": 0, "output": "%s", "tests": []}\\n' "$why" > "$root/results/results.json"
fi
"""
SOURCES = ['requirements.txt', 'constraints.txt', 'constraints-py3.10.txt']
REFERENCE = 'quality_reference.npz'  # in the bundle: the real data drawings are scored against


def bundle(path, config):
    """Write the autograder zip: setup.sh, run_autograder, the assignment's settings, the project's code and the
    reference data."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, text in (('setup.sh', SETUP), ('run_autograder', RUN)):
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            archive.writestr(info, text)
        archive.writestr(CONFIG, json.dumps(config, indent=1))
        for name in SOURCES + package_files():
            archive.write(ROOT / name, name)
        archive.write(quality_reference(), REFERENCE)
    return Path(path)


def run(root, argv=()):
    """Grade ROOT/submission into ROOT/results/results.json, with the settings the bundle was made with (0: results
    written)."""
    root = Path(root)
    results = root / 'results' / 'results.json'
    try:
        args, points = settings(ROOT / CONFIG, argv)
        os.environ['DLND_QUALITY_REFERENCE'] = str(ROOT / REFERENCE)  # the bundle's own, whatever the host says
        graded = grade_submission(root / 'submission', args)
        write_json(results, results_json(graded, points))
    except BaseException as e:  # the grader's own failure: a partial result, and the log for the staff
        traceback.print_exc()
        why = f'the autograder failed ({type(e).__name__}: {str(e)[:300]}); ask your course staff to look at its log'
        write_json(results, results_json(Graded(refused=why)))
    return 0


def grade_submission(folder, args):
    """The submission in `folder`, Graded in the strongest isolation this container allows (never none)."""
    isolation, why_not = refusal(args.isolation)
    if why_not:
        return Graded(refused=f'not graded: {why_not}; the course staff must rebuild the autograder (setup.sh)')
    source = in_folder(folder)
    if source is None:
        return Graded(refused='the submission holds no notebook (dlnd_face_generation.ipynb or gan_variants.ipynb) '
                              'and no zip made by python -m dlnd submit', isolation=sandbox.describe(isolation))
    memory = memory_allowed()
    if memory is not None and memory < MEMORY_NEEDED:
        return Graded(refused=f'not graded: this autograder has {memory / 2 ** 30:.2f} GB of memory and judging the '
                              'images your generators draw needs 1 GB; the course staff must choose 1.5 GB '
                              "or more in the assignment's autograder settings", isolation=sandbox.describe(isolation))
    print(f'grading {source.relative_to(folder)} ({sandbox.describe(isolation)})', file=sys.stderr)
    return grade_notebook(source, limits_from(args), isolation, args.check_timeout,
                          assignment=ASSIGNMENTS[args.assignment], checkpoints_beside=True)


def settings(config_path, argv=()):
    """(the options, Points): the bundle's settings, then any given on the command line."""
    config = json.loads(Path(config_path).read_text()) if Path(config_path).exists() else {}
    args = parser().parse_args([*config.get('argv', []), *argv])
    points = Points(**config['points']) if 'points' in config else Points()
    return args, points


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--assignment', choices=ASSIGNMENTS, default='face-generation', help="the notebook it grades; "
                   'the other is refused with a line saying which to submit')
    add_limit_options(p, timeout=TIMEOUT, memory=MEMORY)
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ['run'] and len(argv) >= 2:
        return run(argv[1], argv[2:])
    if argv[:1] != ['bundle'] or len(argv) < 2:
        print('usage: python -m dlnd gradescope bundle ZIP [options] | run ROOT  (--help for the options)',
              file=sys.stderr)
        return 0 if argv[:1] in (['-h'], ['--help']) else 2
    path, options = argv[1], argv[2:]
    args = parser().parse_args(options)
    try:
        points = Points.load(args.points) if args.points else Points()
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    options = [o for o in _without_points(options)]
    config = {'argv': options, 'points': {'total': points.total, 'weights': points.weights}}
    print(f'wrote {bundle(path, config)}: the {ASSIGNMENTS[args.assignment]} notebook, {args.timeout:.0f} s and '
          f'{args.memory:g} GiB a submission')
    return 0


def _without_points(options):
    """The bundle's options less --points FILE (the points travel in the bundle's settings, not as a path)."""
    skip = False
    for option in options:
        if skip:
            skip = False
        elif option == '--points':
            skip = True
        elif not option.startswith('--points='):
            yield option


if __name__ == '__main__':
    sys.exit(main())
