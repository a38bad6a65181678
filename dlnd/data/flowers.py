"""Oxford 102 Flowers (Nilsback and Zisserman 2008): find or fetch the photographs, then crop each to its
centre square and shrink it once into a uint8 cache (dlnd.data.imageprep).

Every HELD_OUT_EVERY-th photograph, in file-name order, is held out: the GANs never train on it, and the
metrics compare generated flowers with it.
"""
from pathlib import Path

import numpy as np

from . import imageprep
from .archive import check_fetched, extract_tar
from .download import candidate_locations, is_url, local_source, obtain

IMAGE_SIZE = 28  # the course's networks, unchanged; 32 or 64 would show more of a flower (see gan_variants)
# The whole centre square of each photograph, decoded at 4x the output size or more: petals and leaves have
# finer detail than faces; at the 1/8-scale decode that 1x allows, the result is 2.9 levels from Pillow's
# full-size resize on average, at 1/4 scale 1.0.
CROP = imageprep.Crop(IMAGE_SIZE, 1.0, version=1, oversample=4)
HELD_OUT_EVERY = 5  # every 5th photograph is held out: 164 of the offline 819, 1,638 of the full 8,189
ARCHIVE = '102flowers.tgz'
ARCHIVE_MD5 = '52808999861908f626f3c1f4e79d11fa'  # 8,189 JPEGs in jpg/
MIRRORS = ('https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz',)
# Folders of JPEGs: the archive's jpg/, or the offline copy's oxford102_test/ (one folder per class).
FOLDER_NAMES = ('jpg', 'oxford102_test')
MANUAL_HELP = ('To get the flowers by hand: download 102flowers.tgz from '
               'https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ and put it into {folder}.')


def folder(data_path):
    return Path(data_path) / 'flowers'


PHOTOS = imageprep.PhotoSet('Flowers', 'flowers', CROP, FOLDER_NAMES, places=('flowers', ''))
cache_paths, image_folders = PHOTOS.cache_paths, PHOTOS.image_folders


def find_or_fetch_folders(data_path):
    """Folders to build from: under data_path, from the archive there, the local source, or the official site."""
    folders = image_folders(data_path)
    if folders:
        return folders[:1]
    archive = folder(data_path) / ARCHIVE
    if not archive.is_file():
        source = local_source()
        if source and not is_url(source) and image_folders(source):
            return image_folders(source)[:1]
        locations = candidate_locations([f'flowers/{ARCHIVE}', ARCHIVE], MIRRORS)
        obtain(archive, locations, check_archive, MANUAL_HELP.format(folder=folder(data_path)))
    extracted = extract_tar(archive, folder(data_path) / 'extracted')
    (extracted / 'jpg').rename(folder(data_path) / 'jpg')
    extracted.rmdir()
    archive.unlink()
    return image_folders(data_path)[:1]


def check_archive(path, location):
    """The official site must serve the official archive (checked by md5); a local copy is checked member by
    member when it is extracted."""
    check_fetched(path, location, b'\x1f\x8b', 'gzip', MIRRORS, ARCHIVE_MD5)


def prepare(data_path, workers=None):
    """Make the flowers cache ready under data_path, rebuilding it when its sources changed or it is damaged."""
    return PHOTOS.prepare(data_path, find_or_fetch_folders, workers)


def load_images(data_path, split='train'):
    """uint8 (n, 28, 28, 3): the training photographs ('train'), or the held-out ones ('held-out')."""
    if split not in ('train', 'held-out'):
        raise ValueError(f"flowers have the splits 'train' and 'held-out', not {split!r}")
    images = PHOTOS.load(data_path, find_or_fetch_folders)
    held_out = np.arange(len(images)) % HELD_OUT_EVERY == 0
    return np.asarray(images[held_out if split == 'held-out' else ~held_out])
