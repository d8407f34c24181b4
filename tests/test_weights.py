"""tinycnn.weights: weight files in and out (.npz always, .safetensors with the extra, .pth with torch), clear
errors for damaged, foreign and mismatched files, torch.hub's SHA-256 prefix check, torchvision's table and the
architecture guess. The download: test_weights_download.py."""
import hashlib
import sys

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn
import tinycnn.weights as W
from tinycnn.models import get_model


def small_net():
    tc.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))


def same_state(a, b, ordered=True):
    assert list(a) == list(b) if ordered else sorted(a) == sorted(b)
    for k in a:
        x, y = (v.numpy() if hasattr(v, "numpy") else np.asarray(v) for v in (a[k], b[k]))
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), k


def named_by_hash(path):
    """Rename ``path`` as torchvision names its files: NAME-<first 8 hex digits of the SHA-256>.EXT."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    target = path.with_name(f"{path.stem}-{digest[:8]}{path.suffix}")
    path.rename(target)
    return target


# ----- formats -----

FORMATS = ["npz", pytest.param("safetensors", marks=pytest.mark.skipif(
    not __import__("importlib").util.find_spec("safetensors"), reason="safetensors not installed"))]


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tmp_path, fmt):
    model = small_net()
    model(tc.randn(2, 3, 6, 6))  # a training step moves the running statistics and the counter
    path = W.save_file(model, tmp_path / f"w.{fmt}")
    assert W.detect_format(path) == fmt
    state = W.load_file(path)
    same_state(model.state_dict(), state, ordered=fmt != "safetensors")  # safetensors sorts the names
    assert state["1.num_batches_tracked"].dtype == np.int64 and state["1.num_batches_tracked"].shape == ()
    fresh = small_net()
    nn.init.zeros_(fresh[0].weight)
    W.load_weights(fresh, path)
    same_state(model.state_dict(), fresh.state_dict())


def test_npz_is_numpys(tmp_path):
    path = W.save_file(small_net(), tmp_path / "w.npz")
    with np.load(path, allow_pickle=False) as z:  # plain NumPy reads it
        assert z.files == list(small_net().state_dict())


def test_tinycnn_save_files_and_training_checkpoints(tmp_path):
    model = small_net()
    tc.save(model.state_dict(), tmp_path / "plain.npz")
    tc.save({"kind": "tinycnn.train checkpoint", "meta": {"epoch": 3}, "model": model.state_dict()},
            tmp_path / "ckpt.npz")
    for name in ("plain.npz", "ckpt.npz"):
        assert W.detect_format(tmp_path / name) == "tinycnn"
        same_state(model.state_dict(), W.load_file(tmp_path / name))


def test_unknown_suffix_and_bad_values(tmp_path):
    with pytest.raises(ValueError, match=r"\.h5"):
        W.save_file(small_net(), tmp_path / "w.h5")
    with pytest.raises(TypeError, match="a.b"):
        W.save_file({"a.b": "text"}, tmp_path / "w.npz")
    assert not list(tmp_path.iterdir())


def test_writing_is_atomic(tmp_path):
    path = W.save_file(small_net(), tmp_path / "w.npz")
    before = path.read_bytes()
    with pytest.raises(TypeError):
        W.save_file({"x": np.zeros(2), "y": object()}, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["w.npz"]


# ----- damaged and foreign files: one line naming the file -----

def one_line_error(path, **kwargs):
    with pytest.raises(W.WeightsFileError) as info:
        W.load_file(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_file(tmp_path, fmt):
    path = W.save_file(small_net(), tmp_path / f"w.{fmt}")
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 3, 12):
        path.write_bytes(data[:cut])
        one_line_error(path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupted_file(tmp_path, fmt):
    path = W.save_file(small_net(), tmp_path / f"w.{fmt}")
    data = bytearray(path.read_bytes())
    if fmt == "npz":
        data[len(data) // 3] ^= 0xFF  # inside the first arrays: zip's CRC-32 catches it
        path.write_bytes(bytes(data))
        one_line_error(path)
    else:
        data[10:20] = b"#" * 10  # the JSON header
        path.write_bytes(bytes(data))
        one_line_error(path)


@pytest.mark.parametrize("contents, words", [(b"", "empty"), (b"hello, world\n" * 3, "not a weight file"),
                                             (b"\x89PNG\r\n\x1a\n" + bytes(40), "not a weight file")])
def test_not_a_weight_file(tmp_path, contents, words):
    path = tmp_path / "w.pth"
    path.write_bytes(contents)
    assert words in one_line_error(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        W.load_file(tmp_path / "nope.pth")
    with pytest.raises(W.WeightsFileError, match="directory"):
        W.load_file(tmp_path)


def test_npz_with_object_arrays_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, a=np.array([{"x": 1}], dtype=object))  # would need pickle to read
    assert "cannot be read as .npz" in one_line_error(path)


def test_safetensors_without_the_package(tmp_path, monkeypatch):
    pytest.importorskip("safetensors")
    path = W.save_file(small_net(), tmp_path / "w.safetensors")
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)  # import now raises ImportError
    assert "pip install 'tinycnn[safetensors]'" in one_line_error(path)
    with pytest.raises(RuntimeError, match=r"tinycnn\[safetensors\]"):
        W.save_file(small_net(), tmp_path / "x.safetensors")


# ----- .pth through torch -----

def test_pth_round_trip_and_torch_reads_it(tmp_path):
    torch = pytest.importorskip("torch")
    model = small_net()
    path = W.save_file(model, tmp_path / "w.pth")
    assert W.detect_format(path) == "torch"
    same_state(model.state_dict(), W.load_file(path))
    theirs = torch.load(path, weights_only=True)
    assert list(theirs) == list(model.state_dict()) and theirs["1.num_batches_tracked"].dtype == torch.int64


def test_pth_without_torch_names_the_alternatives(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    path = W.save_file(small_net(), tmp_path / "w.pth")
    monkeypatch.setitem(sys.modules, "torch", None)
    message = one_line_error(path)
    assert "needs PyTorch" in message and ".safetensors" in message and ".npz" in message
    with pytest.raises(RuntimeError, match="needs PyTorch"):
        W.save_file(small_net(), tmp_path / "x.pth")


def test_truncated_and_corrupted_pth(tmp_path):
    pytest.importorskip("torch")
    path = W.save_file(small_net(), tmp_path / "w.pth")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    one_line_error(path)
    broken = bytearray(data)
    broken[30:94] = bytes(64)  # the first zip entry's header and the pickle: what torch.load must parse
    path.write_bytes(bytes(broken))
    one_line_error(path)


class _Payload:
    """Unpickling this would run code (create a file): torch.load(weights_only=True) must refuse it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pth_holding_code_is_refused_without_running_it(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(2), "payload": _Payload(marker)}, path)
    assert not marker.exists()
    assert "cannot be read as a PyTorch file" in one_line_error(path)
    assert not marker.exists()


