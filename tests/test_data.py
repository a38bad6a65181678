"""The data layer on real files: MNIST IDX, CelebA JPEGs, and downloads from a real loopback server."""
import errno
import gzip
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import helper
from conftest import Route
from dlnd.data import celeba, download, mnist
from dlnd.data.archive import extract_zip
from dlnd.fileio import DataError

MNIST_GZ = [name + '.gz' for name in mnist.IDX_SHA256]


def independent_crop(path):
    """The course's crop, computed with plain Pillow at full size: centre 108x108, bilinear to 28x28."""
    img = Image.open(path).convert('RGB')
    w, h = img.size
    side = round(w * 108 / 178)
    left, top = (w - side) // 2, (h - side) // 2
    return np.asarray(img.crop((left, top, left + side, top + side)).resize((28, 28), Image.BILINEAR))


def serve_mnist(server, shared_data, base='/mnist/', **route_options):
    for name in MNIST_GZ:
        body = (shared_data / 'mnist' / name).read_bytes()
        options = route_options if name.startswith('train-images') else {}
        server.serve(base + name, Route(body, **options))


def leftover_files(folder):
    return sorted(p.name for p in Path(folder).rglob('*') if p.is_file())


# --- MNIST ---------------------------------------------------------------------------------------

def test_mnist_from_local_folder_matches_the_idx_bytes(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv('DLND_DATA_SOURCE', str(shared_data))
    helper.download_extract('mnist', tmp_path)
    data = helper.Dataset('mnist', tmp_path)
    assert data.shape == (60000, 28, 28, 1) and data.image_mode == 'L'

    raw = gzip.decompress((shared_data / 'mnist' / 'train-images-idx3-ubyte.gz').read_bytes())
    first = np.asarray(Image.frombytes('L', (28, 28), raw[16:16 + 784]))
    last = np.asarray(Image.frombytes('L', (28, 28), raw[-784:]))
    images = helper.get_batch('mnist', 60000, tmp_path)
    np.testing.assert_array_equal(images[0, :, :, 0], first)
    np.testing.assert_array_equal(images[-1, :, :, 0], last)
    labels = mnist.load_labels(tmp_path)
    assert list(labels[:5]) == [5, 0, 4, 1, 9]
    assert leftover_files(tmp_path / 'mnist') == sorted(mnist.IDX_SHA256)


def test_mnist_ready_means_no_work(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv('DLND_DATA_SOURCE', str(shared_data))
    helper.download_extract('mnist', tmp_path)
    monkeypatch.setenv('DLND_DATA_SOURCE', str(tmp_path / 'nowhere'))
    monkeypatch.setattr(mnist, 'MIRRORS', ())
    helper.download_extract('mnist', tmp_path)  # would fail if it tried to fetch anything


def test_mnist_over_http_resumes_a_dropped_transfer(tmp_path, shared_data, server, monkeypatch):
    serve_mnist(server, shared_data, drop_first=1)
    monkeypatch.setenv('DLND_DATA_SOURCE', server.url)
    helper.download_extract('mnist', tmp_path)
    assert helper.Dataset('mnist', tmp_path).shape == (60000, 28, 28, 1)
    train_requests = [r for r in server.requests if 'train-images' in r[0]]
    assert len(train_requests) == 2 and train_requests[0][1] is None
    assert train_requests[1][1] == f'bytes={9_719_438 // 2}-'  # the second request resumed at the cut


def test_mirror_answering_404_is_skipped_for_the_next(tmp_path, shared_data, server, monkeypatch):
    serve_mnist(server, shared_data, base='/good/')
    monkeypatch.setattr(mnist, 'MIRRORS', (server.url + '/missing/', server.url + '/good/'))
    helper.download_extract('mnist', tmp_path)
    assert helper.Dataset('mnist', tmp_path).shape[0] == 60000
    assert ('/missing/train-images-idx3-ubyte.gz', None) in server.requests


def test_wrong_checksum_is_refused_and_every_source_is_named(tmp_path, shared_data, server, monkeypatch):
    wrong = gzip.compress(b'\0' * 1000)
    for name in MNIST_GZ:
        server.serve('/bad/' + name, Route(wrong))
    monkeypatch.setattr(mnist, 'MIRRORS', (server.url + '/bad/', server.url + '/missing/'))
    with pytest.raises(DataError) as error:
        helper.download_extract('mnist', tmp_path)
    message = str(error.value)
    assert 'train-images-idx3-ubyte.gz' in message and 'wrong checksum' in message
    assert '/missing/' in message and 'HTTP 404' in message and 'by hand' in message
    assert leftover_files(tmp_path) == []  # nothing half-written is left behind


def test_truncated_gzip_from_local_folder_is_reported(tmp_path, shared_data, monkeypatch):
    source = tmp_path / 'source' / 'mnist'
    source.mkdir(parents=True)
    for name in MNIST_GZ:
        body = (shared_data / 'mnist' / name).read_bytes()
        (source / name).write_bytes(body[:len(body) // 2] if name.startswith('train-labels') else body)
    monkeypatch.setenv('DLND_DATA_SOURCE', str(tmp_path / 'source'))
    monkeypatch.setattr(mnist, 'MIRRORS', ())
    with pytest.raises(DataError, match=r'train-labels-idx1-ubyte\.gz: not a complete gzip file'):
        helper.download_extract('mnist', tmp_path / 'data')


def test_connection_cut_every_time_gives_up_with_the_byte_count(tmp_path, server):
    url = server.serve('/file', Route(b'x' * 10_000, drop_first=99))
    # each try gets half of what is left: 5,000, then 7,500, then 8,750 bytes
    with pytest.raises(download.DownloadError, match='connection closed after 8,750 of 10,000 bytes'):
        download.fetch_url(url, tmp_path / 'file', attempts=3)
    assert not (tmp_path / 'file').exists()


def test_silent_server_times_out(tmp_path, server):
    url = server.serve('/slow', Route(b'x', delay=3))
    with pytest.raises(download.DownloadError, match='timed out'):
        download.fetch_url(url, tmp_path / 'slow', timeout=0.5, attempts=1)


# --- archives ------------------------------------------------------------------------------------

def make_zip(path, members):
    with zipfile.ZipFile(path, 'w') as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_member_climbing_out_is_refused(tmp_path):
    archive = make_zip(tmp_path / 'evil.zip', {'img_align_celeba/1.jpg': b'x', '../escaped.txt': b'x'})
    with pytest.raises(DataError, match=r"evil\.zip: refusing member '\.\./escaped\.txt'"):
        extract_zip(archive, tmp_path / 'out')
    assert not (tmp_path / 'out').exists() and not (tmp_path.parent / 'escaped.txt').exists()


def test_zip_absolute_path_and_symlink_are_refused(tmp_path):
    with pytest.raises(DataError, match='leaves the target folder'):
        extract_zip(make_zip(tmp_path / 'abs.zip', {'/etc/passwd': b'x'}), tmp_path / 'out')
    link = zipfile.ZipInfo('link')
    link.external_attr = 0o120777 << 16
    with zipfile.ZipFile(tmp_path / 'link.zip', 'w') as archive:
        archive.writestr(link, '/etc/passwd')
    with pytest.raises(DataError, match='symbolic link'):
        extract_zip(tmp_path / 'link.zip', tmp_path / 'out')


def test_corrupt_zip_member_is_named_and_nothing_is_extracted(tmp_path):
    archive = make_zip(tmp_path / 'a.zip', {'good.txt': b'a' * 1000, 'bad.txt': b'b' * 1000})
    data = bytearray(archive.read_bytes())
    data[data.index(b'b' * 1000) + 10] ^= 0xFF  # flip a byte inside bad.txt's stored data
    archive.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"member 'bad\.txt' is corrupt"):
        extract_zip(archive, tmp_path / 'out')
    assert leftover_files(tmp_path) == ['a.zip']


# --- CelebA --------------------------------------------------------------------------------------

def celeba_files(shared_data, count, folder='img_align_celeba'):
    return sorted((shared_data / 'celeba' / folder).glob('*.jpg'))[:count]


def test_celeba_zip_over_http_is_extracted_cropped_and_cached(tmp_path, shared_data, server, monkeypatch):
    files = celeba_files(shared_data, 30)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for f in files:
            archive.write(f, f'img_align_celeba/{f.name}')
    server.serve('/celeba/img_align_celeba.zip', Route(buffer.getvalue(), drop_first=1))
    monkeypatch.setenv('DLND_DATA_SOURCE', server.url)
    helper.download_extract('celeba', tmp_path)

    data = helper.Dataset('celeba', tmp_path)
    assert data.shape == (30, 28, 28, 3) and data.image_mode == 'RGB'
    assert isinstance(data.images, np.memmap)
    for index in (0, 17):
        ours = data.images[index].astype(int)
        expected = independent_crop(files[index]).astype(int)
        assert np.abs(ours - expected).mean() < 2.0  # draft decoding: same face, within JPEG noise
    assert (tmp_path / 'img_align_celeba' / 'img_align_celeba' / files[0].name).is_file()


def test_celeba_partial_shared_folders_are_merged_by_name(celeba_folder, shared_data):
    meta = json.loads((celeba_folder / 'celeba_28x28.json').read_text())  # built from shared_data
    full = {p.name for p in (shared_data / 'celeba' / 'img_align_celeba').glob('*.jpg')}
    half = {p.name for p in (shared_data / 'celeba' / 'img_align_celeba_89x109').glob('*.jpg')}
    assert meta['count'] == len(full | half) and meta['skipped'] == []
    data = helper.Dataset('celeba', celeba_folder)
    names = sorted(full | half)
    index = names.index('000002.jpg')  # in both folders: the full-size original is used
    expected = independent_crop(shared_data / 'celeba' / 'img_align_celeba' / '000002.jpg')
    assert np.abs(data.images[index].astype(int) - expected.astype(int)).mean() < 2.0


@pytest.mark.parametrize('folder', ['img_align_celeba', 'img_align_celeba_89x109'])
def test_matrix_resize_equals_pillows_bilinear_resize_of_the_same_pixels(shared_data, folder):
    for path in sorted((shared_data / 'celeba' / folder).glob('*.jpg'))[:20]:
        pixels, original_size = celeba.decode_reduced(path)
        box = celeba.crop_box(original_size, pixels.shape[1])  # checked against Pillow's crop elsewhere
        expected = np.asarray(Image.fromarray(pixels).resize((28, 28), Image.BILINEAR, box=box)).astype(int)
        ours = celeba.crop_and_resize(path).astype(int)
        assert np.abs(ours - expected).max() <= 1, path.name  # Pillow rounds between its two passes


@pytest.mark.parametrize('folder', ['img_align_celeba', 'img_align_celeba_89x109'])
def test_pillows_draft_decode_gives_the_faces_simplejpeg_gives(shared_data, folder):
    # Where simplejpeg is missing (hosted kernels), Pillow's draft mode shrinks while decoding instead.
    for path in sorted((shared_data / 'celeba' / folder).glob('*.jpg'))[:20]:
        pillow, size = celeba.decode_reduced(path, use_simplejpeg=False)
        turbo, turbo_size = celeba.decode_reduced(path, use_simplejpeg=True)
        assert pillow.shape == turbo.shape and size == turbo_size, path.name
        faces = [celeba.crop_and_resize(path, use_simplejpeg=choice).astype(int) for choice in (False, True)]
        assert np.abs(faces[0] - faces[1]).mean() < 1.0, path.name
        assert np.abs(faces[0] - independent_crop(path)).mean() < 2.0, path.name


def test_without_simplejpeg_the_cache_is_built_with_pillow_and_says_so(tmp_path, shared_data, monkeypatch, capsys):
    from dlnd.data import imageprep
    monkeypatch.setattr(imageprep, 'simplejpeg', None)
    files = celeba_files(shared_data, 12)
    assert celeba.build_cache(files, tmp_path, workers=1) == (12, [])
    assert capsys.readouterr().out.count(imageprep.DECODER_NOTE) == 1
    images = helper.Dataset('celeba', tmp_path).images
    assert np.abs(images[3].astype(int) - independent_crop(files[3]).astype(int)).mean() < 2.0


@pytest.fixture
def odd_images(tmp_path, shared_data):
    """A folder of real faces plus a truncated JPEG, grayscale, CMYK and PNG-named-.jpg files."""
    folder = tmp_path / 'src' / 'img_align_celeba'
    folder.mkdir(parents=True)
    good = celeba_files(shared_data, 5)
    for f in good:
        (folder / f.name).write_bytes(f.read_bytes())
    face = Image.open(good[0])
    face.convert('L').save(folder / 'gray.jpg')
    face.convert('CMYK').save(folder / 'cmyk.jpg')
    face.save(folder / 'png_inside.jpg', format='PNG')
    (folder / 'truncated.jpg').write_bytes(good[1].read_bytes()[:2000])
    return folder, good


def test_bad_and_odd_images_are_converted_or_reported_by_name(tmp_path, odd_images, capsys, monkeypatch):
    folder, good = odd_images
    monkeypatch.setenv('DLND_DATA_SOURCE', str(folder.parent))
    meta = celeba.prepare(tmp_path / 'data')
    assert meta['count'] == 8 and meta['source_files'] == 9
    assert len(meta['skipped']) == 1 and meta['skipped'][0].startswith('truncated.jpg: ')
    assert 'skipped truncated.jpg' in capsys.readouterr().err
    images = celeba.load_images(tmp_path / 'data')
    names = [p.name for p in celeba.list_images([folder])]
    names.remove('truncated.jpg')
    gray = images[names.index('gray.jpg')]
    assert np.array_equal(gray[..., 0], gray[..., 1])  # grayscale became three equal channels
    png = images[names.index('png_inside.jpg')].astype(int)
    assert np.abs(png - independent_crop(good[0]).astype(int)).mean() < 2.0


def test_cache_is_reused_and_rebuilt_when_its_sources_change(tmp_path, odd_images, monkeypatch):
    folder, good = odd_images
    monkeypatch.setenv('DLND_DATA_SOURCE', str(folder.parent))
    celeba.prepare(tmp_path / 'data')
    npy, _ = celeba.cache_paths(tmp_path / 'data')
    built = npy.stat().st_mtime_ns
    celeba.prepare(tmp_path / 'data')
    assert npy.stat().st_mtime_ns == built  # nothing changed: not rebuilt
    (folder / 'extra.jpg').write_bytes(good[2].read_bytes())
    assert celeba.prepare(tmp_path / 'data')['count'] == 9


def test_full_disk_while_caching_leaves_no_cache_behind(tmp_path, odd_images, monkeypatch):
    folder, _ = odd_images
    monkeypatch.setenv('DLND_DATA_SOURCE', str(folder.parent))

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(np, 'save', disk_full)
    with pytest.raises(DataError, match=r'celeba_28x28\.npy: the disk is full'):
        celeba.prepare(tmp_path / 'data')
    assert leftover_files(tmp_path / 'data') == []


def test_no_celeba_anywhere_names_each_source_and_the_manual_route(tmp_path, server, monkeypatch):
    server.serve('/celeba.zip', Route(b'<html>quota exceeded</html>'))
    monkeypatch.setattr(celeba, 'MIRRORS', (server.url + '/celeba.zip', server.url + '/gone.zip'))
    with pytest.raises(DataError) as error:
        helper.download_extract('celeba', tmp_path)
    message = str(error.value)
    assert 'not a zip archive' in message and 'HTTP 404' in message
    assert 'img_align_celeba.zip' in message and str(tmp_path) in message


# --- batches and grids ---------------------------------------------------------------------------

@pytest.fixture
def small_celeba(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv('DLND_DATA_SOURCE', str(tmp_path / 'src'))
    folder = tmp_path / 'src' / 'img_align_celeba'
    folder.mkdir(parents=True)
    for f in celeba_files(shared_data, 100):
        (folder / f.name).write_bytes(f.read_bytes())
    helper.download_extract('celeba', tmp_path / 'data')
    return tmp_path / 'data'


def test_batches_cover_an_epoch_scaled_to_tanh_range(small_celeba):
    data = helper.Dataset('celeba', small_celeba, seed=3)
    batches = list(data.get_batches(30))
    assert len(batches) == 3  # the last 10 images do not fill a batch
    assert all(b.dtype == np.float32 and b.shape == (30, 28, 28, 3) for b in batches)
    seen = np.concatenate(batches)
    assert seen.min() >= -1.0 and seen.max() <= 1.0
    expected = data.images[:].astype(np.float32) / 127.5 - 1.0
    found = {e.tobytes() for e in expected}
    assert all(s.tobytes() in found for s in seen)
    assert len({s.tobytes() for s in seen}) == 90


def test_each_epoch_is_reshuffled_and_the_seed_repeats_it(small_celeba):
    first, second = helper.Dataset('celeba', small_celeba, seed=1), helper.Dataset('celeba', small_celeba, seed=1)
    epoch_a, epoch_b = list(first.get_batches(50)), list(first.get_batches(50))
    assert not np.array_equal(epoch_a[0], epoch_b[0])
    np.testing.assert_array_equal(np.concatenate(epoch_a), np.concatenate(list(second.get_batches(50))))


def test_batch_size_out_of_range_is_refused(small_celeba):
    with pytest.raises(ValueError, match='between 1 and 100'):
        next(helper.Dataset('celeba', small_celeba).get_batches(101))


def test_square_grid_places_images_row_by_row():
    images = np.zeros((27, 28, 28, 3), np.uint8)
    for k in range(27):
        images[k] = k
    grid = np.asarray(helper.images_square_grid(images, 'RGB'))
    assert grid.shape == (140, 140, 3)  # 25 images fill a 5x5 square; 2 are left out
    assert grid[0, 0, 0] == 0 and grid[0, 28, 0] == 1 and grid[28, 0, 0] == 5 and grid[139, 139, 0] == 24
    floats = np.asarray(helper.images_square_grid(np.full((4, 28, 28, 1), -1.0), 'L'))
    assert floats.shape == (56, 56) and floats.max() == 0


def test_grid_display_is_lossless_png_for_gray_and_close_jpeg_for_colour(small_celeba):
    faces = helper.get_batch('celeba', 25, small_celeba)
    grays = np.asarray(helper.images_square_grid(faces, 'L'))[None, :, :, None].repeat(4, 0)  # 4 gray 140x140
    shown = helper.grid_display(grays, 'L')
    assert shown.format == 'png' and shown.width == 2 * 280
    decoded = np.asarray(Image.open(io.BytesIO(shown.data)))
    np.testing.assert_array_equal(decoded, helper.images_square_grid(grays, 'L'))
    shown = helper.grid_display(faces, 'RGB')
    decoded = np.asarray(Image.open(io.BytesIO(shown.data)), np.float64)
    expected = np.asarray(helper.images_square_grid(faces, 'RGB'), np.float64)
    assert shown.format == 'jpeg' and shown.width == 2 * 140 and decoded.shape == expected.shape
    assert np.abs(decoded - expected).mean() < 3  # JPEG's loss on real faces stays under a few levels


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        helper.download_extract('cifar')
    with pytest.raises(ValueError, match="mode must be 'L' or 'RGB'"):
        helper.images_square_grid(np.zeros((4, 28, 28, 3), np.uint8), 'CMYK')


def test_missing_cache_says_what_to_run(tmp_path):
    with pytest.raises(DataError, match=r'download_extract\("celeba"'):
        helper.Dataset('celeba', tmp_path)


# --- damaged prepared files ----------------------------------------------------------------------

def test_truncated_celeba_cache_is_rebuilt_on_load_saying_why(small_celeba, capsys, monkeypatch):
    npy, _ = celeba.cache_paths(small_celeba)
    intact = np.load(npy).copy()
    with open(npy, 'r+b') as f:
        f.truncate(npy.stat().st_size // 2)  # an interrupted copy
    images = helper.Dataset('celeba', small_celeba).images
    err = capsys.readouterr().err
    assert 'celeba_28x28.npy: ' in err and 'bytes, but its record says' in err and 'rebuilding it' in err
    np.testing.assert_array_equal(images, intact)


def test_garbled_celeba_cache_of_the_right_size_is_rebuilt_by_download_extract(small_celeba, capsys):
    npy, _ = celeba.cache_paths(small_celeba)
    intact = np.load(npy).copy()
    with open(npy, 'r+b') as f:
        f.seek(-1000, 2)
        f.write(bytes(1000))  # same size, same header, wrong pixels
    helper.download_extract('celeba', small_celeba)
    assert 'its sha256 does not match its record' in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(npy), intact)


def test_damaged_celeba_cache_without_its_sources_says_what_is_wrong(small_celeba, tmp_path, monkeypatch):
    npy, _ = celeba.cache_paths(small_celeba)
    with open(npy, 'r+b') as f:
        f.truncate(20_000)
    monkeypatch.setenv('DLND_DATA_SOURCE', str(tmp_path / 'nowhere'))
    monkeypatch.setattr(celeba, 'MIRRORS', ())
    with pytest.raises(DataError, match=r'celeba_28x28\.npy needs rebuilding \(20,000 bytes, but its record says'):
        helper.Dataset('celeba', small_celeba)


def test_damaged_mnist_file_of_the_right_size_is_fetched_again(tmp_path, shared_data, monkeypatch, capsys):
    monkeypatch.setenv('DLND_DATA_SOURCE', str(shared_data))
    helper.download_extract('mnist', tmp_path)
    raw = tmp_path / 'mnist' / 'train-labels-idx1-ubyte'
    with open(raw, 'r+b') as f:
        f.seek(100)
        f.write(b'\x09' * 100)
    helper.download_extract('mnist', tmp_path)
    assert 'its sha256 is not the official one' in capsys.readouterr().err
    assert mnist.damage(raw, raw.name) is None


def test_damaged_classifier_cache_is_trained_again(mnist_folder, tmp_path, monkeypatch):
    from dlnd.gan import mnist_classifier
    folder = tmp_path / 'data'
    (folder / 'mnist').mkdir(parents=True)
    for name in mnist.IDX_SHA256:
        (folder / 'mnist' / name).symlink_to(Path(mnist_folder) / 'mnist' / name)
    stored = mnist_classifier.cache_path(mnist_folder)
    mnist_classifier.load_or_train(mnist_folder, log=lambda line: None)  # the session's trained classifier
    mnist_classifier.cache_path(folder).write_bytes(stored.read_bytes()[:5000])
    messages, trained = [], []
    monkeypatch.setattr(mnist_classifier, 'train', lambda data_path, log: trained.append(data_path) or (
        mnist_classifier.MnistClassifier(mnist_classifier.read_weights(stored)), 1.0))
    mnist_classifier.load_or_train(folder, log=messages.append)
    assert trained == [folder] and 'unreadable' in messages[0]
    assert mnist_classifier.read_weights(mnist_classifier.cache_path(folder)).keys() == \
        mnist_classifier.read_weights(stored).keys()
