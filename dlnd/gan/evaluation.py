"""Metric callables for training: each takes generated images in [-1, 1] and returns named numbers.

Run as a command, it scores a .npy of generated images (from dlnd.gan.generate, say):

    python -m dlnd evaluate mnist_samples.npy [--data data]

MNIST (1 channel): the metrics of the first 1,000 images, and each class's share over all of them
(10,000 images pin a share down to about 0.3 points). CelebA (3 channels): SWD of the first 1,000.
"""
import argparse
import sys

import numpy as np

from ..data import celeba, flowers, mnist
from ..data.dataset import to_unit_range
from ..fileio import DataError
from . import metrics
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

    def class_shares(self, generated):
        """Each digit's share of all the generated images (not only the first 1,000)."""
        return metrics.class_histogram(self.classifier.probabilities(generated))


class SwdEvaluator:
    """Sliced Wasserstein distance (x1000) per pyramid level (28, 14, 7 px) against a set of real images,
    with another real set of the same size as the reference."""

    def __init__(self, real, other_real):
        self.real, self.other_real = real, other_real

    def __call__(self, generated):
        levels = metrics.swd_per_level(generated[:len(self.real)], self.real)
        return {f'SWD {self.real.shape[1] >> k}px': value for k, value in enumerate(levels)}

    def real_baseline(self):
        return self(self.other_real)


class CelebaEvaluator(SwdEvaluator):
    """Against real faces, with two disjoint sets of 1,000."""

    def __init__(self, data_path, count=EVAL_IMAGES):
        faces = celeba.load_images(data_path)
        super().__init__(to_unit_range(faces[:count]), to_unit_range(faces[count:2 * count]))


class FlowersEvaluator(SwdEvaluator):
    """Against the held-out photographs, which the GANs never train on; the reference is as many training
    photographs against them (what a GAN that reproduced its training set exactly would score)."""

    def __init__(self, data_path):
        held_out = to_unit_range(flowers.load_images(data_path, 'held-out'))
        self.training = to_unit_range(flowers.load_images(data_path))
        super().__init__(held_out, self.training[:len(held_out)])

    def real_floor(self):
        """The SWD per level of each disjoint set of training photographs (as many as held out, the first being
        real_baseline's) against the held-out ones: the range that real flowers score."""
        n = len(self.real)
        return [self(self.training[k * n:(k + 1) * n]) for k in range(len(self.training) // n)]

    def closeness_to_training(self, generated):
        """How close images come to the training photographs, as a share of how close new real flowers come:
        the median distance from each image to its nearest training photograph, over the same median for the
        held-out photographs. About 1 for new flowers; well under 1 for copies of the training set."""
        return metrics.median_nearest_distance(generated, self.training) / \
            metrics.median_nearest_distance(self.real, self.training)


def load_samples(path):
    """Generated images (n, 28, 28, 1 or 3) in [-1, 1], at least EVAL_IMAGES of them, or a DataError."""
    images = np.load(path)
    if images.ndim != 4 or images.shape[1:3] != (28, 28) or images.shape[3] not in (1, 3):
        raise DataError(f'{path}: expected images of shape (n, 28, 28, 1 or 3), got {images.shape}')
    if len(images) < EVAL_IMAGES:
        raise DataError(f'{path}: {len(images)} images; the metrics need at least {EVAL_IMAGES}')
    if images.min() < -1 or images.max() > 1:
        raise DataError(f'{path}: values from {images.min():.2f} to {images.max():.2f}; expected [-1, 1]')
    return images


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('samples', help='.npy of generated images, e.g. from python -m dlnd generate')
    parser.add_argument('--data', default='data', help='the data folder with MNIST or the CelebA cache')
    args = parser.parse_args(argv)
    images = load_samples(args.samples)
    evaluator = (MnistEvaluator if images.shape[3] == 1 else CelebaEvaluator)(args.data)
    real, generated = evaluator.real_baseline(), evaluator(images)
    print(f'{"metric":24}{"generated":>12}{"real data":>12}   (first {EVAL_IMAGES} images)')
    for name, value in generated.items():
        if np.isscalar(value):
            print(f'{name:24}{value:12.2f}{real[name]:12.2f}')
    if isinstance(evaluator, MnistEvaluator):
        shares = evaluator.class_shares(images)
        print(f'class shares over all {len(images):,} images: '
              + '  '.join(f'{digit}: {share:.1%}' for digit, share in enumerate(shares)))


if __name__ == '__main__':
    sys.exit(main())
