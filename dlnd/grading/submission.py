"""A submission as the grader receives it: a notebook, a zip made by `python -m dlnd submit`, or a Gradescope
submission folder; which notebook in it is the learner's, and which rubric grades it. Nothing here runs it.

A submission that cannot be graded is Refused with one line saying why; a zip is checked whole before anything
is read from it (no member outside its folder, no link, no more than a set size). Beside the notebook, the
trained generators it carries (checkpoints/mnist, checkpoints/celeba, gan_variants.ipynb's seven) are copied for the
grader to draw from, with the face-generation notebook whose DCGAN gan_variants.ipynb trains.
"""
import json
import re
import zipfile
from pathlib import Path

from ..fileio import checkpoint_files, unsafe_member
from ..notebook import SAVED_GENERATORS
from .rubric import NOTEBOOK_OF, kind_of, rubric_for

LARGEST_NOTEBOOK = 64 * 2 ** 20
LARGEST_ZIP_MEMBERS, LARGEST_ZIP_TOTAL = 5000, 1 << 30
# checkpoints/<folder>: the trained generators the grader draws from; the notebooks that define some of them
CHECKPOINTS = tuple(g.folder for generators in SAVED_GENERATORS.values() for g in generators)
CHECKPOINT_FILE = re.compile(rf'checkpoints/({"|".join(map(re.escape, CHECKPOINTS))})/([\w.-]{{1,200}})')
COMPANIONS = sorted({g.defined_in for generators in SAVED_GENERATORS.values() for g in generators if g.defined_in})


class Refused(Exception):
    """The submission cannot be graded; the message says why, in one line."""


def collect(paths):
    """[(name, path)] of every submission named on the command line (a folder: each .ipynb or .zip in it)."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in ('.ipynb', '.zip') and not p.is_dir())
        else:
            found.append(path)
    named, used = [], set()
    for path in found:
        base = re.sub(r'[^\w.-]', '_', path.stem)[:100].strip('.') or 'submission'
        name, k = base, 2
        while name in used:
            name, k = f'{base}-{k}', k + 1
        used.add(name)
        named.append((name, path))
    return named


def open_submission(path, into, assignment=None, checkpoints_beside=False):
    """(the notebook of a submission, copied into `into`, with the checkpoints it carries in into/checkpoints; its
    rubric); Refused when it is not one of the course's notebooks, or not the one of `assignment` ('face
    generation' or 'GAN family') when one is given. A notebook's checkpoints are those in the folder beside it,
    when `checkpoints_beside` (one learner's folder, not a class's)."""
    path = Path(path)
    if not path.is_file():
        raise Refused(f'{path.name} is not a file')
    if zipfile.is_zipfile(path):
        name, data = notebook_in_zip(path, into)
    else:
        if path.stat().st_size > LARGEST_NOTEBOOK:
            raise Refused(f'{path.name} is {path.stat().st_size / 2 ** 20:.0f} MB, larger than a notebook can be '
                          f'({LARGEST_NOTEBOOK // 2 ** 20} MB)')
        name, data = path.name, path.read_bytes()
        if checkpoints_beside:
            copy_checkpoints(path.parent, into)
    rubric = check_notebook(name, data)
    if assignment and kind_of(rubric) != assignment:
        raise Refused(f'{Path(name).name} is the {kind_of(rubric)} notebook, but this assignment grades the '
                      f'{assignment} notebook, {NOTEBOOK_OF[assignment]}: submit that one')
    target = Path(into) / (re.sub(r'[^\w.-]', '_', Path(name).name) or 'notebook.ipynb')
    target.write_bytes(data)
    return target, rubric


def copy_checkpoints(folder, into):
    """The newest checkpoint of each of folder/checkpoints/<CHECKPOINTS>, copied into into/checkpoints/, and the
    COMPANIONS notebooks beside the notebook into `into`: regular files inside `folder` (no link leads out of it),
    LARGEST_ZIP_TOTAL in all."""
    folder = Path(folder).resolve()
    files = [(f'checkpoints/{name}/{file.name}', file) for name in CHECKPOINTS
             for file in checkpoint_files(folder / 'checkpoints' / name)
             if CHECKPOINT_FILE.fullmatch(f'checkpoints/{name}/{file.name}')]
    files += [(name, folder / name) for name in COMPANIONS
              if (folder / name).is_file() and (folder / name).stat().st_size <= LARGEST_NOTEBOOK]
    files = [(relative, file) for relative, file in files if file.resolve() == folder / relative and file.is_file()]
    if sum(file.stat().st_size for _, file in files) > LARGEST_ZIP_TOTAL:
        raise Refused(f'the checkpoints beside the notebook are larger than {LARGEST_ZIP_TOTAL // 2 ** 30} GB')
    for relative, file in files:
        target = Path(into) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.read_bytes())


def extract_checkpoints(archive, notebook_name, into):
    """The zip's checkpoints/<CHECKPOINTS>/* and COMPANIONS notebooks beside its notebook, extracted into `into`
    (the zip was checked whole: no member outside its folder, no link, no more than LARGEST_ZIP_TOTAL)."""
    parent = str(Path(notebook_name).parent)
    prefix = '' if parent == '.' else parent + '/'
    for member in archive.infolist():
        relative = member.filename[len(prefix):]
        wanted = CHECKPOINT_FILE.fullmatch(relative) or relative in COMPANIONS and member.file_size <= LARGEST_NOTEBOOK
        if member.filename.startswith(prefix) and not member.is_dir() and wanted:
            target = Path(into) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, 'wb') as out:
                while chunk := source.read(1 << 20):
                    out.write(chunk)


def notebook_in_zip(path, into):
    """(name, bytes) of the notebook a submission zip holds, its checkpoints extracted into `into`; the zip refused
    whole if any member is unsafe."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > LARGEST_ZIP_MEMBERS:
                raise Refused(f'{path.name} holds {len(members)} files, more than {LARGEST_ZIP_MEMBERS}')
            for member in members:
                problem = unsafe_member(member)
                if problem:
                    what = 'a member outside its folder' if problem == 'path' else 'a symbolic link'
                    raise Refused(f'{path.name} has {what} ({member.filename!r}): refused, nothing extracted')
            if sum(m.file_size for m in members) > LARGEST_ZIP_TOTAL:
                raise Refused(f'{path.name} unpacks to more than {LARGEST_ZIP_TOTAL // 2 ** 30} GB')
            notebooks = [m for m in members if m.filename.lower().endswith('.ipynb') and not m.is_dir()]
            chosen = chosen_notebook(notebooks, lambda m: m.filename)
            if chosen is None:
                raise Refused(f'{path.name} holds {"no notebook" if not notebooks else "several notebooks"} '
                              '(expected dlnd_face_generation.ipynb or gan_variants.ipynb)')
            with archive.open(chosen) as member:
                data = member.read(LARGEST_NOTEBOOK + 1)
            if len(data) > LARGEST_NOTEBOOK:
                raise Refused(f'{chosen.filename} in {path.name} is larger than a notebook can be '
                              f'({LARGEST_NOTEBOOK // 2 ** 20} MB)')
            extract_checkpoints(archive, chosen.filename, into)
            return chosen.filename, data
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as e:
        raise Refused(f'{path.name} is not a readable zip: {e}') from None


