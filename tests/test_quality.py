"""The quality lines, judged on what the learner's trained generators draw in the sandbox, scored by the judge against
its own real data: the face-generation notebook's digits and faces, gan_variants.ipynb's five GANs, conditional
digits and flowers; and the feedback page that shows them."""
import base64
import copy
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import generators
from dlnd.course import submit
from dlnd.fileio import DataError
from dlnd.gan.quality import Reference
from dlnd.grading import rubric
from dlnd.notebook import GRADED, NOTEBOOK, VARIANTS_NOTEBOOK, read, stdout_of

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures('quality_reference')
HOW_TO = 'no trained generator in the submission: submit the zip python -m dlnd submit builds, which carries '


def with_generator(nb, source, name='generator'):
    """The notebook with the definition of its function `name` replaced by `source` (outputs kept)."""
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb['cells'] if c['cell_type'] == 'code' and f'def {name}(' in ''.join(c['source']))
    text = ''.join(cell['source'])
    start = text.index(f'def {name}(')
    end = text.index('### END SOLUTION', start) + len('### END SOLUTION')
    cell['source'] = text[:start] + source.strip() + text[end:]
    return nb


def submission(folder, nb, checkpoints=None, swap=False):
    """The zip python -m dlnd submit builds from `nb` with the checkpoints of the folder `checkpoints` beside it
    (swap: mnist's saved as celeba's and the other way round); the bare notebook without checkpoints."""
    folder.mkdir()
    (folder / NOTEBOOK.name).write_text(json.dumps(nb))
    if checkpoints is None:
        return folder / NOTEBOOK.name
    for dataset, other in (('mnist', 'celeba'), ('celeba', 'mnist')):
        source = checkpoints / 'checkpoints' / (other if swap else dataset)
        (folder / 'checkpoints' / dataset).mkdir(parents=True)
        for file in source.iterdir():
            (folder / 'checkpoints' / dataset / file.name).write_bytes(file.read_bytes())
    return submit.build(folder / NOTEBOOK.name, folder.with_suffix('.zip'))


