"""The Gradescope autograder, run as Gradescope runs it: as root in a Docker container with Docker's defaults
(tests/container.py: read-only cgroups, Docker's capabilities, Docker's seccomp rules for namespaces), where
bubblewrap cannot start and the learner's code runs as a user of its own."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

import container
import generators
from dlnd.grading import gradescope, sandbox
from dlnd.notebook import NOTEBOOK, VARIANTS_NOTEBOOK, read
from test_grade import MARKER, Listener, _cmdline, appends_to_the_checks, injected

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ('3.10', '3.11', '3.12')  # Ubuntu 22.04's, this project's, Ubuntu 24.04's
UNAVAILABLE = sandbox.unavailable(sandbox.BUBBLEWRAP)  # the container is simulated with what bubblewrap needs too
needs_root = pytest.mark.skipif(os.geteuid() != 0 or UNAVAILABLE is not None,
                                reason=f'simulating a container needs root and namespaces: {UNAVAILABLE}')


@pytest.fixture(scope='module')
def bundle(tmp_path_factory, quality_reference):
    """The autograder zip, for the face-generation assignment, 50 points with the quality lines worth double."""
    folder = tmp_path_factory.mktemp('bundle')
    points = folder / 'points.json'
    points.write_text(json.dumps({'total': 50, 'weights': {'digits': 2, 'faces': 2}}))
    assert gradescope.main(['bundle', str(folder / 'autograder.zip'), '--points', str(points)]) == 0
    return folder / 'autograder.zip'


def autograde(bundle, submission_files, docker=True, wait_after=0, python=sys.executable):
    """Unpack the bundle as Gradescope does (/autograder/source), put the submission's files in place ({name:
    bytes}, or a function of the autograder's root giving them) and run run_autograder; (its results, the run,
    whether the source's files changed, the learner's processes still alive after `wait_after` seconds, and the
    results as first written)."""
    root = Path(tempfile.mkdtemp(prefix='autograder-'))  # under /tmp, readable by the learner's user as on Gradescope
    root.chmod(0o755)
    try:
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(root / 'source')
        if callable(submission_files):
            submission_files = submission_files(root)
        for name, data in submission_files.items():
            (root / 'submission' / name).parent.mkdir(parents=True, exist_ok=True)
            (root / 'submission' / name).write_bytes(data)
        before = source_hashes(root / 'source')
        command = ['bash', str(root / 'source' / 'run_autograder')]
        run = subprocess.run(container.command(command) if docker else command, capture_output=True, text=True,
                             env={**os.environ, 'AUTOGRADER_ROOT': str(root), 'PYTHON': python}, timeout=600)
        first = (root / 'results' / 'results.json').read_text()
        time.sleep(wait_after)
        leftovers = [p for p in Path('/proc').glob('[0-9]*') if MARKER in _cmdline(p)]
        return {'results': json.loads((root / 'results' / 'results.json').read_text()), 'first': first, 'run': run,
                'changed': source_hashes(root / 'source') != before, 'leftovers': leftovers, 'root': root}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def source_hashes(folder):
    """The source's files (less the bytecode the grader's own Python caches there, as root)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file() and '__pycache__' not in p.parts}


def notebook_bytes(nb):
    return json.dumps(nb).encode()


def checks_in(results):
    return {test['name']: test for test in results['tests']}


@pytest.fixture(scope='module')
def trained(mnist_folder, celeba_folder):
    """The reference notebook's generators, trained briefly (tests/generators.py): digits that meet the line, faces
    that do not yet."""
    return generators.files(generators.trained({'mnist': mnist_folder, 'celeba': celeba_folder}, generators.BATCHES))


