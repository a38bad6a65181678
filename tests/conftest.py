"""Shared fixtures: the real data in ../shared/data, and a real HTTP server on 127.0.0.1."""
import hashlib
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARED_DATA = Path(os.environ.get('DLND_TEST_DATA', ROOT.parent / 'shared' / 'data'))


@pytest.fixture(scope='session')
def shared_data():
    """The real MNIST IDX files and CelebA JPEGs (read-only)."""
    if not (SHARED_DATA / 'mnist').is_dir():
        pytest.fail(f'real test data not found at {SHARED_DATA}; set DLND_TEST_DATA to the shared data folder')
    return SHARED_DATA


def _prepared(name, folder):
    import helper
    with mock.patch.dict(os.environ, {'DLND_DATA_SOURCE': str(SHARED_DATA)}):
        helper.download_extract(name, folder)
    return folder


@pytest.fixture(scope='session')
def mnist_folder(tmp_path_factory, shared_data):
    """A data folder with MNIST prepared from the real files."""
    return _prepared('mnist', tmp_path_factory.mktemp('mnist'))


@pytest.fixture(scope='session')
def celeba_folder(tmp_path_factory, shared_data):
    """A data folder with the CelebA cache built from the real JPEGs."""
    return _prepared('celeba', tmp_path_factory.mktemp('celeba'))


@pytest.fixture(scope='session')
def flowers_folder(tmp_path_factory, shared_data):
    """A data folder with the flowers cache built from the real photographs."""
    return _prepared('flowers', tmp_path_factory.mktemp('flowers'))


@pytest.fixture(scope='session')
def quality_reference(tmp_path_factory, shared_data):
    """The grader's reference file (real digits, faces and flowers, dlnd.gan.quality), built from the real data once and
    kept in build/ while the code that builds it is unchanged; the judges of every grading test read it."""
    from dlnd.gan import quality
    key = hashlib.sha256(b''.join((ROOT / 'dlnd' / 'gan' / name).read_bytes()
                                  for name in ('quality.py', 'metrics.py', 'mnist_classifier.py'))).hexdigest()[:16]
    path = ROOT / 'build' / 'test-reference' / key / quality.REFERENCE_NAME
    if not path.is_file():
        folder = tmp_path_factory.mktemp('reference-data')
        for name in ('mnist', 'celeba', 'flowers'):
            _prepared(name, folder)
        quality.build(folder, path)
    os.environ['DLND_QUALITY_REFERENCE'] = str(path)
    return path


@pytest.fixture(autouse=True)
def no_data_source(monkeypatch):
    """Each test chooses its own data source; none leaks in from the environment."""
    monkeypatch.delenv('DLND_DATA_SOURCE', raising=False)


class Route:
    """What the test server answers for one path.

    body: the bytes served (with Range support); status: an error code to answer instead;
    drop_first: how many requests get only half the body before the connection is cut;
    delay: seconds to wait before answering.
    """

    def __init__(self, body=b'', status=200, drop_first=0, delay=0.0):
        self.body, self.status, self.drop_first, self.delay = body, status, drop_first, delay


class FileServer:
    def __init__(self):
        self.routes, self.requests = {}, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get('Range')))
                route = server.routes.get(self.path)
                if route is not None and route.delay:
                    time.sleep(route.delay)
                if route is None or route.status != 200:
                    self.send_error(404 if route is None else route.status)
                    return
                body, start = route.body, 0
                if self.headers.get('Range', '').startswith('bytes='):
                    start = int(self.headers['Range'][6:].split('-')[0])
                    self.send_response(206)
                    self.send_header('Content-Range', f'bytes {start}-{len(body) - 1}/{len(body)}')
                else:
                    self.send_response(200)
                self.send_header('Content-Length', str(len(body) - start))
                self.end_headers()
                if route.drop_first > 0:
                    route.drop_first -= 1
                    self.wfile.write(body[start:start + (len(body) - start) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_port}'
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, path, route):
        self.routes[path] = route
        return self.url + path

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1 whose answers each test sets with server.serve(path, Route(...))."""
    file_server = FileServer()
    yield file_server
    file_server.close()
