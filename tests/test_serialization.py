"""tinycnn.save / tinycnn.load: round trips of nested state, refusals of what is not data, and every way a file can
be unreadable (each one line naming the file; never a pickle opened, never a silently different answer)."""

import collections
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import tinycnn as tc
from tinycnn.models import lenet5
from tinycnn.nn.module import Parameter
from tinycnn.optim import SGD, Adam, CosineAnnealingLR
from tinycnn.serialization import SKELETON, CheckpointError


def same(a, b):
    """Structural equality that checks types, dtypes and values (nan equal to nan)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif isinstance(a, tc.Tensor):
        assert a.requires_grad == b.requires_grad
        same(a.data, b.data)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


def test_round_trip_of_nested_state(tmp_path, rng):
    obj = {
        "weights": collections.OrderedDict(w=rng.standard_normal((3, 4)).astype(np.float32),
                                           b=np.zeros(4, np.float16)),
        0: [np.arange(5, dtype=np.int64), np.array(True), np.array(["ab", "c"])],
        "t": (1, 2.5, -0.0, float("nan"), float("inf"), None, True, False, "text", 10**30, -(2**70)),
        "scalars": [np.float32(1.5), np.int8(-3), np.bool_(True), np.float64(2.0)],
        "tensor": tc.Tensor(rng.standard_normal((2, 2)).astype(np.float32), requires_grad=True),
        "param": Parameter(np.ones(3, np.float64)),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "empty": np.zeros((0, 3), np.float32),
        1.5: {}, None: [], True: (),
    }
    tc.save(obj, tmp_path / "x.pt")
    back = tc.load(tmp_path / "x.pt")
    same(back, obj)
    assert isinstance(back["param"], Parameter) and back["param"].requires_grad
    assert type(back["tensor"]) is tc.Tensor and back["tensor"].requires_grad


def test_the_same_object_is_stored_once_and_loads_as_one(tmp_path):
    shared = np.arange(4.0)
    t = tc.Tensor(np.ones(2, np.float32))
    tc.save({"a": shared, "b": [shared], "t1": t, "t2": t}, tmp_path / "x")
    back = tc.load(tmp_path / "x")
    assert back["a"] is back["b"][0] and back["t1"] is back["t2"]
    with np.load(tmp_path / "x", allow_pickle=False) as z:  # a plain .npz: two arrays and the skeleton
        assert sorted(z.files) == ["__tinycnn__", "a0", "a1"]


def test_model_and_optimizer_state_round_trip(tmp_path, rng):
    tc.manual_seed(0)
    model = lenet5()
    for opt in (SGD(model.parameters(), lr=0.1, momentum=0.9), Adam(model.parameters(), lr=1e-3)):
        x = tc.Tensor(rng.standard_normal((4, 1, 28, 28)).astype(np.float32))
        model(x).sum().backward()
        opt.step()
        sched = CosineAnnealingLR(opt, T_max=5)
        opt.step()  # PyTorch's order: the optimizer steps before its scheduler (else both warn)
        sched.step()
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
        tc.save(state, tmp_path / "s.npz")
        same(tc.load(tmp_path / "s.npz"), state)


@pytest.mark.parametrize("obj, what, where", [
    ({"a": {1, 2}}, "builtins.set", "obj['a']"),
    ([1, object()], "builtins.object", "obj[1]"),
    ({"f": lambda x: x}, "builtins.function", "obj['f']"),
    ({"m": lenet5}, "builtins.function", "obj['m']"),
    ((1, b"bytes"), "builtins.bytes", "obj[1]"),
])
def test_unsupported_types_are_refused_naming_type_and_place(tmp_path, obj, what, where):
    with pytest.raises(TypeError) as err:
        tc.save(obj, tmp_path / "x")
    message = str(err.value)
    assert what in message and f"at {where}" in message and "torch.save" in message
    assert not os.listdir(tmp_path)  # nothing written, not even a temporary file


def test_object_arrays_bad_keys_and_cycles_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"dtype object\) at obj\['a'\]"):
        tc.save({"a": np.array([{}, 1], dtype=object)}, tmp_path / "x")
    with pytest.raises(TypeError, match="dict key of type tuple"):
        tc.save({(1, 2): 0}, tmp_path / "x")
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        tc.save(loop, tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tc.save({}, tmp_path / "no" / "such" / "folder" / "x")


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "x"
    tc.save({"v": np.zeros(3)}, path)
    before = path.read_bytes()

    def boom(*args):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        tc.save({"v": np.ones(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["x"]


def test_map_location(tmp_path):
    tc.save({"t": tc.Tensor(np.ones(2, np.float32))}, tmp_path / "x")
    assert tc.load(tmp_path / "x", map_location="cpu")["t"].device.type == "cpu"
    with pytest.raises(ValueError, match="device must be"):
        tc.load(tmp_path / "x", map_location="gpu")


# ----- unreadable files: one CheckpointError line naming the file -----

@pytest.fixture
def good(tmp_path):
    obj = {"w": np.arange(1000, dtype=np.float32).reshape(10, 100), "meta": {"epoch": 3, "name": "x" * 50}}
    path = tmp_path / "good.npz"
    tc.save(obj, path)
    return path, obj


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("content, expected", [
    (b"", "an empty file"),
    (b"hello, I am a text file\n", "text starting 'hello, I am a text file'"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "a PNG image"),
    (b"\x93NUMPY\x01\x00" + bytes(50), "a single NumPy .npy array"),
    (bytes(range(256)), "binary data"),
    (b"PK", "truncated"),
])
def test_not_a_tinycnn_file(tmp_path, content, expected):
    path = tmp_path / "c.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        tc.load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message


def test_a_pickle_is_never_opened(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(Evil(str(marker))))
    with pytest.raises(CheckpointError, match="a Python pickle"):
        tc.load(tmp_path / "p.pkl")
    # an .npz whose only array is a pickled object array: np.load with allow_pickle=True would run it
    np.savez(tmp_path / "o.npz", **{SKELETON: np.frombuffer(json.dumps(
        {"format": "tinycnn.save", "version": 1, "root": {"$": "ndarray", "key": "a0"},
         "arrays": {"a0": {"dtype": "|O", "shape": [1], "sha256": "0"}}}).encode(), np.uint8)},
        a0=np.array([Evil(str(marker))], dtype=object))
    with pytest.raises(CheckpointError, match="truncated or corrupted .*Python objects, which would need pickle"):
        tc.load(tmp_path / "o.npz")
    assert not marker.exists()


def test_other_archives(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    with pytest.raises(CheckpointError, match="a zip archive but not a tinycnn file"):
        tc.load(tmp_path / "plain.npz")
    with zipfile.ZipFile(tmp_path / "model.pth", "w") as z:  # the layout of torch.save's zip files
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(CheckpointError, match="looks like a PyTorch file"):
        tc.load(tmp_path / "model.pth")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz: no such file"):
        tc.load(tmp_path / "nothing.npz")
    with pytest.raises(CheckpointError, match="is a directory"):
        tc.load(tmp_path)


def test_every_truncation_is_an_error(good):
    path, _ = good
    data = path.read_bytes()
    for size in list(range(0, 64, 7)) + list(range(64, len(data), max(1, len(data) // 40))):
        path.write_bytes(data[:size])
        with pytest.raises(CheckpointError) as err:
            tc.load(path)
        assert str(err.value).startswith(f"{path}: "), size


def test_a_bit_flip_anywhere_is_an_error_or_changes_nothing(good):
    """Never a silently different answer: a flipped bit is caught (zip CRC, SHA-256, structure) or sits in a
    field that nothing reads (a zip timestamp), and then the loaded object is the original."""
    path, obj = good
    data = path.read_bytes()
    caught = 0
    for offset in range(0, len(data), 13):
        flipped = bytearray(data)
        flipped[offset] ^= 0x04
        path.write_bytes(bytes(flipped))
        try:
            back = tc.load(path)
        except CheckpointError as e:
            assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
            caught += 1
        else:
            same(back, obj)
    assert caught > 0.9 * len(range(0, len(data), 13))


def test_an_array_changed_with_a_valid_zip_fails_its_sha256(good, tmp_path):
    path, _ = good
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["a0"] = arrays["a0"].copy()
    arrays["a0"][3, 7] += 1  # a new zip with correct CRCs: only the SHA-256 in the skeleton can tell
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(CheckpointError, match=r"the array at obj\['w'\] fails its SHA-256 check"):
        tc.load(tmp_path / "edited.npz")


def test_newer_format_and_broken_skeleton(tmp_path):
    def write(skeleton):
        buffer = io.BytesIO()
        np.savez(buffer, **{SKELETON: np.frombuffer(skeleton.encode(), np.uint8)})
        (tmp_path / "s.npz").write_bytes(buffer.getvalue())

    write(json.dumps({"format": "tinycnn.save", "version": 99, "root": None, "arrays": {}}))
    with pytest.raises(CheckpointError, match="written by a newer tinycnn"):
        tc.load(tmp_path / "s.npz")
    write("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        tc.load(tmp_path / "s.npz")
    write(json.dumps({"format": "tinycnn.save", "version": 1, "root": {"$": "ndarray", "key": "a9"}, "arrays": {}}))
    with pytest.raises(CheckpointError, match="malformed"):
        tc.load(tmp_path / "s.npz")
