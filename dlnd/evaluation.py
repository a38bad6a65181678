"""Metric callables for training: each takes generated images in [-1, 1] and returns named numbers."""
from . import celeba, metrics, mnist
from .dataset import to_unit_range
from .mnist_classifier import load_or_train

EVAL_IMAGES = 1000


class MnistEvaluator:
    """Frechet distance and classifier score against MNIST's test digits, with the real test set's
    own values (one half against the other) as the reference."""

    def __init__(self, data_path, count=EVAL_IMAGES):
        self.classifier = load_or_train(data_path)
        test = to_unit_range(mnist.load_images(data_path, 'test')[:2 * count])
        self.real, self.other_real = test[:count], test[count:]

    def __call__(self, generated):
        result = metrics.mnist_metrics(self.classifier, generated[:len(self.real)], self.real)
        return {'Frechet distance': result['frechet_distance'], 'classifier score': result['classifier_score'],
                'smallest class share': float(result['class_histogram'].min()),
                'class histogram': result['class_histogram']}

    def real_baseline(self):
        return self(self.other_real)


class CelebaEvaluator:
    """Sliced Wasserstein distance (x1000) per pyramid level (28, 14, 7 px) against real faces,
    with two disjoint real sets as the reference."""

    def __init__(self, data_path, count=EVAL_IMAGES):
        faces = celeba.load_images(data_path)
        self.real, self.other_real = to_unit_range(faces[:count]), to_unit_range(faces[count:2 * count])

    def __call__(self, generated):
        levels = metrics.swd_per_level(generated[:len(self.real)], self.real)
        return {f'SWD {size}px': value for size, value in zip((28, 14, 7), levels)}

    def real_baseline(self):
        return self(self.other_real)