def test_pth_holding_no_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "a.pth")
    assert "not a state dict" in one_line_error(tmp_path / "a.pth")
    torch.save([torch.zeros(2)], tmp_path / "b.pth")
    assert "holds a list" in one_line_error(tmp_path / "b.pth")
    state = small_net().state_dict()
    torch.save({"epoch": 3, "state_dict": {k: torch.from_numpy(v.numpy().copy()) for k, v in state.items()}},
               tmp_path / "c.pth")  # a training script's checkpoint: its state dict is used
    same_state(state, W.load_file(tmp_path / "c.pth"))


# ----- SHA-256 prefix in the name (torch.hub's convention) -----

def test_hash_prefix_parsing():
    assert W.hash_prefix("resnet18-f37072fd.pth") == "f37072fd"
    assert W.hash_prefix("/x/y/alexnet-owt-7be5be79.pth") == "7be5be79"
    assert W.hash_prefix("vgg16_bn-6c64b313.pth") == "6c64b313"
    assert W.hash_prefix("model.pth") is None and W.hash_prefix("run-1.npz", min_digits=8) is None
    assert W.lookup("resnet18-f37072fd.pth").sha256_prefix == "f37072fd"


def test_hash_checked_by_default_when_the_name_carries_one(tmp_path):
    """A flipped bit in the data of a .safetensors (or a .pth: torch does not check zip CRCs) would load as a
    silently different weight; the SHA-256 in the name catches it before anything is parsed."""
    pytest.importorskip("safetensors")
    model = small_net()
    path = named_by_hash(W.save_file(model, tmp_path / "net.safetensors"))
    same_state(model.state_dict(), W.load_file(path), ordered=False)  # passes its check
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x40  # in the last array's bytes
    path.write_bytes(bytes(data))
    message = one_line_error(path)
    assert "SHA-256 mismatch" in message and path.name.split("-")[1][:8] in message
    unchecked = W.load_file(path, check_hash=False)  # what loading without the check would have given
    assert any(not np.array_equal(unchecked[k], v.numpy()) for k, v in model.state_dict().items())


def test_hash_modes(tmp_path):
    path = W.save_file(small_net(), tmp_path / "net-20240131.npz")  # a date, not a hash
    assert "check_hash=False" in one_line_error(path)
    W.load_file(path, check_hash=False)
    plain = W.save_file(small_net(), tmp_path / "plain.npz")
    assert "no hash prefix" in one_line_error(plain, check_hash=True)
    digest = W.sha256_of(plain)
    W.load_file(plain, check_hash=digest)
    W.load_file(plain, check_hash=digest[:6])
    assert "SHA-256 mismatch" in one_line_error(plain, check_hash="0" * 64)
    short = W.save_file(small_net(), tmp_path / "run-1.npz")  # 1 digit: only check_hash=True looks at it
    W.load_file(short)
    with pytest.raises(TypeError):
        W.load_file(plain, check_hash=1)


# ----- loading into a model: mismatches named -----

