"""tinycnn.save / tinycnn.load at their edges (reviewer R1's findings 9-13): what cannot be restored exactly is
refused, never silently changed; torch.load's keywords; targets that are folders, FIFOs or devices; deep nesting."""

import collections
import enum
import io
import os
import re
import stat
import subprocess
import sys
import textwrap
import typing
import warnings
import zipfile

import numpy as np
import pytest

import tinycnn as tc
from tinycnn.serialization import SKELETON, CheckpointError


def refused(obj, tmp_path, *fragments):
    """tc.save(obj) raises one-line TypeError holding each fragment, and writes nothing."""
    with pytest.raises(TypeError) as err:
        tc.save(obj, tmp_path / "x")
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message and not os.listdir(tmp_path)


# ----- 9. masked arrays -----

def test_a_masked_array_is_refused_naming_its_place(tmp_path):
    """R1 #9: it was saved (digest of MaskedArray.tobytes()) and then failed its own SHA-256 check on load."""
    refused({"w": [np.ma.array([1, 2], mask=[0, 1])]}, tmp_path, "numpy.ma.MaskedArray", "obj['w'][0]", "mask")


# ----- 10. types that would come back as another type -----

class Point(typing.NamedTuple):
    x: int
    y: int


class Color(enum.IntEnum):
    RED = 1


class MyList(list):
    pass


class MyStr(str):
    pass


class MyFloat(float):
    pass


class MyCounter(collections.Counter):
    pass


with warnings.catch_warnings():
    warnings.simplefilter("ignore", PendingDeprecationWarning)  # numpy discourages np.matrix; users still have some
    _MATRIX = np.matrix([[1, 2]])


@pytest.mark.parametrize("obj, what, where", [
    ({"p": Point(1, 2)}, "Point", "obj['p']"),
    ({"p": collections.namedtuple("P", "a b")(1, 2)}, "P", "obj['p']"),
    ([collections.defaultdict(list)], "collections.defaultdict", "obj[0]"),
    ({"c": MyCounter("aab")}, "MyCounter", "obj['c']"),
    ((MyList([1]),), "MyList", "obj[0]"),
    ({"m": _MATRIX}, "numpy.matrix", "obj['m']"),
    ({"e": Color.RED}, "Color", "obj['e']"),
    ({"s": MyStr("a")}, "MyStr", "obj['s']"),
    ({"f": MyFloat(1.5)}, "MyFloat", "obj['f']"),
    ({"r": np.rec.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])}, "recarray", "obj['r']"),
])
def test_types_that_cannot_be_restored_are_refused(tmp_path, obj, what, where):
    """R1 #10: a namedtuple came back a tuple, a defaultdict a dict, np.matrix an ndarray, an IntEnum an int."""
    refused(obj, tmp_path, what, f"at {where}")


def test_a_counter_round_trips_as_a_counter(tmp_path):
    """MultiStepLR's state_dict holds its milestones in a Counter (PyTorch's too, and torch.save stores it): a
    refused Counter made every CIFAR checkpoint with the MultiStepLR recipe fail to save."""
    obj = {"milestones": collections.Counter({100: 1, 150: 2}), "plain": {1: 2}}
    tc.save(obj, tmp_path / "x")
    back = tc.load(tmp_path / "x")
    assert type(back["milestones"]) is collections.Counter and back["milestones"] == obj["milestones"]
    assert type(back["plain"]) is dict


def test_multisteplr_state_round_trips_through_save(tmp_path):
    params = [tc.nn.Parameter(tc.tensor(np.zeros(2)))]
    opt = tc.optim.SGD(params, lr=1.0)
    sched = tc.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 2, 4], gamma=0.5)
    for _ in range(3):
        opt.step()
        sched.step()
    tc.save(sched.state_dict(), tmp_path / "s")
    opt2 = tc.optim.SGD([tc.nn.Parameter(tc.tensor(np.zeros(2)))], lr=1.0)
    again = tc.optim.lr_scheduler.MultiStepLR(opt2, milestones=[9])
    again.load_state_dict(tc.load(tmp_path / "s"))
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    assert again.milestones == collections.Counter({2: 2, 4: 1})
    for _ in range(3):
        sched.step()
        again.step()
        assert again.get_last_lr() == sched.get_last_lr()
    assert sched.get_last_lr() == [0.125]


def test_a_dict_key_of_a_subclass_is_refused(tmp_path):
    with pytest.raises(TypeError, match=r"dict key of type .*Color.* at obj"):
        tc.save({Color.RED: 1}, tmp_path / "x")


def test_python_complex_numbers_round_trip_as_complex_arrays_do(tmp_path):
    """R1 #10: complex arrays were stored and a Python complex refused; both are stored now, exactly."""
    obj = {"z": 1.5 - 2j, "w": [complex("nan+infj"), complex(0, -0.0)], "a": np.array([1 + 2j])}
    tc.save(obj, tmp_path / "x")
    back = tc.load(tmp_path / "x")
    assert type(back["z"]) is complex and back["z"] == 1.5 - 2j
    assert np.isnan(back["w"][0].real) and back["w"][0].imag == float("inf")
    assert repr(back["w"][1]) == repr(complex(0, -0.0))
    assert back["a"].dtype == np.complex128 and back["a"][0] == 1 + 2j


# ----- 11. torch.load's keywords; file objects -----