def chosen_notebook(notebooks, name_of):
    """The submission's notebook among `notebooks`, by its name: gan_variants.ipynb (whose zip also holds the DCGAN
    notebook it reads), else dlnd_face_generation.ipynb, else the only one; None when there is no telling. Jupyter's
    own copies (.ipynb_checkpoints/*-checkpoint.ipynb) are never the learner's notebook."""
    notebooks = [n for n in notebooks if not is_checkpoint_copy(name_of(n))]
    by_name = {Path(name_of(n)).name: n for n in notebooks}
    return by_name.get('gan_variants.ipynb') or by_name.get('dlnd_face_generation.ipynb') or \
        (notebooks[0] if len(notebooks) == 1 else None)


def check_notebook(name, data):
    """The rubric of `data`; Refused unless it is a Jupyter notebook defining one of the rubrics' functions."""
    try:
        nb = json.loads(data.decode('utf-8'))
        if not isinstance(nb, dict) or not isinstance(nb.get('cells'), list) or nb.get('nbformat') != 4:
            raise ValueError('no nbformat-4 cells')
        found = rubric_for(nb)
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as e:
        raise Refused(f'{name} is not a Jupyter notebook ({type(e).__name__}: {str(e).splitlines()[0][:120]})') \
            from None
    if found is None:
        raise Refused(f'{name} is not one of the course\'s notebooks: it defines none of model_inputs, '
                      'discriminator, generator, model_loss, model_opt, fc_discriminator')
    return found


def is_checkpoint_copy(name):
    path = Path(name)
    return '.ipynb_checkpoints' in path.parts or path.stem.endswith('-checkpoint')


def in_folder(folder):
    """The notebook or zip of a submission folder (Gradescope's): the learner's notebook by its name, else the only
    notebook, else the only zip; None when it holds none of them."""
    files = sorted(p for p in Path(folder).rglob('*') if p.is_file() and not p.is_symlink()
                   and p.suffix.lower() in ('.ipynb', '.zip') and not is_checkpoint_copy(p))
    notebooks = [p for p in files if p.suffix.lower() == '.ipynb']
    zips = [p for p in files if p.suffix.lower() == '.zip']
    return chosen_notebook(notebooks, lambda p: str(p.relative_to(folder))) or \
        (zips[0] if not notebooks and len(zips) == 1 else None)
