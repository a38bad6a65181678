"""The notebooks opened alone, as on Colab or Kaggle: the setup cell fetches the project and installs only what is
missing, replacing nothing. (tests/compat.py runs whole notebooks that way on several sets of packages.)"""
import os
import shutil
import subprocess
import sys

import pytest

from compat import RUNTIMES
from conftest import ROOT
from dlnd import hosted
from dlnd.notebook import NOTEBOOK, VARIANTS_NOTEBOOK, code_cells


def pinned(constraints=ROOT / 'constraints.txt'):
    lines = [line.split('#')[0].strip() for line in constraints.read_text().splitlines()]
    return dict(line.split('==') for line in lines if line)


def installed_as(runtime):
    return {hosted.canonical(name): version for name, version in (pin.split('==') for pin in RUNTIMES[runtime])}


def test_the_ranges_hold_every_pinned_version_and_name_every_package_the_notebooks_need():
    ranges = hosted.read_ranges()
    assert set(hosted.NOTEBOOK_PACKAGES) <= set(ranges)
    outside = {name: version for name, version in pinned().items() if not hosted.in_range(version, ranges[name])}
    assert outside == {}
    assert set(pinned()) == set(ranges)  # every requirement has the exact version of the stored runs


@pytest.mark.parametrize('version, inside', [('2.16.0', True), ('2.21.3', True), ('2.20.0rc1', True),
                                             ('2.15.1', False), ('2.22.0', False), ('3.0', False)])
def test_the_tensorflow_range_is_2_16_to_2_21(version, inside):
    assert hosted.in_range(version, hosted.read_ranges()['tensorflow']) is inside


@pytest.mark.parametrize('runtime', ['colab', 'newest'])
def test_a_kernel_with_everything_gets_nothing_installed(runtime):
    assert hosted.plan(installed_as(runtime), hosted.read_ranges()) == ([], [])


def test_what_is_missing_is_installed_and_tf_keras_matches_the_installed_tensorflow():
    to_install, problems = hosted.plan(installed_as('tf2.16'), hosted.read_ranges())
    assert to_install == ['tf-keras==2.16.*', 'tqdm>=4.66,<5'] and problems == []


def test_a_tensorflow_outside_the_range_is_reported_with_the_command_not_replaced():
    installed = dict(installed_as('colab'), tensorflow='2.15.1', **{'tf-keras': '2.15.0'})
    to_install, [problem] = hosted.plan(installed, hosted.read_ranges())
    assert to_install == []
    assert problem.startswith('TensorFlow 2.15.1 is outside the supported >=2.16,<2.22')
    assert 'pip install "tensorflow>=2.16,<2.22" "tf-keras>=2.16,<2.22"' in problem


def test_a_tf_keras_of_another_series_is_reported_not_replaced():
    installed = dict(installed_as('colab'), **{'tf-keras': '2.19.0'})
    to_install, [problem] = hosted.plan(installed, hosted.read_ranges())
    assert to_install == [] and 'tf-keras 2.19.0 does not match TensorFlow 2.20.0' in problem
    assert 'pip install "tf-keras==2.20.*"' in problem


@pytest.mark.parametrize('notebook', [NOTEBOOK, VARIANTS_NOTEBOOK], ids=lambda path: path.name)
def test_each_notebook_opens_with_the_setup_cell(notebook):
    first = code_cells(notebook)[0]
    assert first['source'] == hosted.setup_cell(notebook.name).rstrip('\n')
    assert ''.join(first['outputs'][0]['text']).startswith('Set-up: this is a checkout of the project;')


