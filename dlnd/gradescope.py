"""A Gradescope autograder made from this project's code: `python -m dlnd.grade --gradescope-bundle autograder.zip`.

Gradescope unpacks the zip into /autograder/source, runs setup.sh once to build its image, then, in a fresh
container for each submission, run_autograder: the submission lies in /autograder/submission, the results go
to /autograder/results/results.json. AUTOGRADER_ROOT moves that tree (for tests). Inside Gradescope's
container the learner's code still runs in the sandbox where bubblewrap works there, and the verdict is still
judged in a process of its own; where it does not, the container is the sandbox, and results.json says so.
"""
import json
import os
import stat
import zipfile
from pathlib import Path

from . import sandbox
from .fileio import atomic_path
from .notebook import ROOT

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, to build the autograder's image.
set -euo pipefail
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap python3 python3-pip
cd /autograder/source
python3 -m pip install --quiet -r requirements.txt -c constraints.txt ||
    python3 -m pip install --quiet --break-system-packages -r requirements.txt -c constraints.txt  # Ubuntu 24.04
"""
RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission, in a fresh container.
root="${AUTOGRADER_ROOT:-/autograder}"
cd "$root/source" && exec "${PYTHON:-python3}" -m dlnd.grade --gradescope "$root"
"""
SOURCES = ['helper.py', 'problem_unittests.py', 'requirements.txt', 'constraints.txt']


def bundle(path):
    """Write the autograder zip: setup.sh, run_autograder and the project's code."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, text in (('setup.sh', SETUP), ('run_autograder', RUN)):
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            archive.writestr(info, text)
        for name in SOURCES + [f'dlnd/{p.name}' for p in sorted((ROOT / 'dlnd').glob('*.py'))]:
            archive.write(ROOT / name, name)
    return Path(path)


def submitted(folder):
    """The notebook or zip of a Gradescope submission folder (None when it holds neither)."""
    from .grade import chosen_notebook
    found = sorted(p for p in Path(folder).rglob('*') if p.is_file() and p.suffix.lower() in ('.ipynb', '.zip'))
    notebooks = [p for p in found if p.suffix.lower() == '.ipynb']
    return chosen_notebook(notebooks, lambda p: p.name) or next(iter(notebooks), None) or next(iter(found), None)


def run(root, limits, sandboxed, check_seconds):
    """Grade /autograder/submission into /autograder/results/results.json (0: results written)."""
    from .grade import grade_notebook, results_json
    root = Path(root)
    reason = sandbox.unavailable() if sandboxed else None
    sandboxed, note = (False, f'run in the container itself: {reason}') if reason else (sandboxed, None)
    source = submitted(root / 'submission')
    if source is None:
        graded = {'refused': 'the submission holds no notebook (dlnd_face_generation.ipynb or gan_variants.ipynb) '
                             'and no zip made by python -m dlnd.submit'}
    else:
        graded = grade_notebook(source, limits, sandboxed, check_seconds)
        if note and not graded['refused']:
            graded['problems'].append(note)
    results = results_json(graded)
    (root / 'results').mkdir(parents=True, exist_ok=True)
    with atomic_path(root / 'results' / 'results.json') as tmp:
        tmp.write_text(json.dumps(results, indent=1))
    os.chmod(root / 'results' / 'results.json', 0o644)
    return 0
