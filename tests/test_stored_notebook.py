"""The outputs stored in the committed notebook come from one full top-to-bottom run."""
import re

from dlnd.notebook import NOTEBOOK, code_cells, read
from dlnd.submit import completeness_problems, stdout_of, unit_test_problems


def cell_running(marker):
    return next(cell for cell in code_cells(NOTEBOOK) if marker in cell['source'])


def images_in(cell):
    return sum('image/png' in output.get('data', {}) for output in cell['outputs'])


def test_every_cell_ran_in_order_and_every_unit_test_passed():
    nb = read(NOTEBOOK)
    assert completeness_problems(nb) == [] and unit_test_problems(nb) == []


def test_mnist_ran_two_full_epochs_with_a_grid_every_100_batches():
    cell = cell_running('mnist_history = train(')
    assert 'Finished after 1874 batches' in stdout_of(cell)  # 2 epochs of 60,000 // 64 batches
    assert images_in(cell) >= 1874 // 100


def test_celeba_ran_about_one_full_celeba_epoch_of_batches():
    cell = cell_running('celeba_history = train(')
    text = stdout_of(cell)
    faces, epochs = re.search(r'([\d,]+) faces: (\d+) epochs', text).groups()
    batches = int(epochs) * (int(faces.replace(',', '')) // 64)
    assert f'Finished after {batches} batches' in text
    assert 3000 <= batches <= 3400 and images_in(cell) >= batches // 100
