"""MNIST: the four IDX files, fetched as .gz, checked by the sha256 of their uncompressed bytes."""
import gzip
import hashlib
import sys
import zlib
from pathlib import Path

import numpy as np

from ..fileio import CHUNK_BYTES, DataError, atomic_path, file_digest
from .download import candidate_locations, obtain

MIRRORS = (
    'https://ossci-datasets.s3.amazonaws.com/mnist/',
    'https://storage.googleapis.com/cvdf-datasets/mnist/',
    'http://yann.lecun.com/exdb/mnist/',
)
# sha256 of the uncompressed IDX files. Mirrors compress differently, so the .gz bytes vary; these do not.
IDX_SHA256 = {
    'train-images-idx3-ubyte': 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
    'train-labels-idx1-ubyte': '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
    't10k-images-idx3-ubyte': '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
    't10k-labels-idx1-ubyte': 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
}
IDX_BYTES = {
    'train-images-idx3-ubyte': 47_040_016,
    'train-labels-idx1-ubyte': 60_008,
    't10k-images-idx3-ubyte': 7_840_016,
    't10k-labels-idx1-ubyte': 10_008,
}
IDX_DTYPE_CODES = {0x08: np.uint8}
MANUAL_HELP = ('To get MNIST by hand, download the four files {names} from any MNIST mirror '
               'into {folder} and run this again.')


def folder(data_path):
    return Path(data_path) / 'mnist'


def damage(raw, name):
    """Why a prepared IDX file is not the official one (size, then sha256), or None when it is."""
    if raw.stat().st_size != IDX_BYTES[name]:
        return f'{raw.stat().st_size:,} bytes, expected {IDX_BYTES[name]:,}'
    if file_digest(raw) != IDX_SHA256[name]:
        return 'its sha256 is not the official one: the file is damaged'
    return None


def prepare(data_path):
    """Make the four uncompressed IDX files ready under data_path/mnist/, fetching any that is missing or
    damaged."""
    for name in IDX_SHA256:
        raw = folder(data_path) / name
        if raw.is_file():
            problem = damage(raw, name)
            if problem is None:
                continue
            print(f'{raw}: {problem}; fetching it again', file=sys.stderr)
        gz = raw.with_name(name + '.gz')
        if gz.is_file():  # put there by hand: it must be the official file too
            try:
                check_gz(gz, name)
            except DataError as e:
                raise DataError(f'{gz.parent}/{e}; delete it or replace it with the official file') from e
        else:
            help_text = MANUAL_HELP.format(names=', '.join(n + '.gz' for n in IDX_SHA256), folder=folder(data_path))
            locations = candidate_locations([f'mnist/{name}.gz', f'{name}.gz'], [m + name + '.gz' for m in MIRRORS])
            obtain(gz, locations, lambda path, _location, name=name: check_gz(path, name), help_text)
        decompress(gz, raw)
        gz.unlink()


def check_gz(path, name):
    """Raise DataError unless `path` is a complete gzip of the official IDX file `name`."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(CHUNK_BYTES), b''):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f'{name}.gz: not a complete gzip file ({e})') from e
    if digest.hexdigest() != IDX_SHA256[name]:
        raise DataError(f'{name}.gz: wrong checksum: sha256 of the content is {digest.hexdigest()}, '
                        f'expected {IDX_SHA256[name]}')


def decompress(gz, raw):
    with atomic_path(raw) as tmp, gzip.open(gz, 'rb') as src, open(tmp, 'wb') as out:
        for chunk in iter(lambda: src.read(CHUNK_BYTES), b''):
            out.write(chunk)


def read_idx(path):
    """Memory-map an IDX file as a NumPy array, checking its header against its size."""
    path = Path(path)
    with open(path, 'rb') as f:
        header = f.read(4)
        if len(header) < 4 or header[:2] != b'\0\0' or header[2] not in IDX_DTYPE_CODES:
            raise DataError(f'{path}: not an IDX file (magic {header.hex()})')
        ndim = header[3]
        shape = tuple(int.from_bytes(f.read(4), 'big') for _ in range(ndim))
    offset = 4 + 4 * ndim
    expected = offset + int(np.prod(shape))
    if path.stat().st_size != expected:
        raise DataError(f'{path}: {path.stat().st_size:,} bytes, but its header {shape} needs {expected:,}')
    return np.memmap(path, dtype=IDX_DTYPE_CODES[header[2]], mode='r', offset=offset, shape=shape)


SPLITS = {'train': 'train', 'test': 't10k'}


def _prefix(split):
    if split not in SPLITS:
        raise ValueError(f"MNIST has the splits 'train' and 'test', not {split!r}")
    return SPLITS[split]


def load_images(data_path, split='train'):
    """uint8 array (n, 28, 28, 1), memory-mapped."""
    return read_idx(folder(data_path) / f'{_prefix(split)}-images-idx3-ubyte')[..., np.newaxis]


def load_labels(data_path, split='train'):
    """uint8 digits (n,), memory-mapped."""
    return read_idx(folder(data_path) / f'{_prefix(split)}-labels-idx1-ubyte')
