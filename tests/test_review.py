"""The review workflow on real notebooks: rubric self-check, submission zip and learner release."""
import copy
import json
import os
import zipfile
from pathlib import Path

import pytest

from dlnd.course import release, submit

from dlnd.grading import review, rubric
from dlnd.hosted import PUBLISHED_REPOSITORY
from dlnd.notebook import NOTEBOOK, SAVED_GENERATORS, VARIANTS_NOTEBOOK, read
from learner_solutions import SOLUTIONS

pytestmark = pytest.mark.usefixtures('quality_reference')
os.environ.setdefault('MPLBACKEND', 'Agg')
LINES = {'inputs': 0, 'discriminator': 1, 'generator': 2, 'loss': 3, 'opt': 4, 'unit tests': 5, 'train': 6,
         'hyperparameters': 7, 'digits': 8, 'faces': 9}


def edited(reference, tmp_path, old, new, name='edited.ipynb'):
    """The reference notebook with one piece of code replaced and its stored outputs kept."""
    nb = copy.deepcopy(reference)
    hits = 0
    for cell in nb['cells']:
        source = ''.join(cell['source'])
        if old in source:
            cell['source'], hits = source.replace(old, new), hits + 1
    assert hits == 1, f'{old!r} found in {hits} cells'
    return write(nb, tmp_path / name)


def write(nb, path):
    path.write_text(json.dumps(nb))
    return path


def cleared_from(nb, first_cleared):
    """Outputs and execution counts removed from the code cell index `first_cleared` on."""
    nb = copy.deepcopy(nb)
    code = [cell for cell in nb['cells'] if cell['cell_type'] == 'code']
    for cell in code[first_cleared:]:
        cell['outputs'], cell['execution_count'] = [], None
    return nb


QUALITY = {'digits', 'faces'}  # judged on the trained generators (tests/test_quality.py), which these notebooks lack


def failing_lines(path):
    """The lines the notebook at `path` fails, but for the quality lines, which a notebook without its trained
    generators fails saying how to include them."""
    results = review.review(path)
    assert len(results) == len(LINES)
    for name in QUALITY:
        assert results[LINES[name]].reason.startswith('no trained generator in the submission: submit the zip '), \
            results[LINES[name]].reason
    return {name for name, index in LINES.items() if not results[index].met} - QUALITY


def with_solution(reference, solution):
    """The reference notebook with each function's solution replaced by another one, outputs kept."""
    nb = copy.deepcopy(reference)
    for name, code in solution.items():
        cell = next(c for c in nb['cells'] if c['cell_type'] == 'code' and f'def {name}(' in ''.join(c['source']))
        source = ''.join(cell['source'])
        start = source.index(f'def {name}(')
        end = source.index(release.END, start) + len(release.END)
        cell['source'] = source[:start] + code.strip() + source[end:]
    return nb


@pytest.fixture(scope='module')
def reference():
    return read(NOTEBOOK)


def test_the_reference_notebook_meets_every_line_of_its_code(reference, tmp_path):
    assert failing_lines(write(reference, tmp_path / NOTEBOOK.name)) == set()


@pytest.mark.parametrize('old, new, expected', [
    ("x = tf.nn.leaky_relu(x, alpha)\n",
     "x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=True), alpha)\n", {'discriminator'}),
    ("        return tf.tanh(logits)", "        return tf.sigmoid(logits)", {'generator'}),
    ("d_loss = cross_entropy(d_logits_real, smooth)", "d_loss = cross_entropy(d_logits_real, 1 - smooth)", {'loss'}),
    ("with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):", "with tf.control_dependencies([]):",
     {'opt'}),
    ("tf.placeholder(tf.float32, (), name='learning_rate')",
     "tf.placeholder(tf.float32, (None,), name='learning_rate')", {'inputs', 'train'}),
    ("learning_rate = 0.0002\nbeta1 = 0.5\nepochs = 10", "learning_rate = 0.5\nbeta1 = 0.5\nepochs = 10",
     {'hyperparameters'}),
], ids=['bn-first-layer', 'sigmoid-output', 'real-labels-0.1', 'no-update-ops', 'lr-not-scalar', 'huge-lr'])
def test_typical_mistakes_fail_exactly_their_lines(reference, tmp_path, old, new, expected):
    # The stored outputs still say "Tests Passed": the review must judge the graph, not the text.
    assert failing_lines(edited(reference, tmp_path, old, new)) == expected


