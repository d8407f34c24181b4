"""IDX reader/writer: PITFALLS row P14, round trips, and every kind of bad file."""

import gzip
import io
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinycnn.data import idx, read_idx, read_idx_header, write_idx

# P14: the 24-byte file: magic 00 00 08 03 (uint8, 3 dims), dims 2, 2, 2, then 8 pixels.
TINY = bytes.fromhex("00000803 00000002 00000002 00000002") + bytes([0, 255, 128, 1, 10, 20, 30, 40])
TINY_ARRAY = np.array([[[0, 255], [128, 1]], [[10, 20], [30, 40]]], dtype=np.uint8)


def gzip_like_the_cli(data: bytes, name: str) -> bytes:
    """Gzip the way the `gzip` tool does: with the original file name stored (FLG.FNAME set)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buf, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


# --- P14 ---------------------------------------------------------------------------------------------------

def test_p14_header_is_big_endian():
    header = bytes.fromhex("00 00 08 03 00 00 EA 60 00 00 00 1C 00 00 00 1C")
    assert read_idx_header(header) == (2051, 60000, 28, 28)


def test_p14_tiny_file_loads(tmp_path):
    path = tmp_path / "tiny-idx3-ubyte"
    path.write_bytes(TINY)
    assert len(TINY) == 24
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out, TINY_ARRAY)
    np.testing.assert_array_equal(read_idx(str(path)), TINY_ARRAY)
    np.testing.assert_array_equal(read_idx(io.BytesIO(TINY)), TINY_ARRAY)
    out[0, 0, 0] = 7  # the result owns writable memory


def test_p14_gzip_copy_detected_by_magic_not_name(tmp_path):
    gz = gzip_like_the_cli(TINY, "tiny-idx3-ubyte")
    # Read raw, a gzip stream shows this "magic": the reader must recognise gzip instead.
    assert int.from_bytes(gz[:4], "big") == 529205256
    with pytest.raises(ValueError, match="529205256"):
        idx._parse_header(gz, "raw-gzip")
    for name in ("tiny-idx3-ubyte.gz", "tiny-idx3-ubyte"):  # with and without the .gz name
        path = tmp_path / name
        path.write_bytes(gz)
        np.testing.assert_array_equal(read_idx(path), TINY_ARRAY)
        assert read_idx_header(path) == (2051, 2, 2, 2)
    np.testing.assert_array_equal(read_idx(io.BytesIO(gz)), TINY_ARRAY)


def test_write_idx_reproduces_the_tiny_file(tmp_path):
    write_idx(tmp_path / "tiny", TINY_ARRAY)
    assert (tmp_path / "tiny").read_bytes() == TINY
    write_idx(tmp_path / "tiny.gz", TINY_ARRAY)
    gz = (tmp_path / "tiny.gz").read_bytes()
    assert gz[:2] == b"\x1f\x8b" and gzip.decompress(gz) == TINY


# --- round trips -------------------------------------------------------------------------------------------

DTYPES = ["u1", "i1", ">i2", "<i2", ">i4", "<i4", ">f4", "<f4", ">f8", "<f8"]


@settings(max_examples=60, deadline=None)
@given(
    array=st.sampled_from(DTYPES).flatmap(
        lambda dt: hnp.arrays(np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    ),
    gz=st.booleans(),
)
def test_round_trip(tmp_path_factory, array, gz):
    path = tmp_path_factory.mktemp("rt") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    out = read_idx(path)
    assert out.shape == array.shape
    assert out.dtype == array.dtype.newbyteorder("=") and out.dtype.isnative
    assert out.tobytes() == array.astype(out.dtype).tobytes()  # bit-exact, NaN payloads and -0.0 included
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz


def test_write_is_deterministic_and_leaves_no_temp_files(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", a)
    first = (tmp_path / "a.gz").read_bytes()
    write_idx(tmp_path / "a.gz", a)
    assert (tmp_path / "a.gz").read_bytes() == first
    assert os.listdir(tmp_path) == ["a.gz"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "a.idx"
    write_idx(path, TINY_ARRAY)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(idx.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.zeros((3, 3), np.uint8))
    assert path.read_bytes() == TINY
    assert os.listdir(tmp_path) == ["a.idx"]


@pytest.mark.parametrize("array", [np.zeros(3, np.int64), np.zeros(3, bool), np.zeros(3, np.uint16)])
def test_write_rejects_unsupported_dtypes(tmp_path, array):
    with pytest.raises(TypeError, match=str(array.dtype)):
        write_idx(tmp_path / "bad", array)
    assert os.listdir(tmp_path) == []


# --- bad files: ValueError naming the file, the expected and the actual value -------------------------------

def test_truncated_data(tmp_path):
    path = tmp_path / "cut-idx3-ubyte"
    path.write_bytes(TINY[:-1])
    with pytest.raises(ValueError, match="truncated") as err:
        read_idx(path)
    assert str(path) in str(err.value) and "needs 8" in str(err.value) and "got 7" in str(err.value)


def test_truncated_header(tmp_path):
    path = tmp_path / "cut"
    path.write_bytes(TINY[:10])
    with pytest.raises(ValueError, match=r"truncated IDX header: expected 16 bytes .* got 10"):
        read_idx(path)
    path.write_bytes(TINY[:3])
    with pytest.raises(ValueError, match="expected at least 4 bytes, got 3"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(TINY + b"\x00\x00")
    with pytest.raises(ValueError, match=r"size mismatch.*needs 8 data bytes, got 10"):
        read_idx(path)


@pytest.mark.parametrize("header, message", [
    ("01000803", "bad IDX magic"),
    ("00010803", "bad IDX magic"),
    ("00000A03", "bad IDX dtype code.*got 0x0A"),
])
def test_bad_magic(tmp_path, header, message):
    path = tmp_path / "bad-magic"
    path.write_bytes(bytes.fromhex(header) + TINY[4:])
    with pytest.raises(ValueError, match=message) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(TINY * 50)[:-12])
    with pytest.raises(ValueError, match="truncated gzip") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_real_fashion_mnist_headers():
    root = "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(root):
        pytest.skip("dataset-fashion-mnist is not installed")
    assert read_idx_header(os.path.join(root, "t10k-images-idx3-ubyte.gz")) == (2051, 10000, 28, 28)
    assert read_idx_header(os.path.join(root, "train-labels-idx1-ubyte.gz")) == (2049, 60000)
