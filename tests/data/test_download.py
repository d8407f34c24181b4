"""The official download, for real: the loaders' own download code against an HTTP server on 127.0.0.1 serving
generated files (good, missing, cut off mid-transfer, bit-flipped, the wrong file), the mirror list pointed there
through TINYCNN_MNIST_MIRRORS / TINYCNN_FASHION_MNIST_MIRRORS. No traffic leaves this machine: the server binds
127.0.0.1 and the proxies are switched off."""

import gzip
import hashlib
import http.server
import os
import threading

import numpy as np
import pytest

from tinycnn.data import last_source, load_fashion_mnist, load_mnist, mnist, mnist_wheel

from .test_mnist import SMALL, fake_split, idx_files, register


class Server:
    """Serves ``routes`` (URL path -> (mode, bytes)) on 127.0.0.1: mode "ok"; "cut" sends half the body under
    the full Content-Length, then closes (a transfer that breaks off); anything missing is a 404."""

    def __init__(self):
        self.routes, self.requests = {}, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                outer.requests.append(self.path)
                mode, body = outer.routes.get(self.path, ("missing", b""))
                if mode == "missing":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if mode == "ok" else body[:len(body) // 2])
                if mode == "cut":
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local server, a private cache, small splits, no proxies, no Debian folder, no pip."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path / "cache"))
    for var in ("TINYCNN_DATA", "TINYCNN_NO_MIRRORS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(mnist, "_COUNTS", dict(SMALL))
    monkeypatch.setattr(mnist, "FASHION_MNIST_DIR", str(tmp_path / "no-debian-package"))
    monkeypatch.setattr(mnist_wheel, "from_pypi", lambda: pytest.fail("PyPI contacted"))
    s = Server()
    yield s
    s.close()


def official(monkeypatch, dataset, split, seed=0):
    """Generated files made 'official' (their md5 and SHA-256 registered): (images, labels, {name.gz: bytes})."""
    images, labels = fake_split(SMALL[split], seed)
    files = idx_files(split, images, labels)
    gz = {base: gzip.compress(content, mtime=0) for base, content in files.items()}
    register(monkeypatch, dataset, files, gz)
    return images, labels, {base + ".gz": data for base, data in gz.items()}


def serve(server, folder, files, mode="ok", only=None):
    for name, data in files.items():
        server.routes[f"/{folder}/{name}"] = (mode if only in (None, name) else "ok", data)


def point(monkeypatch, server, env_var, *folders):
    monkeypatch.setenv(env_var, " ".join(f"{server.url}/{f}/" for f in folders))


def cache_files(tmp_path):
    folder = tmp_path / "cache"
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_download_verified_then_cached(server, monkeypatch, tmp_path):
    images, labels, gz = official(monkeypatch, "fashion-mnist", "test")
    serve(server, "good", gz)
    point(monkeypatch, server, "TINYCNN_FASHION_MNIST_MIRRORS", "down", "good")  # the first mirror 404s
    x, y = load_fashion_mnist("test", verbose=False)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    assert last_source() == ("mirror", f"{server.url}/good/")
    assert server.requests == ["/down/t10k-images-idx3-ubyte.gz",  # one try, then the rest of the mirror skipped
                               "/good/t10k-images-idx3-ubyte.gz", "/good/t10k-labels-idx1-ubyte.gz"]
    assert cache_files(tmp_path) == ["fashion-mnist-test.npz", "fashion-mnist-test.npz.sha256"]
    load_fashion_mnist("test", verbose=False)
    assert last_source().kind == "cache" and len(server.requests) == 3


def test_transfer_cut_off_moves_on_to_the_next_mirror(server, monkeypatch, tmp_path):
    images, _, gz = official(monkeypatch, "mnist", "test")
    serve(server, "cut", gz, mode="cut", only="t10k-labels-idx1-ubyte.gz")
    serve(server, "good", gz)
    point(monkeypatch, server, "TINYCNN_MNIST_MIRRORS", "cut", "good")
    x, _ = load_mnist("test", verbose=False)
    np.testing.assert_array_equal(x, images)
    assert last_source() == ("mirror", f"{server.url}/good/")
    assert "/cut/t10k-labels-idx1-ubyte.gz" in server.requests


def test_every_mirror_failing_lists_each(server, monkeypatch):
    _, _, gz = official(monkeypatch, "fashion-mnist", "train")
    serve(server, "cut", gz, mode="cut")
    point(monkeypatch, server, "TINYCNN_FASHION_MNIST_MIRRORS", "down", "cut")
    with pytest.raises(RuntimeError, match="could not load Fashion-MNIST 'train'") as err:
        load_fashion_mnist("train", verbose=False)
    message = str(err.value)
    assert f"mirror {server.url}/down/: HTTPError" in message and "404" in message
    assert f"mirror {server.url}/cut/: IncompleteRead" in message


@pytest.mark.parametrize("fault", ["bit flip", "truncated file", "another file"])
def test_a_bad_file_is_refused_naming_it_and_never_cached(server, monkeypatch, tmp_path, fault):
    _, _, gz = official(monkeypatch, "fashion-mnist", "test")
    name = "t10k-images-idx3-ubyte.gz"
    good = gz[name]
    if fault == "bit flip":
        bad = bytearray(good)
        bad[len(bad) // 2] ^= 0x10
        bad = bytes(bad)
    elif fault == "truncated file":  # complete as a transfer (its own Content-Length), but short
        bad = good[:len(good) - 100]
    else:
        bad = gzip.compress(idx_files("test", *fake_split(SMALL["test"], 1))["t10k-images-idx3-ubyte"], mtime=0)
    serve(server, "bad", {**gz, name: bad})
    serve(server, "good", gz)
    point(monkeypatch, server, "TINYCNN_FASHION_MNIST_MIRRORS", "bad", "good")
    with pytest.raises(ValueError) as err:
        load_fashion_mnist("test", verbose=False)
    message = str(err.value)
    assert message.startswith(f"{server.url}/bad/{name}: md5 mismatch")
    assert mnist.FASHION_MNIST_MD5[name] in message and hashlib.md5(bad).hexdigest() in message
    assert cache_files(tmp_path) == []
    assert not any(r.startswith("/good/") for r in server.requests)  # a mirror serving bad data stops the load


def test_md5_right_but_content_wrong_is_refused(server, monkeypatch, tmp_path):
    """A .gz whose md5 is on the list but whose content is not the official one (a list out of step): the
    SHA-256 of the content still refuses it."""
    _, _, gz = official(monkeypatch, "mnist", "test")
    monkeypatch.setitem(mnist.MNIST_SHA256, "t10k-labels-idx1-ubyte", "0" * 64)
    serve(server, "m", gz)
    point(monkeypatch, server, "TINYCNN_MNIST_MIRRORS", "m")
    with pytest.raises(ValueError, match="sha256 of the decompressed IDX content mismatch") as err:
        load_mnist("test", verbose=False)
    assert f"{server.url}/m/t10k-labels-idx1-ubyte.gz" in str(err.value)
    assert cache_files(tmp_path) == []
