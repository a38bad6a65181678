"""Photographs cropped to their centre square and shrunk, once, in parallel, into a memory-mapped cache.

Used by CelebA (the course's 108/178 crop of the aligned faces) and the Oxford flowers (the whole centre
square). The cache sits beside a JSON record of the files, crop and size it was built from, and of its own
size, header and checksum (dlnd.data.cache): a change of sources rebuilds it, and so does a damaged cache.
"""
import dataclasses
import functools
import hashlib
import io
import math
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ..fileio import DataError
from . import cache

try:
    import simplejpeg  # libjpeg-turbo's scaled decode: the cache builds 1.4x as fast as with Pillow's (bench_data.py)
except ImportError:  # not preinstalled on hosted kernels: Pillow's draft mode also scales while decoding
    simplejpeg = None

FILES_PER_TASK = 256  # files a worker crops per task: fewer, larger messages between processes
DECODER_NOTE = 'simplejpeg is not installed: decoding JPEGs with Pillow (pip install simplejpeg is faster)'


@dataclasses.dataclass(frozen=True)
class Crop:
    """The centre square of side `fraction` x the shorter side, resized to `size` x `size` pixels, from a decode
    that keeps that square at least `oversample` x `size` pixels (more detail to average over)."""
    size: int
    fraction: float
    version: int  # of the code that makes the pixels; part of every cache's fingerprint
    oversample: int = 1


@dataclasses.dataclass(frozen=True)
class PhotoSet:
    """A data set of photographs prepared once into a cache (<stem>_<size>x<size>.npy beside its record): where
    its folders of JPEGs may lie, and the cache's paths, preparation and loading. find_or_fetch(data_path)
    returns the folders to build from, fetching them if it must (each data set has its own sources)."""
    label: str  # as messages name it
    stem: str
    crop: Crop
    folder_names: tuple  # folders of JPEGs, in the order they are searched
    places: tuple  # where under a root they may lie ('' for the root itself), in the order they are searched

    def cache_paths(self, data_path):
        stem = Path(data_path) / f'{self.stem}_{self.crop.size}x{self.crop.size}'
        return stem.with_suffix('.npy'), stem.with_suffix('.json')

    def image_folders(self, root):
        """The folders of JPEGs under `root`, in the order they are searched."""
        return [Path(root) / place / name for place in self.places for name in self.folder_names
                if (Path(root) / place / name).is_dir()]

    def prepare(self, data_path, find_or_fetch, workers=None):
        """Make the cache ready under data_path, rebuilding it when its sources changed or it is damaged."""
        return prepare(*self.cache_paths(data_path), lambda: find_or_fetch(data_path), self.crop, self.label, workers)

    def load(self, data_path, find_or_fetch):
        """uint8 array (n, size, size, 3), memory-mapped from the cache (rebuilt first, saying why, if damaged)."""
        return load(*self.cache_paths(data_path), lambda: self.prepare(data_path, find_or_fetch), self.label)


def list_images(folders):
    """Sorted JPEG paths, one per file name: a name seen in an earlier folder is not taken again."""
    chosen = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob('*.jpg')):
            chosen.setdefault(path.name, path)
    return [chosen[name] for name in sorted(chosen)]


def fingerprint(files, crop):
    """What a cache depends on: each file's name and size, the crop, the output size and the code version."""
    oversampled = f' {crop.oversample}' if crop.oversample != 1 else ''  # (CelebA's caches predate it)
    digest = hashlib.sha256(f'{crop.version} {crop.fraction:.6f} {crop.size}{oversampled}\n'.encode())
    for path in files:
        digest.update(f'{path.name}\t{path.stat().st_size}\n'.encode())
    return digest.hexdigest()


def reduced_size(width, height, crop):
    """The smallest decode size, at 1/2, 1/4 or 1/8 scale, that keeps the crop at least oversample x size pixels.

    Power-of-two scales keep the picture as sharp as a full-size decode (others, like 3/8, blur it).
    """
    side = min(width, height) * crop.fraction
    factor = next((k for k in (8, 4, 2) if side / k >= crop.size * crop.oversample), 1)
    return math.ceil(width / factor), math.ceil(height / factor)


def decode_reduced(path, crop, use_simplejpeg=None):
    """(uint8 RGB pixels (h, w, 3), original (width, height)), decoded no larger than the crop needs.

    libjpeg-turbo shrinks while decoding (through simplejpeg when it is installed, else Pillow's draft
    mode), which skips most of the work of a full-size decode. Files simplejpeg cannot read this way
    (PNG inside, CMYK, damaged) go to Pillow, which converts them or says what is wrong.
    """
    data = Path(path).read_bytes()
    if simplejpeg is not None and use_simplejpeg is not False:
        try:
            return _decode_with_simplejpeg(data, crop)
        except ValueError:
            pass
    img = Image.open(io.BytesIO(data))
    size = img.size
    img.draft('RGB', reduced_size(*size, crop))
    return np.asarray(img.convert('RGB')), size


def _decode_with_simplejpeg(data, crop):
    height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
    if colorspace not in ('RGB', 'YCbCr', 'Gray'):
        raise ValueError(f'colorspace {colorspace}')
    min_width, min_height = reduced_size(width, height, crop)
    return simplejpeg.decode_jpeg(data, colorspace='RGB', min_width=min_width, min_height=min_height), (width, height)


