"""Prepared image caches: a .npy of uint8 images, and beside it a JSON record of what it holds.

The record keeps the file's size, its .npy header (shape and dtype) and its sha256, so a damaged
cache (an interrupted copy, a full disk elsewhere, bit rot) is found before anyone trains on it:
cheaply (size and header) every time it is loaded, thoroughly (checksum) when it is prepared.
"""
import json

import numpy as np

from ..fileio import atomic_path, file_digest


def write(npy_path, json_path, images, record):
    """Save images and their record, each all or nothing; returns the record as written."""
    with atomic_path(npy_path) as tmp, open(tmp, 'wb') as f:
        np.save(f, images)
    record = dict(record, bytes=npy_path.stat().st_size, sha256=file_digest(npy_path), shape=list(images.shape),
                  dtype=str(images.dtype))
    with atomic_path(json_path) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    return record


def read_record(npy_path, json_path):
    """The record of a cache, or None when the cache or its record is missing or unreadable."""
    if not (npy_path.is_file() and json_path.is_file()):
        return None
    try:
        return json.loads(json_path.read_text())
    except ValueError:
        return None


def problem(npy_path, record, checksum=False):
    """Why the cache does not match its record, or None when it does: size and header always, the sha256
    when `checksum` (a full read)."""
    if 'bytes' not in record or 'sha256' not in record:
        return 'its record comes from an older version of this project'
    size = npy_path.stat().st_size
    if size != record['bytes']:
        return f'{size:,} bytes, but its record says {record["bytes"]:,} (an interrupted copy?)'
    try:
        with open(npy_path, 'rb') as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
    except ValueError as e:
        return f'not a readable .npy file ({e})'
    if list(shape) != record['shape'] or str(dtype) != record['dtype']:
        return f'its header says {dtype} {list(shape)}, but its record says {record["dtype"]} {record["shape"]}'
    if checksum and file_digest(npy_path) != record['sha256']:
        return 'its sha256 does not match its record: the file is damaged'
    return None


def load(npy_path):
    """The cached images, memory-mapped read-only."""
    return np.load(npy_path, mmap_mode='r')