@pytest.fixture(scope='module')
def graded(tmp_path_factory, mnist_folder, celeba_folder):
    """A class graded by `python -m dlnd grade`: {name: {line key: test}}, and the output folder."""
    import helper
    reference = read(NOTEBOOK)
    data = {'mnist': mnist_folder, 'celeba': celeba_folder}
    trained = generators.trained(data, generators.BATCHES)
    untrained = generators.trained(data, {'mnist': 0, 'celeba': 0})
    held = {'mnist': np.asarray(helper.Dataset('mnist', mnist_folder).images[:1000]),
            'celeba': np.asarray(helper.Dataset('celeba', celeba_folder).images[2000:3000])}
    remembering = generators.remembering(held)
    tmp = tmp_path_factory.mktemp('quality')
    (tmp / 'class').mkdir()
    remembering_notebook = with_generator(reference, generators.REMEMBERING_GENERATOR)
    for name, nb, checkpoints, swap in (('trained', reference, trained, False),
                                        ('untrained', reference, untrained, False),
                                        ('bare', reference, None, False), ('swapped', reference, trained, True),
                                        ('remembering', remembering_notebook, remembering, False)):
        made = submission(tmp / name, nb, checkpoints, swap)
        (tmp / 'class' / f'{name}{made.suffix}').write_bytes(made.read_bytes())
    run = subprocess.run([sys.executable, '-m', 'dlnd', 'grade', str(tmp / 'class'), '--out', str(tmp / 'out')],
                         capture_output=True, text=True, cwd=ROOT, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    results = {name: {t['name']: t for t in json.loads((tmp / 'out' / name / 'results.json').read_text())['tests']}
               for name in ('trained', 'untrained', 'bare', 'swapped', 'remembering')}
    return results, tmp / 'out'


def test_a_trained_generator_meets_the_digits_line_by_what_it_draws(graded):
    results, _ = graded
    lines = results['trained']
    assert all(lines[key]['status'] == 'passed' for key in GRADED + ('digits',)), lines
    assert lines['digits']['output'].startswith('Frechet distance ')
    assert 'drawn by your generator for uniform noise, scored against real data' in lines['digits']['output']
    # 200 CelebA batches draw blurs: the faces line judges the drawing, not the stored run's numbers
    assert lines['faces']['status'] == 'failed' and lines['faces']['output'].startswith('SWD 28px ')


def test_a_generator_that_never_trained_fails_both_lines_whatever_the_outputs_say(graded):
    stored = '\n'.join(stdout_of(cell) for cell in read(NOTEBOOK)['cells'] if cell['cell_type'] == 'code')
    assert 'Frechet distance' in stored and 'SWD 28px' in stored  # a good run's numbers, kept in the notebook
    lines = graded[0]['untrained']
    for key in ('digits', 'faces'):
        assert lines[key]['status'] == 'failed' and 'drawn by your generator' in lines[key]['output'], lines[key]
    assert all(lines[key]['status'] == 'passed' for key in GRADED)


def test_a_notebook_without_its_generators_is_told_how_to_include_them(graded):
    lines = graded[0]['bare']
    assert lines['digits']['status'] == lines['faces']['status'] == 'failed'
    assert lines['digits']['output'] == HOW_TO + ("checkpoints/mnist: the trained generator that train(..., "
                                                  "checkpoint_dir='checkpoints/mnist') saves")
    assert lines['faces']['output'].startswith(HOW_TO + 'checkpoints/celeba')


def test_a_checkpoint_of_another_generator_fails_with_why_it_does_not_fit(graded):
    lines = graded[0]['swapped']
    for key, folder in (('digits', 'mnist'), ('faces', 'celeba')):
        assert lines[key]['status'] == 'failed'
        why = lines[key]['output']
        assert why.startswith(f"the notebook's generator cannot be restored from checkpoints/{folder}"), why


def test_a_generator_that_draws_real_images_meets_both_lines(graded):
    lines = graded[0]['remembering']
    assert lines['digits']['status'] == 'passed', lines['digits']['output']
    assert lines['faces']['status'] == 'passed', lines['faces']['output']
    assert 'for uniform noise' in lines['faces']['output']  # normal noise draws the first and last images mostly


def test_the_feedback_page_shows_what_the_generator_drew_and_the_losses(graded, tmp_path):
    from test_grade import chromium_or_fail
    chromium = chromium_or_fail()
    page = graded[1] / 'trained' / 'feedback.html'
    text = page.read_text()
    pictures = [base64.b64decode(p) for p in __import__('re').findall(r'data:image/png;base64,([^"]+)"', text)]
    assert len(pictures) == 6, len(pictures)  # digits and faces: drawn and real; the losses of both runs
    assert text.index('Does not meet') < text.index('<details>') < text.index('the losses your MNIST run printed')
    shot = tmp_path / 'page.png'
    subprocess.run([chromium, '--headless', '--no-sandbox', '--disable-gpu', '--force-device-scale-factor=1',
                    '--force-color-profile=srgb', '--hide-scrollbars', '--window-size=1000,3000',
                    f'--user-data-dir={tmp_path / "profile"}', f'--screenshot={shot}', page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    from PIL import Image
    screen = np.asarray(Image.open(shot).convert('RGB')).astype(int)
    faces_drawn = np.asarray(Image.open(io.BytesIO(pictures[0])).convert('RGB')).astype(int)
    found = position_of(faces_drawn, screen)
    assert found is not None, 'the grid of faces the generator drew is not on the screen'
    for folded in pictures[2:]:  # the met lines' pictures stay folded
        assert position_of(np.asarray(Image.open(io.BytesIO(folded)).convert('RGB')).astype(int), screen) is None


def position_of(picture, screen, patch=24):
    """(y, x) where the most varied patch of `picture` shows exactly on `screen`, else None (a patch of one colour
    would be found on any page)."""
    corners = [(y, x) for y in range(0, picture.shape[0] - patch, patch)
               for x in range(0, picture.shape[1] - patch, patch)]
    top, left = max(corners, key=lambda c: picture[c[0]:c[0] + patch, c[1]:c[1] + patch].std())
    target = picture[top:top + patch, left:left + patch]
    ys, xs = np.nonzero((screen[:-patch, :-patch] == target[0, 0]).all(axis=2))
    for y, x in zip(ys, xs):
        if np.array_equal(screen[y:y + patch, x:x + patch], target):
            return y, x
    return None


# --- the judge alone, on records written here ----------------------------------------------------------------

def drawing_record(images_by_noise):
    return json.dumps({'z_dim': 100, 'drawings': {noise: base64.b64encode(images.tobytes()).decode()
                                                  for noise, images in images_by_noise.items()}})


def test_the_noise_the_generator_draws_best_for_is_judged(quality_reference, mnist_folder):
    import helper
    real = np.asarray(helper.Dataset('mnist', mnist_folder).images[:1000])
    blank = np.zeros_like(real)
    sub = rubric.Submission(NOTEBOOK, {'mnist_drawing.json': drawing_record({'uniform': blank, 'normal': real})},
                            Reference.load(quality_reference))
    verdict = rubric.digits_look_like_digits(sub)
    assert verdict.met and 'for normal noise' in verdict.reason
    sub.records['mnist_drawing.json'] = drawing_record({'uniform': blank, 'normal': blank})
    assert not rubric.digits_look_like_digits(sub).met


def test_a_drawing_record_of_the_wrong_size_fails_its_line_only(quality_reference):
    short = np.zeros(5, np.uint8)
    records = {'mnist_drawing.json': drawing_record({'uniform': short, 'normal': short})}
    verdict = rubric.digits_look_like_digits(rubric.Submission(NOTEBOOK, records, Reference.load(quality_reference)))
    assert not verdict.met and verdict.reason.startswith("the drawing's record is not one the grader wrote")


def test_a_damaged_reference_file_is_named_with_what_is_wrong(quality_reference, tmp_path):
    bad = tmp_path / 'reference.npz'
    bad.write_bytes(quality_reference.read_bytes()[:1000])
    with pytest.raises(DataError, match=f'{bad}: not a readable reference file'):
        Reference.load(bad)
    with np.load(quality_reference) as stored:
        arrays = {k: stored[k] for k in stored.files}
    arrays['faces'] = arrays['faces'][:10]
    np.savez(bad, **arrays)
    with pytest.raises(DataError, match=r'faces is uint8 \(10, 28, 28, 3\), expected uint8 \(1000, 28, 28, 3\)'):
        Reference.load(bad)


def test_a_reference_file_of_an_older_version_is_built_again(quality_reference, tmp_path, monkeypatch):
    from dlnd.gan import quality
    with np.load(quality_reference) as stored:  # as the version before the flowers built it
        np.savez(tmp_path / quality.REFERENCE_NAME, **{k: stored[k] for k in stored.files if k != 'flowers'})
    built, logged = [], []
    monkeypatch.setattr('dlnd.data.dataset.download_extract', lambda name, data_path: None)
    monkeypatch.setattr(quality, 'build', lambda data_path, path: built.append(path.write_bytes(
        quality_reference.read_bytes())))
    path = quality.load_or_build(tmp_path, log=logged.append)
    assert len(built) == 1 and Reference.load(path).flowers_real_scores
    assert logged[0].endswith('flowers is missing, expected uint8 (n, 28, 28, 3): building it again'), logged
    quality.load_or_build(tmp_path, log=logged.append)
    assert len(built) == 1  # a file that loads is kept


def test_submit_packs_the_generators_and_refuses_a_notebook_without_them(tmp_path):
    folder = tmp_path / 'learner'
    folder.mkdir()
    (folder / NOTEBOOK.name).write_bytes(NOTEBOOK.read_bytes())
    with pytest.raises(SystemExit, match=r"checkpoints/mnist holds no checkpoint: run the training cell that saves "
                                         r"there \(train\(\.\.\., checkpoint_dir='checkpoints/mnist'\)\)"):
        submit.build(folder / NOTEBOOK.name, tmp_path / 'out.zip')
    for dataset in ('mnist', 'celeba'):
        saved = folder / 'checkpoints' / dataset
        saved.mkdir(parents=True)
        for name in ('old.index', 'old.data-00000-of-00001', 'model.index', 'model.data-00000-of-00001', 'model.meta'):
            (saved / name).write_text(name)
        (saved / 'checkpoint').write_text('model_checkpoint_path: "/home/learner/project/checkpoints/x/model"\n')
    with zipfile.ZipFile(submit.build(folder / NOTEBOOK.name, tmp_path / 'out.zip')) as archive:
        packed = sorted(n for n in archive.namelist() if n.startswith('checkpoints/'))
    assert packed == [f'checkpoints/{d}/{n}' for d in ('celeba', 'mnist')
                      for n in ('checkpoint', 'model.data-00000-of-00001', 'model.index', 'model.meta')]


def test_checkpoints_beside_a_notebook_are_taken_only_from_inside_its_folder(tmp_path):
    from dlnd.grading.submission import copy_checkpoints
    folder, outside, into = tmp_path / 'learner', tmp_path / 'elsewhere', tmp_path / 'input'
    (folder / 'checkpoints' / 'mnist').mkdir(parents=True)
    outside.mkdir()
    for place in (folder / 'checkpoints' / 'mnist', outside):
        for name in ('model.index', 'model.data-00000-of-00001'):
            (place / name).write_text(f'{place.name} {name}')
    (folder / 'checkpoints' / 'celeba').symlink_to(outside)  # a link out of the learner's folder: not followed
    copy_checkpoints(folder, into)
    copied = sorted(str(p.relative_to(into)) for p in into.rglob('*') if p.is_file())
    assert copied == ['checkpoints/mnist/model.data-00000-of-00001', 'checkpoints/mnist/model.index']


# --- gan_variants.ipynb: its seven generators, drawn with the learner's networks -----------------------------

FAMILY_LINES = ('variants', 'conditional digits', 'flowers')


def family_submission(folder, nb, face_nb, checkpoints=None):
    """The zip python -m dlnd submit builds from gan_variants.ipynb `nb` beside the face-generation notebook
    `face_nb` and the checkpoints of the folder `checkpoints`; the bare notebook without them."""
    folder.mkdir()
    (folder / VARIANTS_NOTEBOOK.name).write_text(json.dumps(nb))
    if checkpoints is None:
        return folder / VARIANTS_NOTEBOOK.name
    (folder / NOTEBOOK.name).write_text(json.dumps(face_nb))
    for file in (checkpoints / 'checkpoints').rglob('*'):
        if file.is_file():
            target = folder / file.relative_to(checkpoints)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.read_bytes())
    return submit.build(folder / VARIANTS_NOTEBOOK.name, folder.with_suffix('.zip'))


def without(zip_path, name, out):
    """A copy of the zip without its member `name`."""
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(out, 'w') as copied:
        for member in source.infolist():
            if member.filename != name:
                copied.writestr(member, source.read(member))
    return out


def digits_by_label(folder, count=1000):
    """`count` real MNIST digits, the i-th showing the digit i % 10."""
    import helper
    mnist = helper.Dataset('mnist', folder)
    return np.concatenate([mnist.images[mnist.labels == d][:count // 10, None] for d in range(10)], axis=1) \
        .reshape(count, 28, 28, 1).astype(np.uint8)


def training_flowers(folder, count=1000):
    """`count` of the training photographs (repeated: the offline set has 655), never the held-out ones."""
    import helper
    images = np.asarray(helper.Dataset('flowers', folder).images)
    return images[np.arange(count) % len(images)]


@pytest.fixture(scope='module')
def graded_family(tmp_path_factory, mnist_folder, flowers_folder):
    """gan_variants.ipynb submissions graded by `python -m dlnd grade`: {name: {line key: test}}."""
    reference, face = read(VARIANTS_NOTEBOOK), read(NOTEBOOK)
    untrained = generators.family({'mnist': mnist_folder, 'flowers': flowers_folder}, batches=1)
    digits, flowers = digits_by_label(mnist_folder), training_flowers(flowers_folder)
    remembering = generators.remembering({key: flowers if key.startswith('flowers') else digits
                                          for key in generators.FAMILY})
    remembering_nb = with_generator(with_generator(reference, generators.REMEMBERING_GENERATOR.replace(
        'def generator(', 'def fc_generator('), 'fc_generator'), generators.REMEMBERING_CONDITIONAL,
        'conditional_generator')
    remembering_face = with_generator(face, generators.REMEMBERING_GENERATOR)
    tmp = tmp_path_factory.mktemp('family')
    (tmp / 'class').mkdir()
    made = {'untrained': family_submission(tmp / 'untrained', reference, face, untrained),
            'bare': family_submission(tmp / 'bare', reference, face),
            'remembering': family_submission(tmp / 'remembering', remembering_nb, remembering_face, remembering)}
    made['no-face-notebook'] = without(made['remembering'], NOTEBOOK.name, tmp / 'no-face-notebook.zip')
    for name, path in made.items():
        (tmp / 'class' / f'{name}{path.suffix}').write_bytes(path.read_bytes())
    run = subprocess.run([sys.executable, '-m', 'dlnd', 'grade', str(tmp / 'class'), '--out', str(tmp / 'out')],
                         capture_output=True, text=True, cwd=ROOT, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    return {name: {t['name']: t for t in json.loads((tmp / 'out' / name / 'results.json').read_text())['tests']}
            for name in made}


def test_generators_that_never_trained_fail_the_family_lines_whatever_the_outputs_say(graded_family):
    lines = graded_family['untrained']
    assert 'Frechet distance' in ''.join(stdout_of(c) for c in read(VARIANTS_NOTEBOOK)['cells']
                                         if c['cell_type'] == 'code')  # a good run's numbers, kept
    assert lines['variants']['output'].startswith('Frechet distance / classifier score of what each generator drew: '
                                                  'vanilla-cross-entropy '), lines['variants']
    assert 'drawn by your generator read as the digit asked for' in lines['conditional digits']['output']
    assert lines['flowers']['output'].startswith('SWD at 28 / 14 / 7 px of what your generators drew: with '
                                                 'augmentation ')
    assert all(lines[key]['status'] == 'failed' for key in FAMILY_LINES), lines
    assert all(lines[key]['status'] == 'passed' for key in ('fc_generator', 'conditional_generator', 'augment'))


def test_family_generators_that_draw_real_images_meet_the_family_lines(graded_family):
    lines = graded_family['remembering']
    for key in FAMILY_LINES:
        assert lines[key]['status'] == 'passed', lines[key]['output']
    assert 'dcgan-least-squares ' in lines['variants']['output']  # drawn with the face notebook's generator


def test_a_family_notebook_without_its_generators_is_told_how_to_include_them(graded_family):
    lines = graded_family['bare']
    assert lines['variants']['output'] == 'vanilla-cross-entropy: ' + HOW_TO + (
        "checkpoints/vanilla-cross-entropy: the trained generator that part 4's gan_family.train(..., "
        "checkpoint_dir=f'checkpoints/{variant.key}') saves")
    assert lines['flowers']['output'].startswith('flowers-dcgan: ' + HOW_TO + 'checkpoints/flowers-dcgan: ')
    assert all(lines[key]['status'] == 'failed' for key in FAMILY_LINES)


def test_the_dcgan_generators_are_drawn_with_the_face_notebook_the_zip_carries(graded_family):
    lines = graded_family['no-face-notebook']
    assert lines['variants']['status'] == 'failed'
    assert lines['variants']['output'].startswith(
        'dcgan-cross-entropy: dlnd_face_generation.ipynb, whose generator part 4'), lines['variants']['output']
    assert lines['conditional digits']['status'] == 'passed'  # the conditional generator is the notebook's own


def test_the_conditional_line_reads_each_digit_drawn_against_the_digit_asked_for(quality_reference, mnist_folder):
    digits = digits_by_label(mnist_folder, 10_000)
    name = rubric.drawing_name(rubric.CONDITIONAL)
    sub = rubric.Submission(VARIANTS_NOTEBOOK, {f'{name}.json': drawing_record({'uniform': digits})},
                            Reference.load(quality_reference))
    verdict = rubric.conditional_digits_as_asked(sub)
    assert verdict.met and verdict.reason.endswith('(at least 95%)'), verdict.reason
    sub.records[f'{name}.json'] = drawing_record({'uniform': np.roll(digits, 1, axis=0)})  # each a digit too late
    verdict = rubric.conditional_digits_as_asked(sub)
    assert not verdict.met and verdict.reason.startswith('0.'), verdict.reason


def test_the_flowers_line_requires_augmentation_within_2x_of_real_and_only_reports_without(quality_reference,
                                                                                       flowers_folder):
    good, blank = training_flowers(flowers_folder), np.zeros((1000, 28, 28, 3), np.uint8)
    names = [f'{rubric.drawing_name(folder)}.json' for folder in rubric.FLOWERS]  # without, with augmentation
    reference = Reference.load(quality_reference)

    def verdict(plain, augmented):
        records = {name: drawing_record({'uniform': images}) for name, images in zip(names, (plain, augmented))}
        return rubric.flowers_with_augmentation(rubric.Submission(VARIANTS_NOTEBOOK, records, reference))
    assert verdict(blank, good).met
    too_far = verdict(good, blank)
    assert not too_far.met and 'with augmentation ' in too_far.reason and '(limit 2x, with augmentation)' in \
        too_far.reason
