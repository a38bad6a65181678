"""Batches of real images for training and grids for looking at them."""
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image

from . import celeba, mnist
from .fileio import DataError

DATASETS = {'mnist': (mnist, 'L'), 'celeba': (celeba, 'RGB')}


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


class Dataset:
    """Real images of one data set, memory-mapped as uint8 and scaled to [-1, 1] one batch at a time."""

    def __init__(self, name, data_path='./data', seed=0):
        module, self.image_mode = dataset_module(name)
        self.name = name
        self.images = module.load_images(data_path)  # uint8 (n, 28, 28, channels)
        self.shape = self.images.shape
        self._rng = np.random.default_rng(seed)

    def get_batches(self, batch_size):
        """One epoch of float32 batches (batch_size, 28, 28, channels), in a fresh order each call.

        The last partial batch is dropped, so every batch has the same size.
        """
        if not 0 < batch_size <= self.shape[0]:
            raise ValueError(f'batch_size must be between 1 and {self.shape[0]}, got {batch_size}')
        order = self._rng.permutation(self.shape[0])
        for start in range(0, self.shape[0] - batch_size + 1, batch_size):
            # Sorted indices read the memory map front to back; the batch's own order does not matter.
            yield to_unit_range(self.images[np.sort(order[start:start + batch_size])])


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
    if mode not in ('L', 'RGB'):
        raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.clip((images + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    side = math.isqrt(len(images))
    if side == 0:
        raise ValueError('images_square_grid needs at least one image')
    if images.ndim == 4 and images.shape[3] == 1:
        images = images[..., 0]
    h, w = images.shape[1:3]
    rows = images[:side * side].reshape(side, side, h, w, *images.shape[3:])
    grid = rows.swapaxes(1, 2).reshape(side * h, side * w, *images.shape[3:])
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
