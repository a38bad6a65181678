"""Safe file writes, checksums and the rule for a safe zip member, shared by the data layer and the grader."""
import errno
import glob
import hashlib
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

CHUNK_BYTES = 1 << 20


class DataError(RuntimeError):
    """A data file is missing, corrupt or cannot be written; the message names the file."""


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; it replaces `path` only if the block finishes.

    An interrupted or failed write therefore never leaves a half-written `path` behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise DataError(f'{path}: the disk is full ({e.strerror}); free some space and run again') from e
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_digest(path, algorithm='sha256'):
    """Hex digest of a file, read in chunks so large archives do not fill memory."""
    digest = hashlib.new(algorithm)
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b''):
            digest.update(chunk)
    return digest.hexdigest()


def unsafe_member(info):
    """'path' for a zip member that would land outside the target folder, 'link' for a link, else None."""
    name = info.filename.replace('\\', '/')
    if name.startswith('/') or (len(name) > 1 and name[1] == ':') or '..' in PurePosixPath(name).parts:
        return 'path'
    return 'link' if stat.S_ISLNK(info.external_attr >> 16) else None


def checkpoint_files(folder):
    """The files of the newest TensorFlow checkpoint in `folder` (the one its `checkpoint` file names, else the
    newest .index): its .index, .data-* and .meta, with the `checkpoint` file; [] when there is none. What a
    submission carries of a trained model, and what the grader restores."""
    folder = Path(folder)
    indexes = [p for p in folder.glob('*.index') if p.is_file()]
    if not indexes:
        return []
    state = folder / 'checkpoint'
    named = state.read_text(errors='replace').partition('model_checkpoint_path:')[2].split('"')[1:2] \
        if state.is_file() else []
    chosen = folder / (PurePosixPath(named[0].replace('\\', '/')).name + '.index') if named else None
    index = chosen if chosen in indexes else max(indexes, key=lambda p: p.stat().st_mtime)
    prefix = index.name[:-len('.index')]
    data = sorted(folder.glob(f'{glob.escape(prefix)}.data-*'))
    meta = folder / f'{prefix}.meta'
    return [index, *data, *([meta] if meta.is_file() else []), *([state] if state.is_file() else [])]
