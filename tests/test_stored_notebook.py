"""The outputs stored in the committed notebooks come from one full top-to-bottom run."""
import re

import pytest

from dlnd.notebook import NOTEBOOK, VARIANTS_NOTEBOOK, cell_settings, code_cells, read
from dlnd.notebook import completeness_problems, images_in, stdout_of, unit_test_problems


def cell_running(marker):
    return next(cell for cell in code_cells(NOTEBOOK) if marker in cell['source'])


def test_every_cell_ran_in_order_and_every_unit_test_passed():
    nb = read(NOTEBOOK)
    assert completeness_problems(nb) == [] and unit_test_problems(nb) == []


def test_mnist_ran_every_epoch_with_a_grid_every_100_batches():
    cell = cell_running('mnist_history = train(')
    settings = cell_settings(cell['source'])
    batches = settings['epochs'] * (60_000 // settings['batch_size'])
    assert f'Finished after {batches} batches' in stdout_of(cell)
    assert images_in(cell) >= batches // 100


def test_celeba_ran_the_batches_of_its_full_size_epochs_with_a_grid_every_100():
    cell = cell_running('celeba_history = train(')
    text, settings = stdout_of(cell), cell_settings(cell['source'])
    faces, epochs = re.search(r'([\d,]+) faces: (\d+) epochs', text).groups()
    batches = int(epochs) * (int(faces.replace(',', '')) // settings['batch_size'])
    assert f'Finished after {batches} batches' in text
    wanted = settings['full_celeba_epochs'] * (settings['full_celeba_size'] // settings['batch_size'])
    assert abs(batches - wanted) <= 0.05 * wanted and images_in(cell) >= batches // 100


@pytest.mark.parametrize('notebook', [NOTEBOOK, VARIANTS_NOTEBOOK], ids=lambda path: path.name)
def test_no_tensorflow_log_line_reached_the_stored_outputs(notebook):
    from dlnd.tf_setup import NATIVE_LOG_LINE
    texts = [''.join(output.get('text', '')) for cell in code_cells(notebook) for output in cell.get('outputs', [])]
    lines = [line for text in texts for line in text.splitlines() if NATIVE_LOG_LINE.match(line)]
    assert lines == [], lines[:3]