def test_weights_only_is_accepted(tmp_path):
    """R1 #11: torch >= 2.6 code writes torch.load(path, weights_only=True); tinycnn never unpickles anyway."""
    tc.save({"w": np.ones(2)}, tmp_path / "x")
    for value in (True, False, None):
        np.testing.assert_array_equal(tc.load(tmp_path / "x", weights_only=value)["w"], np.ones(2))
    np.testing.assert_array_equal(tc.load(tmp_path / "x", map_location="cpu", weights_only=True)["w"], np.ones(2))
    with pytest.raises(TypeError, match="weights_only must be a bool or None, got 'yes'"):
        tc.load(tmp_path / "x", weights_only="yes")


@pytest.mark.parametrize("location, fragment", [
    (lambda storage, loc: storage, "function"),
    ({"cuda:0": "cpu"}, "dict"),
    ("gpu", "'gpu'"),
    (object(), "object"),
])
def test_a_bad_map_location_is_named(tmp_path, location, fragment):
    tc.save({"t": tc.Tensor(np.ones(2))}, tmp_path / "x")
    with pytest.raises((TypeError, ValueError)) as err:
        tc.load(tmp_path / "x", map_location=location)
    message = str(err.value)
    assert "map_location" in message and fragment in message and "\n" not in message


def test_map_location_takes_a_device_object(tmp_path):
    tc.save({"t": tc.Tensor(np.ones(2))}, tmp_path / "x")
    assert tc.load(tmp_path / "x", map_location=tc.device("cpu"))["t"].device.type == "cpu"


def test_file_objects_get_a_clear_error(tmp_path):
    with pytest.raises(TypeError, match=r"tinycnn.load: .*io.BytesIO.*file objects are not supported"):
        tc.load(io.BytesIO(b""))
    with pytest.raises(TypeError, match=r"tinycnn.save: .*io.BytesIO.*file objects are not supported"):
        tc.save({}, io.BytesIO())


# ----- 12. a folder as the target; deep nesting -----

def test_saving_onto_a_folder_names_the_folder(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as err:
        tc.save({}, folder)
    assert str(err.value) == f"tinycnn.save: {folder} is a folder; give the path of a file inside it"
    assert os.listdir(tmp_path) == ["run"] and not os.listdir(folder)


def test_a_file_as_the_parent_folder_is_named(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"tinycnn.save: .*f is not a folder"):
        tc.save({}, tmp_path / "f" / "x")


def test_too_deep_nesting_is_a_clear_error(tmp_path):
    deep = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError) as err:
        tc.save(deep, tmp_path / "x")
    message = str(err.value)
    assert "nested more than" in message and "levels deep" in message and len(message) < 400
    assert not os.listdir(tmp_path)
    ok = []
    for _ in range(50):
        ok = {"k": [ok]}
    tc.save(ok, tmp_path / "x")
    assert tc.load(tmp_path / "x") == ok


def test_a_file_nested_too_deep_is_refused_on_load(tmp_path):
    tc.save({"w": np.ones(1)}, tmp_path / "x")
    with zipfile.ZipFile(tmp_path / "x") as z:
        arrays = {name: z.read(name) for name in z.namelist()}
    for depth in (300, 5000):  # deeper than save allows; deeper than json.loads can parse
        text = ('{"format":"tinycnn.save","version":1,"arrays":{},"root":' + "[" * depth + "]" * depth + "}").encode()
        buffer = io.BytesIO()
        np.save(buffer, np.frombuffer(text, dtype=np.uint8))
        path = tmp_path / f"deep{depth}"
        with zipfile.ZipFile(path, "w") as z:
            for name, data in arrays.items():
                z.writestr(name, buffer.getvalue() if name == SKELETON + ".npy" else data)
        with pytest.raises(CheckpointError, match=f"^{re.escape(str(path))}: corrupted.*nested"):
            tc.load(path)


# ----- 13. only regular files are read -----

def load_in_a_subprocess(path) -> str:
    """The CheckpointError message of tc.load(path), run in a subprocess with a timeout: a regression (reading a
    FIFO waits for a writer forever; /dev/zero never ends) fails the test instead of hanging the suite."""
    code = textwrap.dedent(f"""
        import tinycnn as tc
        from tinycnn.serialization import CheckpointError
        try:
            tc.load({str(path)!r})
        except CheckpointError as e:
            print(e)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_is_refused_without_hanging(tmp_path):
    """R1 #13: `mkfifo f; tinycnn evaluate f` hung forever waiting for a writer."""
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    assert load_in_a_subprocess(fifo) == f"{fifo}: not a regular file (a FIFO)"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_refused():
    assert load_in_a_subprocess("/dev/zero") == "/dev/zero: not a regular file (a character device)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_tinycnn_evaluate_on_a_fifo_says_one_line(tmp_path):
    """R1's repro: `mkfifo f; tinycnn evaluate f` hung; now one line naming the file, exit 2."""
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "tinycnn", "evaluate", str(fifo)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == f"tinycnn evaluate: error: {fifo}: not a regular file (a FIFO)\n"


def test_a_symlink_to_a_good_file_is_read(tmp_path):
    tc.save({"w": np.ones(2)}, tmp_path / "x")
    (tmp_path / "link").symlink_to(tmp_path / "x")
    np.testing.assert_array_equal(tc.load(tmp_path / "link")["w"], np.ones(2))


def test_a_dangling_symlink_is_named(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(FileNotFoundError, match=r"link: a symbolic link to .*gone, which does not exist"):
        tc.load(tmp_path / "link")
