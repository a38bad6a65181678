"""CelebA: find or fetch the aligned JPEGs, then crop and shrink them once into a uint8 cache.

The cache (celeba_28x28.npy, memory-mapped) sits beside a JSON file that records what it
was built from, its size, header and checksum (dlnd.cache); a different file list, crop or size
rebuilds it, and so does a cache that no longer matches its record.
"""
import functools
import hashlib
import io
import math
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np
import simplejpeg
from PIL import Image
from tqdm.auto import tqdm

from . import cache
from .archive import extract_zip
from .download import candidate_locations, is_url, local_source, obtain
from .fileio import DataError, file_digest

IMAGE_SIZE = 28
CROP_FRACTION = 108 / 178  # the course's 108x108 centre crop of the 178x218 aligned images
CACHE_VERSION = 2  # 2: resize by matrix products (within one level of version 1)
FILES_PER_TASK = 256  # files a worker crops per task: fewer, larger messages between processes
# Folder names searched for aligned JPEGs; the first holding a file name wins (full size first).
FOLDER_NAMES = ('img_align_celeba', 'img_align_celeba_89x109')
ZIP_NAMES = ('img_align_celeba.zip', 'celeba.zip')
ZIP_MD5 = '00d2c5bc6d35e252742224ab0c1e8fcb'  # img_align_celeba.zip, 202,599 JPEGs
MIRRORS = (
    'https://s3-us-west-1.amazonaws.com/udacity-dlnfnd/datasets/celeba.zip',
    'https://drive.usercontent.google.com/download?id=0B7EVK8r0v71pZjFTYXZWM3FlRnM&export=download&confirm=t',
)
MANUAL_HELP = ('To get CelebA by hand: download img_align_celeba.zip from '
               'https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (the "Align&Cropped Images" link) '
               'and put the zip, or the extracted img_align_celeba/ folder, into {data_path}.')


def cache_paths(data_path):
    stem = Path(data_path) / f'celeba_{IMAGE_SIZE}x{IMAGE_SIZE}'
    return stem.with_suffix('.npy'), stem.with_suffix('.json')


def image_folders(root):
    """The aligned-image folders directly under `root` or `root/celeba`."""
    root = Path(root)
    return [base / name for base in (root, root / 'celeba') for name in FOLDER_NAMES if (base / name).is_dir()]


def list_images(folders):
    """Sorted JPEG paths, one per file name: a name seen in an earlier folder is not taken again."""
    chosen = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob('*.jpg')):
            chosen.setdefault(path.name, path)
    return [chosen[name] for name in sorted(chosen)]


def fingerprint(files):
    """What a cache depends on: each file's name and size, the crop, the output size and the code version."""
    digest = hashlib.sha256(f'{CACHE_VERSION} {CROP_FRACTION:.6f} {IMAGE_SIZE}\n'.encode())
    for path in files:
        digest.update(f'{path.name}\t{path.stat().st_size}\n'.encode())
    return digest.hexdigest()


def reduced_size(width, height):
    """The smallest decode size, at 1/2, 1/4 or 1/8 scale, that keeps the crop at least 28 pixels.

    Power-of-two scales keep the face as sharp as a full-size decode (others, like 3/8, blur it).
    """
    side = width * CROP_FRACTION
    factor = next(k for k in (8, 4, 2, 1) if side / k >= IMAGE_SIZE)
    return math.ceil(width / factor), math.ceil(height / factor)


def decode_reduced(path):
    """(uint8 RGB pixels (h, w, 3), original (width, height)), decoded no larger than the crop needs.

    libjpeg-turbo shrinks while decoding, which skips most of the work of a full-size decode.
    Files it cannot read this way (PNG inside, CMYK, damaged) go to Pillow, which converts them
    or says what is wrong.
    """
    data = Path(path).read_bytes()
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        if colorspace in ('RGB', 'YCbCr', 'Gray'):
            min_width, min_height = reduced_size(width, height)
            pixels = simplejpeg.decode_jpeg(data, colorspace='RGB', min_width=min_width, min_height=min_height)
            return pixels, (width, height)
    except ValueError:
        pass
    img = Image.open(io.BytesIO(data))
    size = img.size
    img.draft('RGB', reduced_size(*size))
    return np.asarray(img.convert('RGB')), size