@needs_root
def test_the_reference_and_its_generators_are_graded_in_the_container_and_the_checkpoint_copy_is_not(bundle, trained):
    broken = injected(read(NOTEBOOK), 'model_inputs', ['return None'])
    found = autograde(bundle, {'dlnd_face_generation.ipynb': NOTEBOOK.read_bytes(), **trained,
                               '.ipynb_checkpoints/dlnd_face_generation-checkpoint.ipynb': notebook_bytes(broken)})
    results, run = found['results'], found['run']
    assert run.returncode == 0, run.stderr[-3000:]
    tests = checks_in(results)
    assert [name for name, test in tests.items() if test['status'] != 'passed'] == ['faces'], results['output']
    assert 'drawn by your generator' in tests['digits']['output'] and tests['faces']['output'].startswith('SWD 28px')
    assert results['score'] == pytest.approx(50 - 2 * 50 / 12)  # the faces line, worth double, of 12 weights
    assert results['output'].startswith('face generation notebook dlnd_face_generation.ipynb: 9 of 10')
    assert results['output'].splitlines()[-1].startswith('isolation: a user of its own (no namespaces here)')
    assert 'rlimits' in results['output'] and not found['changed']


@needs_root
def test_a_hostile_notebook_fails_its_broken_lines_and_changes_nothing(bundle):
    """One logit per batch and 32x32 images, with code that appends to the checks' files, starts a process of its
    own that rewrites results.json to full marks 8 s later, and connects to a listener on the host."""
    listener = Listener()

    def hostile(root):
        nb = injected(read(NOTEBOOK), 'discriminator', appends_to_the_checks('\nPATCHED = True\n'))
        nb = injected(nb, 'generator', [
            'import subprocess, sys, socket',
            'subprocess.Popen([sys.executable, "-c", "import sys, time; time.sleep(8); '
            'open(sys.argv[1], \'w\').write(sys.argv[2])", %r, %r, %r], start_new_session=True)' % (
                str(root / 'results' / 'results.json'), json.dumps({'score': 50, 'tests': []}), MARKER),
            'try:',
            '    socket.create_connection(("127.0.0.1", %d), 2).sendall(b"leak")' % listener.port,
            'except OSError:',
            '    pass'])
        for cell in nb['cells']:
            source = ''.join(cell['source'])
            if 'def discriminator(' in source:
                cell['source'] = source.replace('return tf.sigmoid(logits), logits',
                                                'logits = tf.reduce_mean(logits, axis=0, keepdims=True)\n'
                                                '        return tf.sigmoid(logits), logits')
            if 'def generator(' in source:
                cell['source'] = source.replace('return tf.tanh(logits)',
                                                'return tf.image.resize(tf.tanh(logits), (32, 32))')
        return {'dlnd_face_generation.ipynb': notebook_bytes(nb)}
    try:
        found = autograde(bundle, hostile, wait_after=10)
    finally:
        listener.close()
    checks = checks_in(found['results'])
    assert found['run'].returncode == 0, found['run'].stderr[-3000:]
    assert checks['discriminator']['status'] == 'failed' and checks['generator']['status'] == 'failed'
    assert 'one logit per image' in checks['discriminator']['output'] or 'shape' in checks['discriminator']['output']
    assert '28' in checks['generator']['output'] and checks['model_inputs']['status'] == 'passed'
    assert found['results'] == json.loads(found['first']) and found['results']['score'] < 50
    assert not found['changed'] and found['leftovers'] == [] and listener.received == []


@needs_root
def test_the_other_notebook_is_refused_in_one_line(bundle):
    found = autograde(bundle, {'gan_variants.ipynb': VARIANTS_NOTEBOOK.read_bytes()})
    results = found['results']
    assert results['score'] == 0 and len(results['tests']) == 1
    assert ('gan_variants.ipynb is the GAN family notebook, but this assignment grades the face generation notebook, '
            'dlnd_face_generation.ipynb: submit that one') in results['tests'][0]['output']


@needs_root
def test_a_grader_that_fails_still_writes_a_result(bundle, tmp_path):
    broken = tmp_path / 'broken.zip'
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(broken, 'w') as target:
        for item in source.infolist():
            data = b'{"argv": ["--timeout", "not a number"]}' if item.filename == gradescope.CONFIG \
                else source.read(item)
            target.writestr(item, data)
    results = autograde(broken, {'dlnd_face_generation.ipynb': NOTEBOOK.read_bytes()}, docker=False)['results']
    assert results['score'] == 0 and 'the autograder failed (SystemExit' in results['tests'][0]['output']


