"""Batches of real images for training and grids for looking at them."""
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image

from ..fileio import DataError
from . import celeba, flowers, mnist

DATASETS = {'mnist': (mnist, 'L'), 'celeba': (celeba, 'RGB'), 'flowers': (flowers, 'RGB')}


def dataset_module(name):
    if name not in DATASETS:
        raise ValueError(f'unknown data set {name!r}; expected one of {sorted(DATASETS)}')
    return DATASETS[name]


def download_extract(name, data_path='./data'):
    """Make data set `name` ready under data_path; does nothing when it already is."""
    module, _ = dataset_module(name)
    Path(data_path).mkdir(parents=True, exist_ok=True)
    module.prepare(data_path)


def to_unit_range(images):
    """uint8 [0, 255] -> float32 [-1, 1], the generator's tanh range."""
    return images.astype(np.float32) / 127.5 - 1.0


def one_hot(labels, classes):
    """Class numbers (n,) as float32 one-hot rows (n, classes)."""
    return np.eye(classes, dtype=np.float32)[np.asarray(labels)]


class Dataset:
    """Real images of one data set ('mnist', 'celeba' or 'flowers'), memory-mapped as uint8 and scaled to
    [-1, 1] one batch at a time, with their class labels where the data set has them (MNIST's digits).
    split: 'train' (the default), MNIST's 'test', or the flowers' 'held-out'."""

    def __init__(self, name, data_path='./data', seed=0, split='train'):
        module, self.image_mode = dataset_module(name)
        self.name = name
        self.images = module.load_images(data_path, split)  # uint8 (n, 28, 28, channels)
        self.shape = self.images.shape
        self.labels = module.load_labels(data_path, split) if hasattr(module, 'load_labels') else None  # (n,)
        self.classes = None if self.labels is None else int(np.max(self.labels)) + 1
        self._rng = np.random.default_rng(seed)

    def get_batches(self, batch_size, labels=False):
        """One epoch of float32 batches (batch_size, 28, 28, channels), in a fresh order each call; with
        labels=True, (images, one-hot labels (batch_size, classes)) pairs.

        The last partial batch is dropped, so every batch has the same size.
        """
        if not 0 < batch_size <= self.shape[0]:
            raise ValueError(f'batch_size must be between 1 and {self.shape[0]}, got {batch_size}')
        if labels and self.labels is None:
            raise ValueError(f'{self.name} has no labels; get_batches(..., labels=True) needs a labelled data set')
        order = self._rng.permutation(self.shape[0])
        for start in range(0, self.shape[0] - batch_size + 1, batch_size):
            # Sorted indices read the memory map front to back; the batch's own order does not matter.
            index = np.sort(order[start:start + batch_size])
            images = to_unit_range(self.images[index])
            yield (images, one_hot(self.labels[index], self.classes)) if labels else images


def get_batch(name, count, data_path='./data'):
    """The first `count` real images of a data set, uint8 (count, 28, 28, channels), for display."""
    module, _ = dataset_module(name)
    images = module.load_images(data_path)
    if count > len(images):
        raise DataError(f'asked for {count} {name} images, but only {len(images)} are prepared')
    return np.asarray(images[:count])


def images_square_grid(images, mode):
    """A PIL image of the images in a square grid (as many as fill whole rows and columns).

    uint8 images are shown as they are; float images are taken to be in [-1, 1].
    """
    return images_grid(images, mode, math.isqrt(len(images)))


def images_grid(images, mode, columns):
    """A PIL image of the images row by row, `columns` to a row (as many as fill whole rows)."""
    if mode not in ('L', 'RGB'):
        raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.clip((images + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    rows = len(images) // columns if columns else 0
    if rows == 0:
        raise ValueError(f'a grid of {columns} columns needs at least {max(columns, 1)} images, got {len(images)}')
    if images.ndim == 4 and images.shape[3] == 1:
        images = images[..., 0]
    h, w = images.shape[1:3]
    cells = images[:rows * columns].reshape(rows, columns, h, w, *images.shape[3:])
    grid = cells.swapaxes(1, 2).reshape(rows * h, columns * w, *images.shape[3:])
    return Image.fromarray(grid).convert(mode)


def grid_display(images, mode, scale=2):
    """The images' square grid for Jupyter's display(), drawn at `scale` times its pixel size.

    Grayscale grids are PNG; colour ones JPEG (quality 90, full-resolution colour), a third of PNG's
    size, which keeps a notebook that stores a grid every 100 CelebA batches a few megabytes.
    """
    from IPython.display import Image as DisplayImage
    grid = images_square_grid(images, mode)
    kind, options = ('png', {}) if mode == 'L' else ('jpeg', {'quality': 90, 'subsampling': 0})
    encoded = io.BytesIO()
    grid.save(encoded, kind, **options)
    return DisplayImage(data=encoded.getvalue(), format=kind, width=grid.width * scale)
