"""tinycnn.weights.download: torch.hub's check on download, atomic writes, nothing partial left; against a server on
127.0.0.1 only."""
import hashlib
import http.server
import threading

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn
import tinycnn.weights as W


def small_net():
    tc.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))


class _Server:
    def __init__(self, files, cut=None):
        self.files, self.requests = files, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                outer.requests.append(self.path)
                body = outer.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if cut is None else body[:cut])

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def weight_bytes(tmp_path):
    path = W.save_file(small_net(), tmp_path / "src.npz")
    data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:8]


def test_download_checks_the_hash(tmp_path, weight_bytes):
    data, prefix = weight_bytes
    good, bad = f"net-{prefix}.npz", "net-00000000.npz"
    server = _Server({good: data, bad: data, "plain.npz": data})
    try:
        dest = tmp_path / "cache"
        path = W.download(server.url + good, dest)
        assert path == dest / good and path.read_bytes() == data
        loaded = W.load_file(path)
        for k, v in small_net().state_dict().items():
            assert np.array_equal(loaded[k], v.numpy()), k
        W.download(server.url + good, dest)  # already there and checked: no second request
        assert server.requests.count("/" + good) == 1
        with pytest.raises(W.WeightsFileError, match="SHA-256 mismatch"):
            W.download(server.url + bad, dest)
        with pytest.raises(ValueError, match="check_hash=False"):
            W.download(server.url + "plain.npz", dest)
        assert W.download(server.url + "plain.npz", dest / "mine.npz", check_hash=False).name == "mine.npz"
        with pytest.raises(OSError):
            W.download(server.url + "missing-12345678.npz", dest)
        assert sorted(p.name for p in dest.iterdir()) == ["mine.npz", good]  # nothing partial left behind
    finally:
        server.close()


def test_download_cut_short_leaves_nothing(tmp_path, weight_bytes):
    data, prefix = weight_bytes
    name = f"net-{prefix}.npz"
    server = _Server({name: data}, cut=len(data) // 2)
    try:
        with pytest.raises(W.WeightsFileError, match="cut short"):
            W.download(server.url + name, tmp_path, check_hash=True)
        assert list(tmp_path.iterdir()) == [tmp_path / "src.npz"]
    finally:
        server.close()
