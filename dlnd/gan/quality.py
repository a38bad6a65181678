"""How a grader judges generated digits, faces and flowers: the notebooks' own metrics, against real data the grader
holds.

    python -m dlnd.gan.quality [DATA] [-o data/quality_reference.npz]     # build the reference file

The reference is one .npz (5 MB): 1,000 MNIST test digits and their features under the project's MNIST
classifier, the classifier's weights, 1,000 CelebA faces, up to 1,000 of the flowers held out from training, and
what a second real set of each scores against the first (the notebooks' "real data" figures; for the flowers, as
many training photographs). Built once from the data folder; the grader's judging sandbox
and the Gradescope bundle read it, and never the data folder itself.
"""
import argparse
import base64
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

from ..data.dataset import images_square_grid, to_unit_range
from ..fileio import DataError, atomic_path
from . import metrics
from .mnist_classifier import SHAPES, MnistClassifier

REFERENCE_NAME = 'quality_reference.npz'
COUNT = 1000  # images compared, as in the notebook's evaluation (dlnd.gan.evaluation.EVAL_IMAGES)
SWD_SIZES = (28, 14, 7)


def build(data_path, path):
    """Write the reference file from MNIST's test set, the cached classifier and the CelebA cache in data_path."""
    from ..data import celeba, flowers, mnist
    from .mnist_classifier import load_or_train
    digits = np.asarray(mnist.load_images(data_path, 'test')[:2 * COUNT])
    faces = np.asarray(celeba.load_images(data_path)[:2 * COUNT])
    held_out = np.asarray(flowers.load_images(data_path, 'held-out')[:COUNT])
    classifier = load_or_train(data_path)
    reference = Reference({'digits': digits[:COUNT], 'faces': faces[:COUNT], 'flowers': held_out,
                           **{f'classifier/{k}': v for k, v in classifier.weights.items()}})
    reference.arrays['digit_features'] = reference.classified(digits[:COUNT])[0]
    reference.arrays['digits_real_scores'] = np.array(reference.digit_scores(digits[COUNT:]))
    reference.arrays['faces_real_scores'] = np.array(reference.face_scores(faces[COUNT:]))
    training = np.asarray(flowers.load_images(data_path)[:len(held_out)])
    reference.arrays['flowers_real_scores'] = np.array(reference.flower_scores(training))
    with atomic_path(path) as tmp, open(tmp, 'wb') as f:
        np.savez_compressed(f, **reference.arrays)
    return Path(path)


class Reference:
    """The real data a grader compares generated images with, and the scores real data gets."""

    EXPECTED = {'digits': ((COUNT, 28, 28, 1), np.uint8), 'faces': ((COUNT, 28, 28, 3), np.uint8),
                'flowers': ((None, 28, 28, 3), np.uint8),  # as many as the data set holds out, up to COUNT
                'digit_features': ((COUNT, 128), np.float64), 'digits_real_scores': ((2,), np.float64),
                'faces_real_scores': ((len(SWD_SIZES),), np.float64),
                'flowers_real_scores': ((len(SWD_SIZES),), np.float64),
                **{f'classifier/{k}': (shape, np.float32)
                   for name, full in SHAPES.items() for k, shape in ((name, full), (name + '_b', full[-1:]))}}

    def __init__(self, arrays):
        self.arrays = arrays
        self._classifier = None

    @classmethod
    def load(cls, path):
        """The reference file, every array checked; DataError naming the file and what is wrong."""
        try:
            with np.load(path) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise DataError(f'{path}: not a readable reference file ({e}); build it again with '
                            'python -m dlnd.gan.quality') from e
        for name, (shape, dtype) in cls.EXPECTED.items():
            array = arrays.get(name)
            if array is None or not fits(array.shape, shape) or array.dtype != dtype:
                found = 'missing' if array is None else f'{array.dtype} {array.shape}'
                expected = str(shape).replace('None', 'n')
                raise DataError(f'{path}: {name} is {found}, expected {np.dtype(dtype)} {expected}; build it '
                                'again with python -m dlnd.gan.quality')
        return cls(arrays)

    @property
    def classifier(self):
        if self._classifier is None:
            self._classifier = MnistClassifier({k.split('/', 1)[1]: self.arrays[k] for k in self.arrays
                                                if k.startswith('classifier/')})
        return self._classifier

    def classified(self, images):
        """(features, class probabilities) of uint8 digits, 200 at a time (20 MB of activations)."""
        return self.classifier.run(to_unit_range(images[:COUNT]), batch=200)

    def digit_scores(self, images):
        """(Frechet distance, classifier score) of uint8 digits (COUNT, 28, 28, 1) against the real ones."""
        features, probabilities = self.classified(images)
        return (metrics.frechet_distance(features, self.arrays['digit_features']),
                metrics.classifier_score(probabilities))

    def digits_read(self, images):
        """The digit the classifier reads in each of any number of uint8 digits."""
        return self.classifier.run(to_unit_range(images), batch=200)[1].argmax(axis=1)

    def flower_scores(self, images):
        """SWD at 28, 14 and 7 px of uint8 flowers against as many held-out ones as the reference holds."""
        return self._swd(images, 'flowers')

    def _swd(self, images, real_name):
        """SWD per level of the first uint8 `images` against as many real ones, the reference's `real_name`."""
        real = self.arrays[real_name]
        return tuple(metrics.swd_per_level(to_unit_range(images[:len(real)]), to_unit_range(real)))

    def face_scores(self, images):
        """SWD at 28, 14 and 7 px of uint8 faces (COUNT, 28, 28, 3) against the real ones."""
        return self._swd(images, 'faces')

    @property
    def digits_real_scores(self):
        return tuple(self.arrays['digits_real_scores'])

    @property
    def faces_real_scores(self):
        return tuple(self.arrays['faces_real_scores'])

    @property
    def flowers_real_scores(self):
        return tuple(self.arrays['flowers_real_scores'])


