"""Set up a notebook kernel that was handed the notebook alone (Colab, Kaggle, an empty folder).

The notebooks' first cell fetches the project's files (helper.py, problem_unittests.py, dlnd/) when they are
not beside the notebook, then calls set_up(), which installs with pip only the packages the notebooks need
and the kernel lacks. It never replaces an installed package: pip runs with every installed distribution
pinned as a constraint, so the kernel's own TensorFlow, numpy and Jupyter (and the CUDA libraries built for
them) stay as they are. The supported ranges come from requirements.txt; a TensorFlow outside them is
reported with the command that would fix it, not replaced.

    python -m dlnd hosted          # what set_up() would install here, installing nothing
"""
import importlib.metadata
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / 'requirements.txt'
# What the notebooks import, by distribution name (the rest of requirements.txt runs notebooks headless and the
# tests). simplejpeg is optional: without it JPEGs decode with Pillow.
NOTEBOOK_PACKAGES = ('tensorflow', 'tf-keras', 'numpy', 'scipy', 'pillow', 'tqdm', 'matplotlib', 'ipywidgets')
# tensorflow-cpu, the CUDA build's tensorflow[and-cuda] extras and the like all install as one of these names.
TENSORFLOW_NAMES = ('tensorflow', 'tensorflow-cpu', 'tensorflow-intel', 'tf-nightly')
PROJECT_FILES = ('helper.py', 'problem_unittests.py', 'dlnd', 'requirements.txt')
# Where the notebooks are published: their setup cell fetches the project from it, their badges open them from it.
# python -m dlnd release --repository OWNER/NAME writes another into the notebooks it releases.
PUBLISHED_REPOSITORY = 'dlnd-course/face-generation'
FACE_NOTEBOOK = 'dlnd_face_generation.ipynb'  # gan_variants.ipynb's part 4 trains the DCGAN defined in it
SETUP_CELL = '''\
# Set-up. In a checkout of the project this only says so. Opened alone (Colab, Kaggle, an empty folder), it
# fetches the project's files from DLND_PROJECT_SOURCE (a git URL or a local folder; by default the repository
# this notebook was published from) and installs with pip only the packages that are missing, replacing none.
import os
import pathlib
import shutil
import subprocess
import tempfile

PROJECT_SOURCE = os.environ.get('DLND_PROJECT_SOURCE', '{source}')
PROJECT_FILES = {files!r}


def fetch_project(source, names, here=pathlib.Path.cwd()):
    """Copy the named files here from a folder that has them, else from a shallow git clone; all or none."""
    with tempfile.TemporaryDirectory(dir=here) as scratch:
        folder = pathlib.Path(source).expanduser()
        if not (folder / names[0]).exists():  # not a folder of the project's files: a repository to clone
            folder = pathlib.Path(scratch, 'clone')
            command = ['git', 'clone', '--quiet', '--depth', '1', source, str(folder)]
            try:
                subprocess.run(command, check=True, capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, GIT_TERMINAL_PROMPT='0'))
            except (OSError, subprocess.SubprocessError) as e:
                why = (getattr(e, 'stderr', None) or str(e)).strip().splitlines()[-1:]
                raise RuntimeError(f'Could not fetch the project from {{source}} ({{" ".join(why)}}). '
                                   f'Without internet, put {{", ".join(names)}} beside this notebook, or set '
                                   'DLND_PROJECT_SOURCE to a folder that has them, then run this cell again.') from None
        missing = [name for name in names if not (folder / name).exists()]
        if missing:
            raise RuntimeError(f'{{source}} is not this project: it has no {{", ".join(missing)}}')
        staged = pathlib.Path(scratch, 'staged')
        staged.mkdir()
        for name in names:
            if (folder / name).is_dir():
                shutil.copytree(folder / name, staged / name, ignore=shutil.ignore_patterns('__pycache__'))
            else:
                shutil.copy2(folder / name, staged / name)
        for name in names:
            os.replace(staged / name, here / name)


fetched = [name for name in PROJECT_FILES if not pathlib.Path(name).exists()]
if fetched:
    fetch_project(PROJECT_SOURCE, fetched)
import dlnd.hosted  # noqa: E402

dlnd.hosted.set_up(PROJECT_SOURCE if fetched else None, fetched)
'''


def setup_cell(notebook_name, repository=PUBLISHED_REPOSITORY):
    """The first code cell of a notebook: fetch the project where it is missing, then set_up()."""
    files = PROJECT_FILES + ((FACE_NOTEBOOK,) if notebook_name != FACE_NOTEBOOK else ())
    return SETUP_CELL.format(source=f'https://github.com/{repository}.git', files=list(files))


def is_checkout(folder=ROOT):
    """A checkout (git clone or archive of the repository) has its Makefile; a fetched copy does not."""
    return (Path(folder) / 'Makefile').is_file() and (Path(folder) / 'tests').is_dir()


def release(version):
    """The numeric release of a version string, as a tuple: '2.20.0rc1' -> (2, 20, 0)."""
    match = re.match(r'\d+(\.\d+)*', version)
    return tuple(int(part) for part in match.group().split('.')) if match else ()


