"""Metrics on inputs whose answer is known, and the MNIST classifier they rely on."""
import numpy as np
import pytest

import helper
from dlnd.gan import evaluation, metrics
from dlnd.data import mnist
from dlnd.data.dataset import to_unit_range
from dlnd.gan.evaluation import CelebaEvaluator, MnistEvaluator
from dlnd.gan.mnist_classifier import MIN_ACCURACY, accuracy_on_test_set, load_or_train


def test_frechet_distance_of_gaussians_matches_the_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 4))
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shifted = a + np.array([1.0, 0, 0, 0])
    assert metrics.frechet_distance(a, shifted) == pytest.approx(1.0, abs=1e-6)  # |mean difference|^2
    wider = a * 2.0  # cov 4I against I: trace(I + 4I - 2 * 2I) = 4 * 1
    assert metrics.frechet_distance(a, wider) == pytest.approx(4.0, rel=0.05)
    assert metrics.frechet_distance(a, a + 3.0) > metrics.frechet_distance(a, shifted)


def test_classifier_score_ranges_from_collapsed_to_diverse():
    confident = np.eye(10)[np.arange(1000) % 10]
    assert metrics.classifier_score(confident) == pytest.approx(10.0, rel=1e-6)
    collapsed = np.eye(10)[np.zeros(1000, int)]
    assert metrics.classifier_score(collapsed) == pytest.approx(1.0, rel=1e-6)
    unsure = np.full((1000, 10), 0.1)
    assert metrics.classifier_score(unsure) == pytest.approx(1.0, rel=1e-6)
    histogram = metrics.class_histogram(np.eye(10)[[3, 3, 1, 0]])
    assert histogram.tolist() == [0.25, 0.25, 0, 0.5, 0, 0, 0, 0, 0, 0]


def test_laplacian_pyramid_levels_add_back_up():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (3, 28, 28, 3))
    levels = metrics.laplacian_pyramid(images)
    assert [level.shape[1] for level in levels] == [28, 14, 7]
    flat = np.full((1, 28, 28, 1), 0.5)
    assert all(np.allclose(level, 0) for level in metrics.laplacian_pyramid(flat)[:-1])  # no detail in a flat image


def test_swd_is_zero_for_identical_sets_and_orders_real_blur_noise(celeba_folder):
    images = to_unit_range(helper.get_batch('celeba', 1200, celeba_folder))
    real_a, real_b = images[:600], images[600:]
    assert metrics.swd_per_level(real_a, real_a) == [0.0, 0.0, 0.0]
    real = metrics.swd_per_level(real_a, real_b)
    blurred = metrics.swd_per_level(real_a, metrics._blur(real_b))
    noise = metrics.swd_per_level(real_a, np.random.default_rng(0).uniform(-1, 1, real_b.shape))
    collapsed = metrics.swd_per_level(real_a, np.repeat(real_b[:1], 600, axis=0))
    assert blurred[0] > 3 * real[0]  # blur removes the finest detail
    assert all(n > 3 * r for n, r in zip(noise, real))
    assert all(c > 2 * r for c, r in zip(collapsed, real))
    assert metrics.swd_per_level(real_a, real_b, seed=5) == metrics.swd_per_level(real_a, real_b, seed=5)


def test_mnist_classifier_is_trained_once_and_accurate(mnist_folder):
    classifier = load_or_train(mnist_folder, log=lambda message: None)
    assert accuracy_on_test_set(classifier, mnist_folder) >= MIN_ACCURACY
    cached = mnist_folder / 'mnist_classifier.npz'
    assert cached.is_file()
    stamp = cached.stat().st_mtime_ns
    load_or_train(mnist_folder)
    assert cached.stat().st_mtime_ns == stamp


def test_mnist_metrics_separate_real_digits_from_collapse_and_noise(mnist_folder):
    evaluate = MnistEvaluator(mnist_folder)
    real = evaluate.real_baseline()
    train_digits = to_unit_range(mnist.load_images(mnist_folder)[:1000])
    ones = train_digits[np.asarray(mnist.load_labels(mnist_folder)[:1000]) == 1]
    collapsed = evaluate(np.resize(ones, (1000, 28, 28, 1)))
    noise = evaluate(np.random.default_rng(0).uniform(-1, 1, (1000, 28, 28, 1)).astype(np.float32))
    assert real['classifier score'] > 9 and real['smallest class share'] > 0.07
    assert collapsed['classifier score'] < 1.5 and collapsed['class histogram'][1] > 0.9
    assert collapsed['Frechet distance'] > 10 * real['Frechet distance']
    assert noise['Frechet distance'] > collapsed['Frechet distance'] / 4


def test_evaluation_command_scores_a_npy_and_counts_classes_over_all_images(mnist_folder, tmp_path, capsys):
    labels = np.asarray(mnist.load_labels(mnist_folder)[:3000])
    fives_last = np.argsort(labels == 5, kind='stable')  # the first 1,000 images hold no five
    np.save(tmp_path / 'digits.npy', to_unit_range(mnist.load_images(mnist_folder)[:3000])[fives_last])
    evaluation.main([str(tmp_path / 'digits.npy'), '--data', str(mnist_folder)])
    out = capsys.readouterr().out
    assert float(out.split('smallest class share')[1].split()[0]) == 0, out  # the metrics: the first 1,000
    shares = out.split('class shares over all 3,000 images: ')[1].split()
    fives = float(shares[shares.index('5:') + 1].rstrip('%')) / 100
    assert abs(fives - np.mean(labels == 5)) < 0.01, out  # over all 3,000, not the first 1,000


def test_evaluation_command_names_the_file_with_the_wrong_shape(tmp_path):
    np.save(tmp_path / 'flat.npy', np.zeros((1000, 784), np.float32))
    with pytest.raises(helper.DataError, match=r'flat\.npy: expected images of shape \(n, 28, 28, 1 or 3\)'):
        evaluation.main([str(tmp_path / 'flat.npy')])


def test_celeba_evaluator_names_each_level(celeba_folder):
    evaluate = CelebaEvaluator(celeba_folder, count=300)
    baseline = evaluate.real_baseline()
    assert list(baseline) == ['SWD 28px', 'SWD 14px', 'SWD 7px']
    assert all(value > 0 for value in baseline.values())


def test_median_nearest_distance_and_closeness_to_the_training_flowers(flowers_folder):
    from dlnd.gan.evaluation import FlowersEvaluator
    from dlnd.gan.metrics import median_nearest_distance
    points = np.array([[0.0, 0.0], [3.0, 4.0], [13.0, 0.0]])
    assert median_nearest_distance(points, np.array([[0.0, 1.0], [3.0, 0.0]])) == 4.0  # of 1, 4 and 10 (mean 5)
    evaluator = FlowersEvaluator(flowers_folder)
    assert evaluator.closeness_to_training(evaluator.real) == pytest.approx(1.0)
    assert evaluator.closeness_to_training(evaluator.training[10:50]) < 1e-3  # copies of training photographs


def test_the_flowers_floor_scores_each_disjoint_set_of_training_photographs(flowers_folder):
    from dlnd.gan.evaluation import FlowersEvaluator
    evaluator = FlowersEvaluator(flowers_folder)
    floor = evaluator.real_floor()
    assert len(floor) == len(evaluator.training) // len(evaluator.real) == 3  # 655 training, 164 held out
    assert floor[0] == evaluator.real_baseline()
    n = len(evaluator.real)
    assert floor[2] == evaluator(evaluator.training[2 * n:3 * n]) != floor[1]