def fits(shape, expected):
    """Whether an array's shape is the expected one, None standing for any size of at least 1."""
    return len(shape) == len(expected) and all(e == s if e is not None else s > 0 for s, e in zip(shape, expected))


def png_data(figure_or_image):
    """A PIL image or a matplotlib figure as PNG, base64 (for an <img> in an HTML page)."""
    encoded = io.BytesIO()
    if hasattr(figure_or_image, 'savefig'):
        figure_or_image.savefig(encoded, format='png')
    else:
        figure_or_image.save(encoded, 'png')
    return base64.b64encode(encoded.getvalue()).decode('ascii')


def grid_picture(images, count=36, scale=3):
    """The first `count` uint8 images in a square grid, each pixel `scale` pixels wide, as base64 PNG."""
    grid = images_square_grid(images[:count], 'L' if images.shape[3] == 1 else 'RGB')
    return png_data(grid.resize((grid.width * scale, grid.height * scale), 0))  # 0: nearest, pixels stay sharp


def loss_picture(d_losses, g_losses, title):
    """Both losses, line by line as printed, as base64 PNG (matplotlib's Figure: no display needed)."""
    from matplotlib.figure import Figure
    figure = Figure(figsize=(6, 2.4), dpi=100)
    axes = figure.add_subplot()
    batches = np.arange(1, len(d_losses) + 1)
    axes.plot(batches, d_losses, label='discriminator')
    axes.plot(batches, g_losses, label='generator')
    axes.set(xlabel='batches printed', ylabel='loss', title=title)
    axes.legend(loc='upper right')
    figure.tight_layout()
    return png_data(figure)


def default_path(data_path='data'):
    return Path(data_path) / REFERENCE_NAME


def load_or_build(data_path='data', log=print):
    """The reference file in data_path, built first (fetching the data sets if they are not there yet), and built
    again when it cannot be read or lacks what this version scores (it is a cache of the data folder)."""
    path = default_path(data_path)
    if path.is_file():
        try:
            Reference.load(path)
        except DataError as e:
            log(f'{str(e).split("; ")[0]}: building it again')
            path.unlink()
    if not path.is_file():
        from ..data.dataset import download_extract
        for name in ('mnist', 'celeba', 'flowers'):
            download_extract(name, data_path)
        log(f'building {path} (real digits, faces and flowers the grader compares generated images with)')
        build(data_path, path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('data', nargs='?', default='data')
    parser.add_argument('-o', '--output', type=Path)
    args = parser.parse_args(argv)
    path = build(args.data, args.output or default_path(args.data))
    reference = Reference.load(path)
    print(f'wrote {path} ({path.stat().st_size / 1e6:.1f} MB); real data scores: Frechet distance '
          f'{reference.digits_real_scores[0]:.2f}, classifier score {reference.digits_real_scores[1]:.2f}, SWD '
          + ', '.join(f'{size}px {value:.2f}' for size, value in zip(SWD_SIZES, reference.faces_real_scores))
          + '; flowers SWD ' + ', '.join(f'{size}px {value:.2f}'
                                         for size, value in zip(SWD_SIZES, reference.flowers_real_scores)))


if __name__ == '__main__':
    sys.exit(main())