def test_mismatch_names_keys_and_shapes(tmp_path):
    model = small_net()
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    state["4.weight"] = np.zeros((7, 64), np.float32)
    state["extra.bias"] = np.zeros(3, np.float32)
    del state["0.bias"]
    path = W.save_file(state, tmp_path / "w.npz")
    before = model[4].weight.numpy().copy()
    with pytest.raises(W.WeightsMismatchError) as info:
        W.load_weights(model, path, model_name="tiny")
    message = str(info.value)
    assert "tiny" in message and str(path) in message
    assert "missing in the file" in message and "0.bias (4,)" in message
    assert "unexpected in the file" in message and "extra.bias (3,)" in message
    assert "4.weight: file (7, 64), model (5, 64)" in message
    assert np.array_equal(model[4].weight.numpy(), before)  # nothing copied
    with pytest.raises(RuntimeError, match="size mismatch"):  # a RuntimeError, as PyTorch's
        W.load_weights(model, path, strict=False)
    del state["4.weight"], state["4.bias"]
    missing, unexpected = W.load_weights(model, state, strict=False)
    assert missing == ["0.bias", "4.weight", "4.bias"] and unexpected == ["extra.bias"]


def test_wrong_architecture_says_which_it_looks_like(tmp_path):
    tc.manual_seed(0)
    path = W.save_file(get_model("resnet18"), tmp_path / "r18.npz")
    with pytest.raises(W.WeightsMismatchError) as info:
        get_model("resnet34", weights=path)
    message = str(info.value)
    assert message.startswith("resnet34 cannot take the weights in") and "missing in the file" in message
    assert "layer1.2.conv1.weight (64, 64, 3, 3)" in message and "those of resnet18" in message


def test_hints_for_num_classes_in_channels_and_module_prefix(tmp_path):
    tc.manual_seed(0)
    path = W.save_file(get_model("resnet18", num_classes=10), tmp_path / "r18-10.npz")
    with pytest.raises(W.WeightsMismatchError, match="num_classes=10"):
        get_model("resnet18", weights=path)
    get_model("resnet18", num_classes=10, weights=path)  # as the hint says
    gray = W.save_file(get_model("resnet18", in_channels=1), tmp_path / "gray.npz")
    with pytest.raises(W.WeightsMismatchError, match="in_channels=1"):
        get_model("resnet18", weights=gray)
    wrapped = {"module." + k: v for k, v in small_net().state_dict().items()}
    with pytest.raises(W.WeightsMismatchError, match="'module.'"):
        W.load_weights(small_net(), wrapped)


def test_weights_argument_errors():
    with pytest.raises(FileNotFoundError, match="downloads nothing"):
        get_model("resnet50", weights="ResNet50_Weights.IMAGENET1K_V2")
    with pytest.raises(FileNotFoundError, match="downloads nothing"):
        get_model("resnet18", weights="IMAGENET1K_V1")
    with pytest.raises(FileNotFoundError, match="no such weight file"):
        get_model("lenet5", weights="/nonexistent/lenet.npz")
    with pytest.raises(TypeError, match="path or a state dict"):
        get_model("lenet5", weights=True)


def test_every_registered_model_takes_weights(tmp_path):
    """tinycnn's own networks (no torchvision peer) save and load through weights= too."""
    for name in ("lenet5", "lenet5_paper", "resnet20", "plain20"):
        tc.manual_seed(1)
        source = get_model(name)
        path = W.save_file(source, tmp_path / f"{name}.npz")
        tc.manual_seed(2)
        same_state(source.state_dict(), get_model(name, weights=path).state_dict())


# ----- torchvision's table and the architecture guess -----

def test_torchvision_table():
    names = {e.model for e in W.TORCHVISION_WEIGHTS}
    assert names == {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "alexnet_torchvision"} | {
        f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")}
    for entry in W.TORCHVISION_WEIGHTS:
        assert entry.url == "https://download.pytorch.org/models/" + entry.filename
        assert len(entry.sha256_prefix) == 8 and entry.crop_size == 224
        assert entry.resize_size == (232 if entry.enum.endswith("_V2") else 256)
    assert W.default_weights("resnet50").enum == "ResNet50_Weights.IMAGENET1K_V2"
    assert W.default_weights("resnet18").filename == "resnet18-f37072fd.pth"
    assert W.lookup("~/.cache/torch/hub/checkpoints/vgg16-397923af.pth").model == "vgg16"
    with pytest.raises(KeyError, match="resnet50"):
        W.default_weights("lenet5")
    counts = {e.model: e.num_params for e in W.TORCHVISION_WEIGHTS}
    assert counts["resnet50"] == 25_557_032 and counts["alexnet_torchvision"] == 61_100_840


def test_guess_architecture():
    tc.manual_seed(0)
    for name in ("resnet18", "resnet50", "alexnet", "alexnet_torchvision"):
        assert W.guess_architecture(get_model(name, num_classes=3).state_dict()) == name
    assert W.guess_architecture(get_model("vgg11_bn", small_input=True).state_dict()) == "vgg11_bn"
    assert W.guess_architecture(small_net().state_dict()) is None
    assert W.guess_architecture(get_model("resnet20").state_dict()) is None