@functools.lru_cache(maxsize=64)
def resize_weights(start, length, source_length, size):
    """(first source pixel, weights (size, taps)): Pillow's bilinear resize of the span [start, start + length)
    to `size` pixels, as a matrix (same centres, same widened triangle)."""
    scale = length / size
    support = max(scale, 1.0)
    centers = start + (np.arange(size) + 0.5) * scale
    first = max(int(centers[0] - support + 0.5), 0)
    last = min(int(centers[-1] + support + 0.5), source_length)
    distance = np.abs(np.arange(first, last) + 0.5 - centers[:, None]) / support
    weights = np.maximum(1 - distance, 0)
    return first, (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def crop_box(original_size, decoded_width, crop):
    """(left, top, right, bottom) of the centre square, in decoded pixels.

    The box is placed in original pixels and then scaled, so a reduced decode crops exactly the
    same square as a full-size one.
    """
    width, height = original_size
    side = round(min(width, height) * crop.fraction)
    left, top = (width - side) // 2, (height - side) // 2
    scale = decoded_width / width
    return tuple(v * scale for v in (left, top, left + side, top + side))


def shrink(pixels, original_size, crop):
    """The crop_box of decoded pixels, resized to uint8 (size, size, 3).

    The resize is two small matrix products, faster than going through a PIL image for so few pixels.
    """
    left, top, right, bottom = crop_box(original_size, pixels.shape[1], crop)
    x0, across = resize_weights(left, right - left, pixels.shape[1], crop.size)
    y0, down = resize_weights(top, bottom - top, pixels.shape[0], crop.size)
    region = pixels[y0:y0 + down.shape[1], x0:x0 + across.shape[1]].transpose(2, 0, 1).astype(np.float32)
    image = (down @ region @ across.T).transpose(1, 2, 0)  # per channel: rows, then columns
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def crop_and_resize(path, crop, use_simplejpeg=None):
    """One photograph as uint8 (size, size, 3): its crop_box, shrunk."""
    return shrink(*decode_reduced(path, crop, use_simplejpeg), crop)


def _load_chunk(paths, crop, use_simplejpeg=None):
    """Crop a run of files in one worker: (uint8 images of those that loaded, problems with the rest)."""
    images, problems = [], []
    for path in paths:
        try:
            images.append(crop_and_resize(path, crop, use_simplejpeg))
        except Exception as e:  # a bad file is reported and skipped, never fatal
            problems.append(f'{path.name}: {type(e).__name__}: {e}')
    return np.array(images, np.uint8).reshape(-1, crop.size, crop.size, 3), problems


def build_cache(files, npy_path, json_path, crop, label, workers=None, use_simplejpeg=None):
    """Crop and resize every file into the cache, in parallel; returns (count, problems). use_simplejpeg=False
    decodes with Pillow even where simplejpeg is installed (for bench/bench_data.py)."""
    if simplejpeg is None:
        print(DECODER_NOTE)
    images = np.empty((len(files), crop.size, crop.size, 3), np.uint8)
    problems, count = [], 0
    chunks = [files[i:i + FILES_PER_TASK] for i in range(0, len(files), FILES_PER_TASK)]
    with multiprocessing.Pool(workers or os.cpu_count() or 1) as pool, \
            tqdm(total=len(files), desc=f'Preparing {label}', unit='img') as bar:
        load_chunk = functools.partial(_load_chunk, crop=crop, use_simplejpeg=use_simplejpeg)
        for chunk_images, chunk_problems in pool.imap(load_chunk, chunks):
            images[count:count + len(chunk_images)] = chunk_images
            count += len(chunk_images)
            problems += chunk_problems
            bar.update(len(chunk_images) + len(chunk_problems))
    if count == 0:
        raise DataError(f'none of the {len(files)} {label} files could be read; first problem: {problems[:1]}')
    meta = {'fingerprint': fingerprint(files, crop), 'count': count, 'source_files': len(files),
            'skipped': problems, 'crop_fraction': crop.fraction, 'size': crop.size,
            'folders': sorted({str(p.parent) for p in files})}
    cache.write(npy_path, json_path, images[:count], meta)
    return count, problems


def prepare(npy_path, json_path, find_folders, crop, label, workers=None):
    """Make a cache ready, rebuilding it when its sources changed or when it does not match its record
    (checked in full, checksum included). find_folders() returns the folders of JPEGs to build from, or
    raises DataError when there are none anywhere."""
    meta = cache.read_record(npy_path, json_path)
    damage = meta and cache.problem(npy_path, meta, checksum=True)
    if damage:
        print(f'{npy_path}: {damage}; rebuilding it', file=sys.stderr)
    try:
        folders = find_folders()
    except DataError as e:
        if meta is not None and not damage:
            return meta  # the sources are gone, but the cache built from them is still good
        raise DataError(f'{npy_path} needs rebuilding ({damage}), but {e}' if damage else str(e)) from e
    files = list_images(folders)
    if not files:
        raise DataError(f'no .jpg files in {", ".join(map(str, folders))}')
    if meta is not None and not damage and meta.get('fingerprint') == fingerprint(files, crop):
        return meta
    count, problems = build_cache(files, npy_path, json_path, crop, label, workers)
    for problem in problems:
        print(f'skipped {problem}', file=sys.stderr)
    print(f'{label}: {count:,} images cached from {len(files):,} files ({len(problems)} skipped)')
    return cache.read_record(npy_path, json_path)


def load(npy_path, json_path, rebuild, label):
    """uint8 array (n, size, size, 3), memory-mapped from the cache; a cache that does not match its record
    (size, header) is rebuilt first with rebuild(), saying why."""
    meta = cache.read_record(npy_path, json_path)
    if meta is None:
        raise DataError(f'{npy_path}: no {label} cache yet; run helper.download_extract("{label.lower()}", ...) '
                        'first')
    damage = cache.problem(npy_path, meta)
    if damage:
        print(f'{npy_path}: {damage}; rebuilding it', file=sys.stderr)
        rebuild()
    return cache.load(npy_path)
