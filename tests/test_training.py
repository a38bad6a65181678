"""The notebook's train() on real data: losses, checkpoint, generate.py, and its guard against NaN."""
import os

import numpy as np
import pytest

import helper
from dlnd.gan.generate import generate
from dlnd.notebook import load_functions

os.environ.setdefault('MPLBACKEND', 'Agg')
tf = helper.import_tensorflow()


@pytest.fixture(scope='module')
def mnist_data(mnist_folder):
    return helper.Dataset('mnist', mnist_folder)


def test_train_saves_a_generator_that_generate_py_reads(mnist_data, tmp_path, capsys):
    notebook = load_functions(tf)
    with tf.Graph().as_default():
        history = notebook['train'](1, 32, 100, 2e-4, 0.5, mnist_data.get_batches, mnist_data.shape, 'L',
                                    print_every=5, show_every=10, max_batches=12,
                                    checkpoint_dir=str(tmp_path / 'ckpt'))
    out = capsys.readouterr().out
    printed = [line for line in out.splitlines() if 'discriminator loss' in line and 'generator loss' in line]
    assert [line.split()[3] for line in printed] == ['5', '10', '12']  # every 5 batches, and the last one's
    assert printed[-1].endswith(f'generator loss: {history["losses"][-1][1]:.4f}')
    assert 'Finished after 12 batches' in out
    assert history['losses'].shape == (12, 2) and np.isfinite(history['losses']).all()
    images = generate(tmp_path / 'ckpt', 70, seed=1)
    assert images.shape == (70, 28, 28, 1) and images.min() >= -1 and images.max() <= 1
    np.testing.assert_array_equal(images, generate(tmp_path / 'ckpt', 70, seed=1))  # the seed repeats it


def test_grids_during_training_do_not_grow_the_graph(mnist_data, capsys):
    # every grid must reuse train()'s sampler: a new generator subgraph per grid slows a long run down
    notebook = load_functions(tf)
    op_counts = []
    for show_every in (1, 100):  # a grid after every batch, or only the final one
        with tf.Graph().as_default() as graph:
            notebook['train'](1, 16, 100, 2e-4, 0.5, mnist_data.get_batches, mnist_data.shape, 'L',
                              show_every=show_every, max_batches=4)
        op_counts.append(len(graph.get_operations()))
    assert op_counts[0] == op_counts[1], f'{op_counts[0] - op_counts[1]} more ops after 3 more grids'


def test_one_run_updates_of_both_networks_use_resource_variables():
    # train() runs both optimizers in one sess.run; only resource variables give that run one snapshot
    # of D's weights, so G's gradient cannot read a half-updated discriminator.
    notebook = load_functions(tf)
    with tf.Graph().as_default():
        input_real, input_z, lr = notebook['model_inputs'](28, 28, 1, 100)
        d_loss, g_loss = notebook['model_loss'](input_real, input_z, 1)
        notebook['model_opt'](d_loss, g_loss, lr, 0.5)
        kinds = {v.op.type for v in tf.global_variables()}
    assert kinds == {'VarHandleOp'}, kinds


def test_train_stops_on_nan_losses(mnist_data):
    notebook = load_functions(tf)

    def poisoned_batches(batch_size):
        for batch in mnist_data.get_batches(batch_size):
            yield np.full_like(batch, np.nan)
    with pytest.raises(FloatingPointError, match='diverged; lower the learning rate'), tf.Graph().as_default():
        notebook['train'](1, 16, 100, 2e-4, 0.5, poisoned_batches, mnist_data.shape, 'L', max_batches=3)


def test_generate_without_checkpoint_says_so(tmp_path):
    with pytest.raises(helper.DataError, match='no checkpoint here'):
        generate(tmp_path, 10)