def test_the_submission_folder_gives_the_learners_notebook_by_name(tmp_path):
    from dlnd.grading.submission import in_folder

    def add(name):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(NOTEBOOK, tmp_path / name)
    add('.ipynb_checkpoints/dlnd_face_generation-checkpoint.ipynb')
    assert in_folder(tmp_path) is None  # Jupyter's copy alone: nothing to grade
    add('work/my_gan.ipynb')
    assert in_folder(tmp_path) == tmp_path / 'work' / 'my_gan.ipynb'  # the only notebook, its copy aside
    add('work/dlnd_face_generation.ipynb')
    assert in_folder(tmp_path) == tmp_path / 'work' / 'dlnd_face_generation.ipynb'  # by its name


@pytest.mark.parametrize('version', PYTHONS)
def test_the_bundle_installs_on_each_python_of_gradescopes_images(version):
    """What setup.sh installs, resolved for that Python from the registry (the wheels exist, the pins agree)."""
    constraints = ROOT / f'constraints-py{version}.txt'
    constraints = constraints if constraints.exists() else ROOT / 'constraints.txt'
    with tempfile.TemporaryDirectory() as target:
        resolved = subprocess.run([sys.executable, '-m', 'pip', 'install', '--dry-run', '--quiet', '--ignore-installed',
                                   '--python-version', version, '--only-binary=:all:', '--target', target,
                                   '-r', str(ROOT / 'requirements.txt'), '-c', str(constraints)],
                                  capture_output=True, text=True, timeout=600)
    assert resolved.returncode == 0, resolved.stderr[-2000:]
    assert constraints.name in gradescope.SOURCES  # the bundle carries it


def test_a_grader_that_cannot_start_still_writes_a_result(bundle):
    found = autograde(bundle, {'dlnd_face_generation.ipynb': NOTEBOOK.read_bytes()}, docker=False,
                      python='/nonexistent/python3')
    assert found['results'] == {'score': 0, 'tests': [], 'output': 'The autograder failed before it could grade '
                                '(exit status 127): ask your course staff.'}


def test_what_each_line_is_worth_comes_from_one_points_file(tmp_path):
    from dlnd.grading.results import Points
    path = tmp_path / 'points.json'
    path.write_text(json.dumps({'total': 100, 'weights': {'faces': 3}}))
    worth = Points.load(path).worth(['model_inputs', 'faces'])
    assert worth == {'model_inputs': 25.0, 'faces': 75.0} and Points().worth(['a', 'b']) == {'a': 1.0, 'b': 1.0}
    for bad, why in (('{"total": 100,', 'Expecting'), ('{"total": -1}', 'at least 0'),
                     ('{"weight": {}}', 'unknown keys'), ('{"weights": {"faces": "2"}}', 'at least 0')):
        path.write_text(bad)
        with pytest.raises(ValueError, match=rf'{path}: not a points file \(.*{why}'):
            Points.load(path)


def test_an_autograder_with_too_little_memory_says_so_instead_of_grading(tmp_path, monkeypatch):
    (tmp_path / NOTEBOOK.name).write_bytes(NOTEBOOK.read_bytes())
    monkeypatch.setattr(gradescope, 'memory_allowed', lambda: 768 * 2 ** 20)  # Gradescope's default
    monkeypatch.setattr(gradescope, 'grade_notebook', lambda *args, **kwargs: pytest.fail('graded all the same'))
    args, _ = gradescope.settings(tmp_path / 'no-config.json', [])
    graded = gradescope.grade_submission(tmp_path, args)
    assert graded.refused.startswith('not graded: this autograder has 0.75 GB of memory and judging the images your '
                                     'generators draw needs 1 GB; the course staff must choose 1.5 GB')