def run_setup_cell(folder, source, notebook=NOTEBOOK.name):
    """The notebook's setup cell, run as a kernel would in `folder`, with nothing of this checkout on its path."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(('PYTHON', 'DLND_'))}
    env['DLND_PROJECT_SOURCE'] = str(source)
    return subprocess.run([sys.executable, '-c', hosted.setup_cell(notebook)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def test_alone_in_an_empty_folder_it_fetches_the_project_from_a_folder_and_installs_nothing_here(tmp_path):
    result = run_setup_cell(tmp_path, ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f'Set-up: fetched the project from {ROOT}; installed nothing (TensorFlow {pinned()["tensorflow"]} and every '
        'other package kept as they were).']
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(hosted.PROJECT_FILES)
    assert (tmp_path / 'dlnd' / 'hosted.py').read_bytes() == (ROOT / 'dlnd' / 'hosted.py').read_bytes()
    again = run_setup_cell(tmp_path, '/nowhere')  # everything is here now: nothing fetched, nothing installed
    assert again.returncode == 0 and again.stdout.startswith("Set-up: the project's files are here; installed nothing")


def test_from_a_git_repository_and_for_gan_variants_with_the_face_notebook_and_a_note(tmp_path):
    repository, here = tmp_path / 'repository', tmp_path / 'kernel'
    repository.mkdir(), here.mkdir()
    for name in hosted.PROJECT_FILES + (hosted.FACE_NOTEBOOK,):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, repository / name)
    git = ['git', '-c', 'user.name=t', '-c', 'user.email=t@t', '-C', str(repository)]
    for command in (['init', '-q'], ['add', '.'], ['commit', '-qm', 'project']):
        subprocess.run(git + command, check=True)
    result = run_setup_cell(here, f'file://{repository}', VARIANTS_NOTEBOOK.name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f'Set-up: fetched the project from file://{repository}; installed nothing')
    assert 'Note: dlnd_face_generation.ipynb was not here' in result.stdout and result.stdout.count('\n') == 1
    assert (here / hosted.FACE_NOTEBOOK).is_file() and (here / 'helper.py').is_file()
    assert not (here / '.git').exists()
    # A bare repository's path (as a git server keeps it) is cloned, not mistaken for a folder of files.
    bare, elsewhere = tmp_path / 'project.git', tmp_path / 'kernel 2'
    subprocess.run(['git', 'clone', '-q', '--bare', str(repository), str(bare)], check=True)
    elsewhere.mkdir()
    result = run_setup_cell(elsewhere, bare)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in elsewhere.iterdir()) == sorted(hosted.PROJECT_FILES)


def test_an_unreachable_source_says_what_to_do_and_writes_nothing(tmp_path):
    source = 'http://127.0.0.1:9/project.git'  # the discard port: nothing listens there
    result = run_setup_cell(tmp_path, source)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(f'RuntimeError: Could not fetch the project from {source} (')
    assert 'Without internet, put helper.py, problem_unittests.py, dlnd, requirements.txt beside this' in message
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_the_project_is_refused(tmp_path):
    elsewhere, here = tmp_path / 'elsewhere', tmp_path / 'kernel'
    elsewhere.mkdir(), here.mkdir()
    (elsewhere / 'helper.py').write_text('')
    result = run_setup_cell(here, elsewhere)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f'RuntimeError: {elsewhere} is not this project: it has no problem_unittests.py, dlnd, requirements.txt')
    assert list(here.iterdir()) == []


def test_pip_is_never_allowed_to_replace_an_installed_package(tmp_path):
    # A real pip in a fresh environment, asked for another version of a package it has: the pins refuse it.
    subprocess.run([sys.executable, '-m', 'venv', str(tmp_path / 'venv')], check=True)
    script = ('import sys; sys.path.insert(0, sys.argv[1]); from dlnd import hosted\n'
              'installed = hosted.installed_versions()\n'
              'hosted.pip_install(["pip==1.5.6"], installed)\n')
    result = subprocess.run([str(tmp_path / 'venv' / 'bin' / 'python'), '-c', script, str(ROOT)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert 'RuntimeError: pip could not install pip==1.5.6 with every installed package kept as it is (pip said: ' \
        in result.stderr and 'Nothing was replaced.' in result.stderr
    assert 'ERROR: Cannot install pip==1.5.6 because these package versions have conflicting dependencies' \
        in result.stderr  # refused by the pins, not for any other reason
    after = subprocess.run([str(tmp_path / 'venv' / 'bin' / 'python'), '-m', 'pip', '--version'],
                           capture_output=True, text=True).stdout
    assert not after.startswith('pip 1.5.6')


def test_the_readme_stays_short_enough_to_read():
    # For users (learners, course staff): within 12 KB; the reasoning behind each figure is in docs/experiments.md.
    assert len((ROOT / 'README.md').read_bytes()) <= 12_000