@pytest.mark.parametrize('style', sorted(SOLUTIONS))
def test_learners_solutions_meet_every_line(reference, tmp_path, style):
    results = review.review(write(with_solution(reference, SOLUTIONS[style][0]), tmp_path / f'{style}.ipynb'))
    assert [line.key for line in results if not line.met] == ['digits', 'faces']  # no trained generators here
    expected = {name: words for name, words in SOLUTIONS[style][1].items()}
    suggestions = {line.line.split(':')[0]: list(line.suggestions) for line in results if line.suggestions}
    assert {name: len(found) for name, found in suggestions.items() if not name.startswith('train')} == \
        {name: len(words) for name, words in expected.items()}, suggestions
    rate_advice = [s for s in suggestions.get('train prints both losses and shows generator output every 100 '
                                              'batches', []) if 'learning rate as the number' in s]
    assert len(rate_advice) == (style == 'losses_style')


def train_verdict(reference, tmp_path, old=None, new=None):
    """(train's verdict, its record): the reference notebook's train, edited, run as the grader's sandbox runs it
    (here in this process: the edits are ours) and judged from that record."""
    import numpy as np
    import problem_unittests
    from dlnd.grading import learner_run
    from dlnd.notebook import load_functions
    path = edited(reference, tmp_path, old, new) if old else write(reference, tmp_path / 'reference.ipynb')
    record = learner_run.run_train(load_functions(problem_unittests.tf, notebook=path), np, problem_unittests.tf)
    return rubric.train_behaves(rubric.Submission(path, {'train.json': json.dumps(record)})), record


@pytest.mark.parametrize('old, new', [
    (None, None),
    ('if step % show_every == 0:', 'if (step - 1) % show_every == 0:'),  # grids from the first batch on
    ('for epoch_i, batch_images in itertools.islice(batches, max_batches):',  # next() instead of a for loop
     'for _ in range(data_shape[0] // batch_size):\n            epoch_i, batch_images = next(batches)'),
], ids=['reference', 'grids-from-batch-1', 'next-in-a-range'])
def test_train_that_shows_a_grid_every_100_batches_passes_and_stops_early(reference, tmp_path, old, new):
    verdict, record = train_verdict(reference, tmp_path, old, new)
    assert verdict.met, verdict.reason
    assert record['batches'] == rubric.ENOUGH_BATCHES < rubric.TRAIN_BATCHES and record['error'] is None
    assert record['shown_at'] == ([100] if old is None or 'next' in new else [1, 101])


@pytest.mark.parametrize('old, new, words', [
    ('if step % show_every == 0:', 'if step % 150 == 1:', 'going 150 batches without a grid'),
    ('if step % show_every == 0:', 'if False:', 'after batches [201] of 201, going 201 batches'),  # only the last
    ('def print_losses(epoch_i, step, d_value, g_value):\n',  # prints nothing
     'def print_losses(epoch_i, step, d_value, g_value):\n        return\n',
     'did not print both the discriminator and the generator'),
    ('itertools.islice(batches, max_batches)', 'itertools.islice(batches, 50)', 'stopped after 50 of the 201'),
    ('if step % show_every == 0:',
     'if step == 101:\n                raise ValueError("no")\n            if step % 100 == 0:',
     'train failed on random data: ValueError: no'),
], ids=['every-150', 'only-at-the-end', 'no-losses', 'stops-at-50', 'raises'])
def test_train_that_does_not_show_every_100_batches_or_print_losses_fails_saying_so(reference, tmp_path, old, new,
                                                                                      words):
    verdict, _ = train_verdict(reference, tmp_path, old, new)
    assert not verdict.met and words in verdict.reason, verdict.reason


