"""CelebA: find or fetch the aligned JPEGs, then crop and shrink them once into a uint8 cache.

The cache (celeba_28x28.npy, memory-mapped) sits beside a JSON file that records what it
was built from, its size, header and checksum (dlnd.data.imageprep, dlnd.data.cache); a different file
list, crop or size rebuilds it, and so does a cache that no longer matches its record.
"""
import functools
from pathlib import Path

from . import cache, imageprep
from .archive import check_fetched, extract_zip
from .download import candidate_locations, is_url, local_source, obtain

IMAGE_SIZE = 28
CROP_FRACTION = 108 / 178  # the course's 108x108 centre crop of the 178x218 aligned images
CACHE_VERSION = 2  # 2: resize by matrix products (within one level of version 1)
CROP = imageprep.Crop(IMAGE_SIZE, CROP_FRACTION, CACHE_VERSION)
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

# The course's crop, in the shared image preparation.
decode_reduced = functools.partial(imageprep.decode_reduced, crop=CROP)
shrink = functools.partial(imageprep.shrink, crop=CROP)
crop_and_resize = functools.partial(imageprep.crop_and_resize, crop=CROP)
fingerprint = functools.partial(imageprep.fingerprint, crop=CROP)
crop_box = functools.partial(imageprep.crop_box, crop=CROP)
list_images = imageprep.list_images


PHOTOS = imageprep.PhotoSet('CelebA', 'celeba', CROP, FOLDER_NAMES, places=('', 'celeba'))
cache_paths, image_folders = PHOTOS.cache_paths, PHOTOS.image_folders


def build_cache(files, data_path, workers=None, use_simplejpeg=None):
    """Crop and resize every file into the cache, in parallel; returns (count, problems)."""
    return imageprep.build_cache(files, *cache_paths(data_path), CROP, 'CelebA', workers, use_simplejpeg)


def read_meta(data_path):
    return cache.read_record(*cache_paths(data_path))


def load_images(data_path, split='train'):
    """uint8 array (n, 28, 28, 3), memory-mapped from the cache (rebuilt first, saying why, if damaged)."""
    if split != 'train':
        raise ValueError(f'CelebA has one split, train; got {split!r}')
    return PHOTOS.load(data_path, find_or_fetch_folders)


def prepare(data_path, workers=None):
    """Make the CelebA cache ready under data_path, rebuilding it when its sources changed or it is damaged."""
    return PHOTOS.prepare(data_path, find_or_fetch_folders, workers)


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
    check_fetched(path, location, b'PK\x03\x04', 'zip', MIRRORS, ZIP_MD5)
