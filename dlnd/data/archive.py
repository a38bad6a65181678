"""Zip and tar extraction that checks an archive before trusting it."""
import gzip
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ..fileio import CHUNK_BYTES, DataError, file_digest, unsafe_member


def check_member(zip_path, info):
    """Refuse members that would land outside the target folder, or that are links."""
    problem = unsafe_member(info)
    if problem == 'path':
        raise DataError(f'{zip_path}: refusing member {info.filename!r}: its path leaves the target folder')
    if problem == 'link':
        raise DataError(f'{zip_path}: refusing member {info.filename!r}: it is a symbolic link')


def extract_zip(zip_path, dest_dir):
    """Extract `zip_path` into `dest_dir` (which must not exist yet), all or nothing.

    Every member is checked first; CRCs are checked while extracting. The files go to a
    temporary folder that is renamed to `dest_dir` only when everything is out.
    """
    zip_path, dest_dir = Path(zip_path), Path(dest_dir)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f'{zip_path}: not a readable zip archive ({e})') from e
    with archive:
        members = archive.infolist()
        for info in members:
            check_member(zip_path, info)
        dest_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f'.{dest_dir.name}.', dir=dest_dir.parent))
        try:
            for info in members:
                _extract_member(archive, zip_path, info, tmp)
            tmp.rename(dest_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest_dir


def _extract_member(archive, zip_path, info, root):
    target = root / info.filename
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with archive.open(info) as src, open(target, 'wb') as out:
            shutil.copyfileobj(src, out, CHUNK_BYTES)
    except (zipfile.BadZipFile, EOFError, ValueError) as e:
        raise DataError(f'{zip_path}: member {info.filename!r} is corrupt ({e})') from e


def check_tar_member(tar_path, member):
    """Refuse members that would land outside the target folder, and anything but files and folders."""
    name = member.name.replace('\\', '/')
    if name.startswith('/') or (len(name) > 1 and name[1] == ':') or '..' in PurePosixPath(name).parts:
        raise DataError(f'{tar_path}: refusing member {member.name!r}: its path leaves the target folder')
    if member.issym() or member.islnk():
        raise DataError(f'{tar_path}: refusing member {member.name!r}: it is a link')
    if not (member.isfile() or member.isdir()):
        raise DataError(f'{tar_path}: refusing member {member.name!r}: it is neither a file nor a folder')


def extract_tar(tar_path, dest_dir):
    """Extract a (gzipped) tar into `dest_dir` (which must not exist yet), all or nothing, every member
    checked first; a truncated or corrupt archive raises DataError naming it."""
    tar_path, dest_dir = Path(tar_path), Path(dest_dir)
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{dest_dir.name}.', dir=dest_dir.parent))
    try:
        with tarfile.open(tar_path, 'r:*') as archive:
            members = archive.getmembers()
            for member in members:
                check_tar_member(tar_path, member)
            for member in members:
                target = tmp / member.name
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as src, open(target, 'wb') as out:
                    shutil.copyfileobj(src, out, CHUNK_BYTES)
        tmp.rename(dest_dir)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataError(f'{tar_path}: not a complete tar archive ({type(e).__name__}: {e})') from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest_dir


def check_fetched(path, location, magic, kind, mirrors, official_md5):
    """An archive just fetched: of the right kind (a server's error page is not), and the official file (by its
    md5) when it came from a public mirror; a local copy may hold part of the data set."""
    with open(path, 'rb') as f:
        if f.read(len(magic)) != magic:
            raise DataError(f'not a {kind} archive (an error page from the server?)')
    if location in mirrors:
        md5 = file_digest(path, 'md5')
        if md5 != official_md5:
            raise DataError(f'wrong checksum: md5 {md5}, expected {official_md5}')