def test_a_train_record_the_grader_did_not_write_fails_in_one_line(reference, tmp_path):
    records = {'train.json': json.dumps({'defined': True, 'batches': 201, 'shown_at': 'all of them',
                                         'printed': 'd_loss g_loss', 'error': None})}
    verdict = rubric.train_behaves(rubric.Submission(write(reference, tmp_path / 'nb.ipynb'), records))
    assert verdict == rubric.Verdict(False, "train's record is not one the grader wrote")


VARIANT_LINES = ['fc_discriminator', 'fc_generator', 'gan_loss', 'lsgan_loss', 'conditional_generator',
                 'conditional_discriminator', 'conditional_model_loss', 'unit tests', 'gradients', 'variants',
                 'conditional digits', 'augment', 'augmented_model_loss', 'flowers']
VARIANT_OUTPUT_LINES = {'unit tests', 'gradients'}  # judged on the stored outputs
# judged on the trained generators (tests/test_quality.py), which these notebooks lack: the first each line misses
VARIANT_QUALITY = {'variants': 'vanilla-cross-entropy', 'conditional digits': 'conditional-dcgan-cross-entropy',
                   'flowers': 'flowers-dcgan'}


def failing_variant_lines(path):
    """The lines the notebook at `path` fails, but for the quality lines, which a notebook without its trained
    generators fails saying how to include them."""
    results = dict(zip(VARIANT_LINES, review.review(path), strict=True))
    for name, folder in VARIANT_QUALITY.items():
        assert results[name].reason.startswith(f'{folder}: no trained generator in the submission: submit the zip '),\
            results[name].reason
    return {name for name, line in results.items() if not line.met} - set(VARIANT_QUALITY)


def test_the_variants_notebook_meets_every_line(tmp_path):
    assert failing_variant_lines(write(read(VARIANTS_NOTEBOOK), tmp_path / VARIANTS_NOTEBOOK.name)) == set()


@pytest.mark.parametrize('old, new, expected', [
    ("d_loss = 0.5 * tf.reduce_mean(tf.square(d_scores_real - 1.0))",
     "d_loss = 0.5 * tf.reduce_mean(tf.square(tf.sigmoid(d_scores_real) - 1.0))", {'lsgan_loss'}),
    ("x = tf.layers.dense(tf.concat([z, labels], axis=1), 7 * 7 * 128",
     "x = tf.layers.dense(z, 7 * 7 * 128", {'conditional_generator'}),
    ("_, d_logits_fake = discriminator(augment(fake), reuse=True)",
     "_, d_logits_fake = discriminator(fake, reuse=True)", {'augmented_model_loss'}),
], ids=['lsgan-sigmoid', 'labels-ignored', 'fakes-not-augmented'])
def test_variant_mistakes_fail_exactly_their_lines(tmp_path, old, new, expected):
    assert failing_variant_lines(edited(read(VARIANTS_NOTEBOOK), tmp_path, old, new)) == expected


def test_an_unrun_variants_notebook_fails_the_output_lines(tmp_path):
    assert failing_variant_lines(write(cleared_from(read(VARIANTS_NOTEBOOK), 0), tmp_path / 'unrun.ipynb')) == \
        VARIANT_OUTPUT_LINES