@functools.lru_cache(maxsize=64)
def resize_weights(start, length, source_length):
    """(first source pixel, weights (IMAGE_SIZE, taps)): Pillow's bilinear resize of the span
    [start, start + length) to IMAGE_SIZE pixels, as a matrix (same centres, same widened triangle)."""
    scale = length / IMAGE_SIZE
    support = max(scale, 1.0)
    centers = start + (np.arange(IMAGE_SIZE) + 0.5) * scale
    first = max(int(centers[0] - support + 0.5), 0)
    last = min(int(centers[-1] + support + 0.5), source_length)
    distance = np.abs(np.arange(first, last) + 0.5 - centers[:, None]) / support
    weights = np.maximum(1 - distance, 0)
    return first, (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def crop_box(original_size, decoded_width):
    """(left, top, right, bottom) of the centre square of side 108/178 of the width, in decoded pixels.

    The box is placed in original pixels and then scaled, so a reduced decode crops exactly the
    same face as a full-size one.
    """
    width, height = original_size
    side = round(width * CROP_FRACTION)
    left, top = (width - side) // 2, (height - side) // 2
    scale = decoded_width / width
    return tuple(v * scale for v in (left, top, left + side, top + side))


def crop_and_resize(path):
    """One aligned face as uint8 (28, 28, 3): its crop_box, shrunk."""
    return shrink(*decode_reduced(path))


def shrink(pixels, original_size):
    """The crop_box of decoded pixels, resized to uint8 (28, 28, 3).

    The resize is two small matrix products, faster than going through a PIL image for 28x28 pixels.
    """
    left, top, right, bottom = crop_box(original_size, pixels.shape[1])
    x0, across = resize_weights(left, right - left, pixels.shape[1])
    y0, down = resize_weights(top, bottom - top, pixels.shape[0])
    region = pixels[y0:y0 + down.shape[1], x0:x0 + across.shape[1]].transpose(2, 0, 1).astype(np.float32)
    image = (down @ region @ across.T).transpose(1, 2, 0)  # per channel: rows, then columns
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _load_chunk(paths):
    """Crop a run of files in one worker: (uint8 images of those that loaded, problems with the rest)."""
    images, problems = [], []
    for path in paths:
        try:
            images.append(crop_and_resize(path))
        except Exception as e:  # a bad file is reported and skipped, never fatal
            problems.append(f'{path.name}: {type(e).__name__}: {e}')
    return np.array(images, np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 3), problems


def build_cache(files, data_path, workers=None):
    """Crop and resize every file into the cache, in parallel; returns (count, problems)."""
    npy_path, json_path = cache_paths(data_path)
    images = np.empty((len(files), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    problems, count = [], 0
    chunks = [files[i:i + FILES_PER_TASK] for i in range(0, len(files), FILES_PER_TASK)]
    with multiprocessing.Pool(workers or os.cpu_count() or 1) as pool, \
            tqdm(total=len(files), desc='Preparing CelebA', unit='img') as bar:
        for chunk_images, chunk_problems in pool.imap(_load_chunk, chunks):
            images[count:count + len(chunk_images)] = chunk_images
            count += len(chunk_images)
            problems += chunk_problems
            bar.update(len(chunk_images) + len(chunk_problems))
    if count == 0:
        raise DataError(f'none of the {len(files)} CelebA files could be read; first problem: {problems[:1]}')
    meta = {'fingerprint': fingerprint(files), 'count': count, 'source_files': len(files),
            'skipped': problems, 'crop_fraction': CROP_FRACTION, 'size': IMAGE_SIZE,
            'folders': sorted({str(p.parent) for p in files})}
    cache.write(npy_path, json_path, images[:count], meta)
    return count, problems


def read_meta(data_path):
    return cache.read_record(*cache_paths(data_path))


def load_images(data_path):
    """uint8 array (n, 28, 28, 3), memory-mapped from the cache; a cache that does not match its record
    (size, header) is rebuilt first, saying why."""
    npy_path, _ = cache_paths(data_path)
    meta = read_meta(data_path)
    if meta is None:
        raise DataError(f'{npy_path}: no CelebA cache yet; run helper.download_extract("celeba", ...) first')
    damage = cache.problem(npy_path, meta)
    if damage:
        print(f'{npy_path}: {damage}; rebuilding it', file=sys.stderr)
        prepare(data_path)
    return cache.load(npy_path)


def find_or_fetch_folders(data_path):
    """Aligned-image folders to build from: under data_path, from a zip there, the local source, or a mirror."""
    data_path = Path(data_path)
    folders = image_folders(data_path)
    if folders:
        return folders
    for name in ZIP_NAMES:
        if (data_path / name).is_file():
            return [extract_zip(data_path / name, data_path / FOLDER_NAMES[0])]
    source = local_source()
    if source and not is_url(source) and image_folders(source):
        return image_folders(source)
    zip_path = data_path / ZIP_NAMES[0]
    locations = candidate_locations([f'celeba/{ZIP_NAMES[0]}', ZIP_NAMES[0]], MIRRORS)
    obtain(zip_path, locations, check_zip, MANUAL_HELP.format(data_path=data_path))
    return [extract_zip(zip_path, data_path / FOLDER_NAMES[0])]


def check_zip(path, location):
    """A public mirror must serve the official archive (checked by md5). A zip from the local
    source may hold part of CelebA; its members are checked, with their CRCs, on extraction."""
    with open(path, 'rb') as f:
        if f.read(4) != b'PK\x03\x04':
            raise DataError('not a zip archive (an error page from the server?)')
    if location in MIRRORS:
        md5 = file_digest(path, 'md5')
        if md5 != ZIP_MD5:
            raise DataError(f'wrong checksum: md5 {md5}, expected {ZIP_MD5}')


def prepare(data_path, workers=None):
    """Make the CelebA cache ready under data_path, rebuilding it when its sources changed or when it does
    not match its record (checked in full, checksum included)."""
    npy_path, _ = cache_paths(data_path)
    meta = read_meta(data_path)
    damage = meta and cache.problem(npy_path, meta, checksum=True)
    if damage:
        print(f'{npy_path}: {damage}; rebuilding it', file=sys.stderr)
    try:
        folders = find_or_fetch_folders(data_path)
    except DataError as e:
        if meta is not None and not damage:
            return meta  # the sources are gone, but the cache built from them is still good
        raise DataError(f'{npy_path} needs rebuilding ({damage}), but {e}' if damage else str(e)) from e
    files = list_images(folders)
    if not files:
        raise DataError(f'no .jpg files in {", ".join(map(str, folders))}')
    if meta is not None and not damage and meta.get('fingerprint') == fingerprint(files):
        return meta
    count, problems = build_cache(files, data_path, workers)
    for problem in problems:
        print(f'skipped {problem}', file=sys.stderr)
    print(f'CelebA: {count:,} faces cached from {len(files):,} files ({len(problems)} skipped)')
    return read_meta(data_path)
