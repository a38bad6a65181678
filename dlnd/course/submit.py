"""Build the zip a reviewer expects, refusing a notebook that has not been run to the end.

    python -m dlnd submit [dlnd_face_generation.ipynb | gan_variants.ipynb] [-o submission.zip]

The zip holds the executed notebook, its HTML export, any notebook its code reads (gan_variants.ipynb
reads the face-generation notebook's DCGAN), the trained generators its training saved (checkpoints/mnist and
checkpoints/celeba; gan_variants.ipynb's seven: the grader judges the digits, faces and flowers by what they
draw), helper.py, problem_unittests.py and the dlnd package they import.
"""
import argparse
import re
import sys
import zipfile
from pathlib import Path

from ..fileio import atomic_path, checkpoint_files
from ..notebook import (
    NOTEBOOK,
    ROOT,
    SAVED_GENERATORS,
    code_cells,
    completeness_problems,
    notebook_kind,
    package_files,
    read,
    unit_test_problems,
)


def html_export(notebook_path):
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter().from_filename(str(notebook_path))
    return body


def build(notebook_path, output):
    """Write the submission zip, or raise SystemExit saying why the notebook is not ready."""
    notebook_path = Path(notebook_path)
    nb = read(notebook_path)
    saved = SAVED_GENERATORS.get(notebook_kind(nb), ())
    checkpoints = {g: checkpoint_files(notebook_path.parent / 'checkpoints' / g.folder) for g in saved}
    problems = completeness_problems(nb) + unit_test_problems(nb) + [
        f'checkpoints/{g.folder} holds no checkpoint: run the training cell that saves there ({g.saved_by})'
        for g, files in checkpoints.items() if not files]
    if problems:
        raise SystemExit(f'{notebook_path} is not ready to submit:\n' + '\n'.join(f'  - {p}' for p in problems))
    with atomic_path(output) as tmp, zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as archive:
        archive.write(notebook_path, notebook_path.name)
        archive.writestr(notebook_path.with_suffix('.html').name, html_export(notebook_path))
        for companion in companion_notebooks(nb, notebook_path.parent):
            archive.write(companion, companion.name)
        for g, files in checkpoints.items():
            for file in files:
                archive.write(file, f'checkpoints/{g.folder}/{file.name}')
        for name in package_files():
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
