"""The flowers data layer on the real offline photographs and on a real archive from a loopback server."""
import hashlib
import io
import tarfile

import numpy as np
import pytest
from PIL import Image

import helper
from conftest import Route
from dlnd.data import flowers
from dlnd.data.archive import extract_tar
from dlnd.fileio import DataError


def flower_files(shared_data, count=None):
    return sorted((shared_data / 'flowers' / 'oxford102_test').rglob('*.jpg'), key=lambda p: p.name)[:count]


def centre_square(path, size=28):
    """The whole centre square, computed with plain Pillow at full size."""
    img = Image.open(path).convert('RGB')
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return np.asarray(img.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR))


def make_tar(members):
    """A gzipped tar in memory: {name: bytes}, or {name: tarfile.TarInfo} for special members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:gz') as archive:
        for name, data in members.items():
            if isinstance(data, tarfile.TarInfo):
                archive.addfile(data)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_offline_flowers_are_cropped_cached_and_split(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv('DLND_DATA_SOURCE', str(shared_data))
    helper.download_extract('flowers', tmp_path)
    train, held_out = helper.Dataset('flowers', tmp_path), helper.Dataset('flowers', tmp_path, split='held-out')
    files = flower_files(shared_data)
    assert len(files) == 819 and held_out.shape == (164, 28, 28, 3) and train.shape == (655, 28, 28, 3)
    assert train.image_mode == 'RGB' and train.labels is None
    # every 5th photograph, in name order, is held out; the others train
    for images, paths in ((held_out.images, files[::5]), (train.images, [p for k, p in enumerate(files) if k % 5])):
        for index in (0, len(paths) - 1):
            assert np.abs(images[index].astype(int) - centre_square(paths[index]).astype(int)).mean() < 2.0
    batch = next(train.get_batches(64))
    assert batch.shape == (64, 28, 28, 3) and -1 <= batch.min() and batch.max() <= 1


def test_archive_over_http_is_checked_resumed_extracted_and_cached(tmp_path, shared_data, server, monkeypatch):
    files = flower_files(shared_data, 12)
    body = make_tar({f'jpg/{path.name}': path.read_bytes() for path in files})
    url = server.serve('/vgg/102flowers.tgz', Route(body, drop_first=1))
    monkeypatch.setattr(flowers, 'MIRRORS', (url,))
    monkeypatch.setattr(flowers, 'ARCHIVE_MD5', hashlib.md5(body).hexdigest())
    helper.download_extract('flowers', tmp_path)
    requests = [r for r in server.requests if r[0] == '/vgg/102flowers.tgz']
    assert len(requests) == 2 and requests[1][1] == f'bytes={len(body) // 2}-'  # resumed where it was cut
    images = np.concatenate([flowers.load_images(tmp_path), flowers.load_images(tmp_path, 'held-out')])
    assert len(images) == 12 and not (tmp_path / 'flowers' / '102flowers.tgz').exists()
    assert sorted(p.name for p in (tmp_path / 'flowers' / 'jpg').iterdir()) == [p.name for p in files]


def test_wrong_archive_is_refused_naming_each_source_and_the_manual_route(tmp_path, server, monkeypatch):
    url = server.serve('/vgg/102flowers.tgz', Route(make_tar({'jpg/image_00001.jpg': b'not the real one'})))
    monkeypatch.setattr(flowers, 'MIRRORS', (url, server.url + '/gone.tgz'))
    with pytest.raises(DataError) as error:
        helper.download_extract('flowers', tmp_path)
    message = str(error.value)
    assert 'wrong checksum: md5' in message and 'HTTP 404' in message
    assert 'www.robots.ox.ac.uk/~vgg/data/flowers/102/' in message and str(tmp_path / 'flowers') in message
    assert not any(tmp_path.rglob('*.tgz'))


@pytest.mark.parametrize('name, member, reason', [
    ('absolute', '/etc/evil.jpg', 'leaves the target folder'),
    ('climbing', 'jpg/../../evil.jpg', 'leaves the target folder'),
    ('symlink', tarfile.SYMTYPE, 'is a link'),
    ('hardlink', tarfile.LNKTYPE, 'is a link'),
    ('device', tarfile.CHRTYPE, 'neither a file nor a folder'),
])
def test_tar_members_that_leave_the_folder_or_are_not_files_are_refused(tmp_path, name, member, reason):
    special = member if isinstance(member, str) else None
    members = {'jpg/image_00001.jpg': b'x'}
    if special:
        members[special] = b'x'
    else:
        info = tarfile.TarInfo('jpg/special')
        info.type, info.linkname = member, '/etc/passwd'
        members['jpg/special'] = info
    archive = tmp_path / f'{name}.tgz'
    archive.write_bytes(make_tar(members))
    with pytest.raises(DataError, match=reason):
        extract_tar(archive, tmp_path / 'out')
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name]  # nothing extracted, nothing left over


def test_truncated_archive_is_reported_and_nothing_is_extracted(tmp_path, shared_data):
    body = make_tar({f'jpg/{p.name}': p.read_bytes() for p in flower_files(shared_data, 5)})
    archive = tmp_path / 'cut.tgz'
    archive.write_bytes(body[:len(body) // 2])
    with pytest.raises(DataError, match=r'cut\.tgz: not a complete tar archive'):
        extract_tar(archive, tmp_path / 'out')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cut.tgz']


def test_unknown_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="flowers have the splits 'train' and 'held-out'"):
        flowers.load_images(tmp_path, 'test')
