"""bench/gan_settings.py: every named setting builds, and the kinds of setting train on real MNIST batches."""
import importlib.util
import json

import numpy as np
import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location('gan_settings', ROOT / 'bench' / 'gan_settings.py')
gan_settings = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gan_settings)
tf = gan_settings.tf


@pytest.mark.parametrize('name', ['notebook', *gan_settings.NOTEBOOK_VARIANTS, *gan_settings.VARIANTS])
def test_every_setting_builds_a_sampler_of_28x28_images(name):
    with tf.Graph().as_default():
        _, _, train_ops, sampler, _ = gan_settings.build_graph(name, 3)
        assert train_ops and sampler.shape.as_list() == [None, 28, 28, 3]


# one setting for each code path: separate runs, one run, two G steps, moving average, minibatch
# standard deviation, dropout, learning-rate decay, normal noise, and the notebook's own functions
@pytest.mark.parametrize('name', ['recipe', 'k4_sim_half', 'k4_g2', 'k4_sim_half_lr_g1e-3_ema999',
                                  'k4_sim_half_lr_g1e-3_mbstd', 'k4_sim_half_lr_g1e-3_dropout',
                                  'k4_sim_half_lr_g1e-3_decay08',
                                  'k4_sim_half_lr_g1e-3_normal_z', 'notebook'])
def test_settings_train_and_are_scored(name, mnist_folder):
    dataset = gan_settings.helper.Dataset('mnist', mnist_folder)
    record, samples = gan_settings.train_setting(name, dataset, 3, None, lambda s: {'mean': float(s.mean())})
    assert record['setting'] == name and record['batches'] == 3
    assert samples.shape == (1000, 28, 28, 1) and np.abs(samples).max() <= 1 and np.isfinite(record['mean'])


@pytest.mark.parametrize('name, batch_size', [('recipe', 64), ('notebook', 64), ('notebook_b128', 128)])
def test_settings_train_on_batches_of_their_own_size(name, batch_size, mnist_folder):
    dataset = gan_settings.helper.Dataset('mnist', mnist_folder)
    sizes, get_batches = [], dataset.get_batches

    def recording_batches(size):
        for batch in get_batches(size):
            sizes.append(len(batch))
            yield batch
    dataset.get_batches = recording_batches
    record, _ = gan_settings.train_setting(name, dataset, 2, None, lambda s: {})
    assert record['batches'] == 2 and sizes == [batch_size] * 2


def test_every_prints_the_scores_during_training(mnist_folder, capsys):
    dataset = gan_settings.helper.Dataset('mnist', mnist_folder)
    record, _ = gan_settings.train_setting('k4_sim_half', dataset, 5, None, lambda s: {'mean': float(s.mean())},
                                           every=2)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line['batches'] for line in lines] == [2, 4] and record['batches'] == 5
    assert all(line['setting'] == 'k4_sim_half' and np.isfinite(line['mean']) for line in lines)