def test_the_variants_submission_carries_the_face_notebook_it_reads_and_its_seven_generators(tmp_path):
    for notebook in (VARIANTS_NOTEBOOK, NOTEBOOK):
        (tmp_path / notebook.name).write_bytes(notebook.read_bytes())
    with pytest.raises(SystemExit, match=r"checkpoints/flowers-dcgan holds no checkpoint: run the training cell that "
                                         r"saves there \(part 5's gan_family.train\("):
        submit.build(tmp_path / VARIANTS_NOTEBOOK.name, tmp_path / 's.zip')
    saved = [f'checkpoints/{g.folder}/generator' for g in SAVED_GENERATORS['GAN family']]  # what parts 4 and 5 save
    for prefix in saved:
        (tmp_path / prefix).parent.mkdir(parents=True)
        for suffix in ('.index', '.data-00000-of-00001'):
            (tmp_path / (prefix + suffix)).write_text(suffix)
    names = set(zipfile.ZipFile(submit.build(tmp_path / VARIANTS_NOTEBOOK.name, tmp_path / 's.zip')).namelist())
    assert {'gan_variants.ipynb', 'gan_variants.html', 'dlnd_face_generation.ipynb', 'problem_unittests.py',
            *(prefix + '.index' for prefix in saved)} <= names
    assert len(saved) == 7 and 'checkpoints/vanilla-cross-entropy/generator.index' in names


def test_training_cells_are_the_cells_that_call_train():
    assert rubric.calls_train('%matplotlib inline\nhistory = train(1, 64, get_batches)\n')
    assert rubric.calls_train('print(train(1, 64))')
    assert not rubric.calls_train('def show(sess):\n    """train() passes its sampler."""\n    return sess\n')
    assert not rubric.calls_train('# then call train(...)\nx = 1\n')
    assert not rubric.calls_train('def train(epochs):\n    return train(epochs - 1)\n')
    assert not rubric.calls_train('model.train(1)')


def test_unrun_and_half_run_notebooks_fail_the_output_lines(reference, tmp_path):
    expected = {'unit tests', 'train'}
    assert failing_lines(write(cleared_from(reference, 0), tmp_path / 'unrun.ipynb')) == expected
    half = cleared_from(reference, next(k for k, cell in enumerate(submit.code_cells(reference))
                                        if 'tests.test_model_loss' in cell['source']))
    assert failing_lines(write(half, tmp_path / 'half.ipynb')) == expected


def test_submission_zip_holds_what_a_reviewer_expects(tmp_path):
    (tmp_path / NOTEBOOK.name).write_bytes(NOTEBOOK.read_bytes())
    for dataset in ('mnist', 'celeba'):  # what train(..., checkpoint_dir=...) saves
        (tmp_path / 'checkpoints' / dataset).mkdir(parents=True)
        for name in ('model.index', 'model.data-00000-of-00001'):
            (tmp_path / 'checkpoints' / dataset / name).write_text(name)
    archive = submit.build(tmp_path / NOTEBOOK.name, tmp_path / 'submission.zip')
    names = set(zipfile.ZipFile(archive).namelist())
    assert {'dlnd_face_generation.ipynb', 'dlnd_face_generation.html', 'helper.py', 'problem_unittests.py',
            'dlnd/data/dataset.py', 'checkpoints/mnist/model.index', 'checkpoints/celeba/model.index'} <= names
    html = zipfile.ZipFile(archive).read('dlnd_face_generation.html').decode()
    assert 'Tests Passed' in html and '<img' in html


def test_submission_is_refused_with_the_reason(reference, tmp_path):
    with pytest.raises(SystemExit, match='code cells were not run'):
        submit.build(write(cleared_from(reference, 3), tmp_path / 'part.ipynb'), tmp_path / 'a.zip')
    failed = copy.deepcopy(reference)
    test_cell = next(c for c in failed['cells'] if 'tests.test_generator' in ''.join(c['source']))
    test_cell['outputs'] = [{'output_type': 'error', 'ename': 'AssertionError', 'evalue': 'x', 'traceback': []}]
    with pytest.raises(SystemExit, match=r'the unit test in code cell \d+ failed \(AssertionError\)'):
        submit.build(write(failed, tmp_path / 'failed.ipynb'), tmp_path / 'b.zip')
    assert not (tmp_path / 'a.zip').exists() and not (tmp_path / 'b.zip').exists()


