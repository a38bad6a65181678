"""Build the zip a reviewer expects, refusing a notebook that has not been run to the end.

    python -m dlnd.submit [dlnd_face_generation.ipynb | gan_variants.ipynb] [-o submission.zip]

The zip holds the executed notebook, its HTML export, any notebook its code reads (gan_variants.ipynb
reads the face-generation notebook's DCGAN), helper.py, problem_unittests.py and the dlnd package they
import.
"""
import argparse
import re
import sys
import zipfile
from pathlib import Path

from .fileio import atomic_path
from .notebook import NOTEBOOK, code_cells, read

ROOT = Path(__file__).resolve().parent.parent
SUPPORT_FILES = ['helper.py', 'problem_unittests.py'] + [f'dlnd/{p.name}' for p in sorted((ROOT / 'dlnd').glob('*.py'))]


def unit_test_cells(nb):
    return [(k, cell) for k, cell in enumerate(code_cells(nb)) if 'tests.test_' in cell['source']]


def stdout_of(cell):
    return ''.join(''.join(o.get('text', '')) for o in cell.get('outputs', []) if o.get('name') == 'stdout')


def images_in(cell):
    """How many images (PNG or JPEG) the cell's outputs show."""
    return sum(any(kind in o.get('data', {}) for kind in ('image/png', 'image/jpeg')) for o in cell.get('outputs', []))


def error_names(cell):
    """The exception names of the cell's error outputs."""
    return [o['ename'] for o in cell.get('outputs', []) if o['output_type'] == 'error']


def unit_test_problems(nb):
    """Why the unit-test cells did not all pass (empty when they did)."""
    problems = []
    for k, cell in unit_test_cells(nb):
        errors = error_names(cell)
        if errors:
            problems.append(f'the unit test in code cell {k + 1} failed ({errors[0]})')
        elif 'Tests Passed' not in stdout_of(cell):
            problems.append(f'the unit test in code cell {k + 1} has not passed (was it run?)')
    return problems


def completeness_problems(nb):
    """Why the notebook does not count as run top to bottom (empty when it does)."""
    cells = [(k, cell) for k, cell in enumerate(code_cells(nb)) if cell['source'].strip()]  # numbered as shown
    unrun = [k + 1 for k, cell in cells if cell.get('execution_count') is None]
    if unrun:
        return [f'{len(unrun)} code cells were not run (the first is code cell {unrun[0]}); run all cells in order']
    counts = [cell['execution_count'] for _, cell in cells]
    problems = [] if counts == sorted(counts) else ['the cells were not run in order; restart and run all']
    for k, cell in cells:
        errors = error_names(cell)
        if errors:
            problems.append(f'code cell {k + 1} ended with an error ({errors[0]})')
    return problems


def html_export(notebook_path):
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter().from_filename(str(notebook_path))
    return body


def build(notebook_path, output):
    """Write the submission zip, or raise SystemExit saying why the notebook is not ready."""
    notebook_path = Path(notebook_path)
    nb = read(notebook_path)
    problems = completeness_problems(nb) + unit_test_problems(nb)
    if problems:
        raise SystemExit(f'{notebook_path} is not ready to submit:\n' + '\n'.join(f'  - {p}' for p in problems))
    with atomic_path(output) as tmp, zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as archive:
        archive.write(notebook_path, notebook_path.name)
        archive.writestr(notebook_path.with_suffix('.html').name, html_export(notebook_path))
        for companion in companion_notebooks(nb, notebook_path.parent):
            archive.write(companion, companion.name)
        for name in SUPPORT_FILES:
            archive.write(ROOT / name, name)
    return Path(output)


def companion_notebooks(nb, folder):
    """The other notebooks the code cells read (gan_variants.ipynb loads the DCGAN of the face-generation one)."""
    named = {name for cell in code_cells(nb) for name in re.findall(r"['\"]([\w.-]+\.ipynb)['\"]", cell['source'])}
    return [folder / name for name in sorted(named) if (folder / name).is_file()]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('notebook', nargs='?', default=str(NOTEBOOK))
    parser.add_argument('-o', '--output', default='submission.zip')
    args = parser.parse_args()
    path = build(args.notebook, args.output)
    print(f'wrote {path} ({path.stat().st_size / 1e6:.1f} MB)')


if __name__ == '__main__':
    sys.exit(main())