def read_ranges(requirements=REQUIREMENTS):
    """{name: [(operator, version tuple), ...]} from requirements.txt's lines such as `numpy>=1.26,<3`."""
    ranges = {}
    for line in Path(requirements).read_text().splitlines():
        line = line.split('#', 1)[0].strip()
        match = re.match(r'([A-Za-z0-9_.-]+)\s*(.*)', line)
        if match:
            bounds = [re.match(r'(>=|<|==|<=|>)\s*([\d.]+)', part.strip()).groups()
                      for part in match.group(2).split(',') if part.strip()]
            ranges[canonical(match.group(1))] = [(op, release(v)) for op, v in bounds]
    return ranges


def canonical(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def in_range(version, bounds):
    """Whether a version meets every bound; `<2.22` means below 2.22 whatever the patch level."""
    got = release(version)
    checks = {'>=': lambda want: got >= want, '>': lambda want: got > want, '==': lambda want: got == want,
              '<': lambda want: got[:len(want)] < want, '<=': lambda want: got[:len(want)] <= want}
    return all(checks[op](want) for op, want in bounds)


def spec(name, bounds):
    return name + ','.join(f'{op}{".".join(map(str, want))}' for op, want in bounds)


def installed_versions():
    """{canonical name: version} of every distribution this Python has."""
    versions = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata['Name']
        if name:
            versions.setdefault(canonical(name), dist.version)
    return versions


def plan(installed, ranges):
    """(pip requirements to install, problems to report): only what is missing, nothing replaced."""
    tensorflow = next((installed[name] for name in TENSORFLOW_NAMES if name in installed), None)
    wanted_tf = ranges['tensorflow']
    if tensorflow is not None and not in_range(tensorflow, wanted_tf):
        return [], [f'TensorFlow {tensorflow} is outside the supported {spec("", wanted_tf)}, so nothing was '
                    'installed. To use a supported one, run '
                    f'`pip install "{spec("tensorflow", wanted_tf)}" "{spec("tf-keras", ranges["tf-keras"])}"` '
                    'and restart the kernel']
    to_install, problems = [], []
    for name in NOTEBOOK_PACKAGES:
        version = tensorflow if name == 'tensorflow' else installed.get(name)
        if name == 'tf-keras' and tensorflow is not None:
            series = '.'.join(tensorflow.split('.')[:2])  # tf-keras X.Y requires TensorFlow X.Y
            if version is None:
                to_install.append(f'tf-keras=={series}.*')
            elif version.split('.')[:2] != series.split('.'):
                problems.append(f'tf-keras {version} does not match TensorFlow {tensorflow}: run '
                                f'`pip install "tf-keras=={series}.*"` and restart the kernel')
        elif version is None:
            to_install.append(spec(name, ranges[name]))
        elif not in_range(version, ranges[name]):
            problems.append(f'{name} {version} is outside the tested {spec("", ranges[name])} (kept as it is)')
    return to_install, problems


def pip_install(requirements, installed):
    """pip install the requirements with every installed distribution pinned, so none can be replaced."""
    with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as pins:
        pins.write(''.join(f'{name}=={version}\n' for name, version in sorted(installed.items())
                           if re.fullmatch(r'[\w.!+-]+', version)))
    command = [sys.executable, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input',
               '-c', pins.name, *requirements]
    result = subprocess.run(command, capture_output=True, text=True)
    Path(pins.name).unlink()
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines()
        tail = ' '.join([line for line in said if line.startswith('ERROR:')][:2] or said[-2:])
        raise RuntimeError(f'pip could not install {", ".join(requirements)} with every installed package kept as it '
                           f'is (pip said: {tail}). Nothing was replaced. Offline? Install them by hand, then run '
                           'this cell again.')


def set_up(fetched_from=None, fetched=()):
    """Install what the notebooks need and the kernel lacks, and print one line saying what was done."""
    if is_checkout():
        print('Set-up: this is a checkout of the project; `make install` (README) installs its packages.')
        return
    installed = installed_versions()
    to_install, problems = plan(installed, read_ranges())
    if to_install:
        pip_install(to_install, installed)
    if FACE_NOTEBOOK in fetched:
        problems.append(f'{FACE_NOTEBOOK} was not here, so the project\'s copy was fetched: part 4 trains the DCGAN it '
                        'defines; put your own finished one here instead to train yours')
    files = f'fetched the project from {fetched_from}' if fetched_from else 'the project\'s files are here'
    done = f'installed {", ".join(to_install)}' if to_install else 'installed nothing'
    tensorflow = next((installed[name] for name in TENSORFLOW_NAMES if name in installed), None)
    kept = f' (TensorFlow {tensorflow} and every other package kept as they were)' if tensorflow else ''
    print(f'Set-up: {files}; {done}{kept}.' + ''.join(f' Note: {problem}.' for problem in problems))


def main():
    to_install, problems = plan(installed_versions(), read_ranges())
    print('would install:', ' '.join(to_install) or 'nothing')
    for problem in problems:
        print('note:', problem)


if __name__ == '__main__':
    main()
