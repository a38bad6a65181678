"""Fetch one file from a list of places: a local folder, then HTTP mirrors.

HTTP transfers stream to a `.part` file with a progress bar, time out instead of
hanging, resume with a Range request after a dropped connection, and are renamed
into place only after the caller's check accepts them.
"""
import hashlib
import http.client
import os
import shutil
import socket
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from ..fileio import CHUNK_BYTES, DataError, atomic_path

SOURCE_ENV = 'DLND_DATA_SOURCE'  # a local folder or base URL tried before the public mirrors
TIMEOUT_S = 30
ATTEMPTS = 4  # per URL; each retry resumes where the last one stopped
USER_AGENT = 'dlnd-face-generation/1.0'


class DownloadError(RuntimeError):
    """One URL could not be fetched; the message says why."""


def _part_path(dest, url):
    # One .part per URL, so bytes from two different mirrors are never joined together.
    tag = hashlib.sha1(url.encode()).hexdigest()[:10]
    return dest.with_name(f'{dest.name}.{tag}.part')


def fetch_url(url, dest, part=None, timeout=TIMEOUT_S, attempts=ATTEMPTS):
    """Download `url` to `dest`, resuming an interrupted transfer where the server allows it.

    `part` is where the unfinished bytes wait; it outlives a failed call so the next one resumes.
    """
    dest = Path(dest)
    part = Path(part) if part else _part_path(dest, url)
    part.parent.mkdir(parents=True, exist_ok=True)
    last_problem = None
    for _ in range(attempts):
        have = part.stat().st_size if part.exists() else 0
        headers = {'User-Agent': USER_AGENT}
        if have:
            headers['Range'] = f'bytes={have}-'
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
                if have and resp.status != 206:
                    have = 0  # the server ignored the Range header: start again
                length = resp.headers.get('Content-Length')
                total = have + int(length) if length is not None else None
                _stream(resp, part, have, total, desc=part.name.rsplit('.', 2)[0])  # the file's own name
            size = part.stat().st_size
            if total is not None and size != total:
                last_problem = f'connection closed after {size:,} of {total:,} bytes'
                continue
            os.replace(part, dest)
            return dest
        except urllib.error.HTTPError as e:
            if e.code == 416 and have:  # our .part is not a prefix of this file any more
                part.unlink()
                last_problem = 'server refused to resume'
                continue
            raise DownloadError(f'HTTP {e.code} {e.reason}') from e
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError) as e:
            last_problem = getattr(e, 'reason', None) or e
    raise DownloadError(f'gave up after {attempts} attempts: {last_problem}')


def _stream(resp, part, have, total, desc):
    with open(part, 'ab' if have else 'wb') as out, \
            tqdm(total=total, initial=have, unit='B', unit_scale=True, desc=desc, leave=False) as bar:
        for chunk in iter(lambda: resp.read(CHUNK_BYTES), b''):
            out.write(chunk)
            bar.update(len(chunk))


def local_source():
    """The folder or base URL named by $DLND_DATA_SOURCE, or None."""
    value = os.environ.get(SOURCE_ENV, '').strip()
    return value or None


def is_url(location):
    return location.startswith(('http://', 'https://'))


def candidate_locations(relpaths, mirror_urls):
    """Where to look for a file, in order: the local source under each relative path, then the mirrors."""
    source = local_source()
    places = []
    if source:
        for rel in relpaths:
            places.append(f'{source.rstrip("/")}/{rel}' if is_url(source) else str(Path(source).expanduser() / rel))
    return places + list(mirror_urls)


def obtain(dest, locations, accept, manual_help):
    """Bring a file to `dest` from the first location whose copy `accept` takes.

    accept(path, location) checks a fetched copy and raises DataError if it is bad; the next
    location is then tried. When every location fails, the error lists each one and why.
    """
    dest = Path(dest)
    failures = []
    for location in locations:
        try:
            with atomic_path(dest) as tmp:
                if is_url(location):
                    fetch_url(location, tmp, part=_part_path(dest, location))
                elif os.path.isfile(location):
                    shutil.copyfile(location, tmp)
                else:
                    raise DownloadError('no such file')
                accept(tmp, location)
            return dest
        except (DownloadError, DataError, OSError) as e:
            failures.append(f'{location}: {e}')
    tried = '\n'.join(f'  - {f}' for f in failures) or '  (no locations)'
    raise DataError(f'could not get {dest.name}. Tried:\n{tried}\n{manual_help}')