NOT_WRITTEN = 'returned None: it is not written yet, or it does not return its result'
RELEASES = [(NOTEBOOK, 6, f'model_inputs(28, 28, 3, 100) {NOT_WRITTEN}', 'tests.test_model_inputs'),
            (VARIANTS_NOTEBOOK, 9, f'fc_discriminator(images) {NOT_WRITTEN}', 'tests.test_fc_discriminator')]


@pytest.mark.parametrize('notebook, stubs', [release[:2] for release in RELEASES], ids=['faces', 'variants'])
def test_learner_release_stubs_every_solution_and_round_trips(notebook, stubs):
    reference = read(notebook)
    learner = release.learner_notebook(reference)
    sources = [''.join(c['source']) for c in learner['cells'] if c['cell_type'] == 'code']
    assert sum(s.count('# TODO: Implement Function') for s in sources) == stubs
    assert not any(release.BEGIN in s or 'tf.layers' in s for s in sources)
    assert all(not c['outputs'] and c['execution_count'] is None for c in learner['cells'] if c['cell_type'] == 'code')
    prose = [''.join(c['source']) for c in reference['cells'] if c['cell_type'] == 'markdown']
    assert [''.join(c['source']) for c in learner['cells'] if c['cell_type'] == 'markdown'] == \
        [release.STORED_RUN.sub('', text) for text in prose]
    assert any('<!-- stored run -->' in text for text in prose)  # the reference has such prose: it is taken out
    assert not any('stored run' in ''.join(c['source']) for c in learner['cells'] if c['cell_type'] == 'markdown')
    restored = copy.deepcopy(learner)
    for mine, theirs in zip(restored['cells'], reference['cells']):
        if mine['cell_type'] == 'code':
            mine['source'] = release.insert_solutions(mine['source'], ''.join(theirs['source']))
    expected = cleared_from(reference, 0)
    for cell in expected['cells']:
        cell['source'] = ''.join(cell['source'])
        if cell['cell_type'] == 'markdown':
            cell['source'] = release.STORED_RUN.sub('', cell['source'])
    assert restored == expected


@pytest.mark.parametrize('notebook', [NOTEBOOK, VARIANTS_NOTEBOOK], ids=['faces', 'variants'])
def test_a_release_for_another_repository_fetches_from_it_and_links_to_it(notebook):
    learner = release.learner_notebook(read(notebook), 'someone/their-fork')
    text = json.dumps(learner)
    assert PUBLISHED_REPOSITORY not in text
    setup = ''.join(next(c for c in learner['cells'] if c['cell_type'] == 'code')['source'])
    assert "os.environ.get('DLND_PROJECT_SOURCE', 'https://github.com/someone/their-fork.git')" in setup
    title = ''.join(learner['cells'][0]['source'])
    assert f'colab.research.google.com/github/someone/their-fork/blob/main/{notebook.name}' in title
    assert f'kaggle.com/kernels/welcome?src=https://github.com/someone/their-fork/blob/main/{notebook.name}' in title
    with pytest.raises(ValueError, match="--repository 'their-fork': give it as OWNER/NAME"):
        release.learner_notebook(read(notebook), 'their-fork')


@pytest.mark.parametrize('notebook, _, message, first_test', RELEASES, ids=['faces', 'variants'])
def test_learner_notebook_runs_to_its_first_unit_test_which_says_what_is_missing(notebook, _, message, first_test,
                                                                                   shared_data, monkeypatch):
    import nbclient
    import nbformat
    learner = nbformat.from_dict(release.learner_notebook(read(notebook)))
    client = nbclient.NotebookClient(learner, timeout=300, kernel_name='python3',
                                     resources={'metadata': {'path': str(Path(notebook).parent)}})
    monkeypatch.setenv('DLND_DATA_SOURCE', str(shared_data))
    with pytest.raises(nbclient.exceptions.CellExecutionError) as error:
        client.execute()
    assert message in ' '.join(str(error.value).split())  # wrapped to the notebook's width
    ran = [c for c in learner.cells if c.cell_type == 'code' and c.get('execution_count')]
    assert first_test in ran[-1].source
