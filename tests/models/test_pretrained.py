"""torchvision checkpoints in tinycnn and tinycnn's weights in torchvision's models (issue 15, parts 1-2).

torchvision is not installed and no weight host is reachable: its architectures are rebuilt with torch.nn from
their public definition (tests/models/torchvision_rebuild.py) with random weights and non-trivial batch-norm
statistics, saved as .pth (torch.save), .safetensors (safetensors.torch) and .npz, and loaded with
``weights=PATH`` (strict). Then both networks must give the same logits (float64: within 1e-10 of the largest
logit; float32: 1e-5), the printed module trees must be identical, and the reverse load (tinycnn's state dict
and files into torch's model, strict) must give the same logits too.
"""
import copy

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.weights as W
from tinycnn.models import get_model

torch = pytest.importorskip("torch")
rebuild = pytest.importorskip("tests.models.torchvision_rebuild")
pytestmark = pytest.mark.peer

# tinycnn name -> (torchvision name, input size used here: small where the architecture allows)
NETWORKS = {"resnet18": ("resnet18", 64), "resnet50": ("resnet50", 64), "vgg11_bn": ("vgg11_bn", 32),
            "alexnet_torchvision": ("alexnet", 64)}
FORMATS = ("pth", "safetensors", "npz")


def save_torch_state(state, path):
    """A torch state dict written as torchvision's .pth, as a .safetensors and as an .npz."""
    if path.suffix == ".pth":
        torch.save(state, path)
    elif path.suffix == ".safetensors":
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        np.savez(path, **{k: v.numpy() for k, v in state.items()})


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """checkpoints(name, fmt) -> (torch model, path of its state dict in that format); each model built once and
    each file written once for the module."""
    pytest.importorskip("safetensors")
    models, folder = {}, tmp_path_factory.mktemp("checkpoints")

    def get(name, fmt="pth"):
        if name not in models:
            torch.manual_seed(sum(map(ord, name)))
            models[name] = rebuild.build(NETWORKS[name][0])
        path = folder / f"{name}.{fmt}"
        if not path.exists():
            save_torch_state(models[name].state_dict(), path)
        return models[name], path

    return get


def _cases(names, fast_vgg=("pth",)):
    """(name, fmt) pairs; VGG's 530 MB files only in ``fast_vgg`` formats in the fast run, all in the slow one."""
    return [pytest.param(n, f, marks=pytest.mark.slow) if n.startswith("vgg") and f not in fast_vgg else (n, f)
            for n in names for f in FORMATS]


def logits_of(ours, ref, size, dtype):
    x = np.random.default_rng(5).standard_normal((2, 3, size, size)).astype(dtype)
    with tc.no_grad():
        mine = ours(tc.tensor(x)).numpy()
    with torch.no_grad():
        theirs = ref(torch.from_numpy(x)).numpy()
    return mine, theirs


def relative_error(mine, theirs):
    assert np.abs(theirs).max() > 1e-3 and np.ptp(theirs) > 0  # logits that say something
    return float(np.abs(mine - theirs).max() / np.abs(theirs).max())


@pytest.mark.parametrize("name, fmt", _cases(NETWORKS))
def test_torchvision_checkpoint_gives_torchs_logits(checkpoints, name, fmt):
    ref, path = checkpoints(name, fmt)
    ours = get_model(name, weights=path).eval()  # strict: every key, num_batches_tracked included
    assert repr(ours) == repr(ref)  # the tree a student prints is torchvision's
    assert list(ours.state_dict()) == list(ref.state_dict())
    bn = next((m for m in ours.modules() if type(m).__name__ == "BatchNorm2d"), None)
    if bn is not None:
        assert bn.num_batches_tracked.item() == 7  # the checkpoint's counter, not the model's 0
    size = NETWORKS[name][1]
    assert relative_error(*logits_of(ours, ref, size, np.float32)) < 1e-5
    ours.double()
    assert relative_error(*logits_of(ours, copy.deepcopy(ref).double(), size, np.float64)) < 1e-10


@pytest.mark.parametrize("name, fmt", _cases(["resnet18", "vgg11_bn"], fast_vgg=()))
def test_tinycnn_weights_load_into_torch(tmp_path, name, fmt):
    """The reverse direction: a tinycnn model's state dict, and its files, load strictly into torchvision's."""
    tc.manual_seed(3)
    ours = get_model(name).eval()
    for m in ours.modules():  # non-trivial statistics, as a trained network has
        if type(m).__name__ == "BatchNorm2d":
            m.running_mean.data[...] = np.linspace(-0.2, 0.2, m.num_features)
            m.running_var.data[...] = np.linspace(0.5, 1.5, m.num_features)
    path = W.save_file(ours, tmp_path / f"mine.{fmt}")
    if fmt == "pth":
        state = torch.load(path, weights_only=True)
    elif fmt == "safetensors":
        from safetensors.torch import load_file
        state = load_file(str(path))
    else:
        with np.load(path, allow_pickle=False) as z:
            state = {k: torch.from_numpy(z[k]) for k in z.files}
    ref = rebuild.build(NETWORKS[name][0])
    result = ref.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert relative_error(*logits_of(ours, ref, NETWORKS[name][1], np.float32)) < 1e-5


def test_state_dict_loads_directly_into_torch():
    tc.manual_seed(4)
    ours = get_model("resnet50").eval()
    ref = rebuild.build("resnet50")
    ref.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()})
    assert relative_error(*logits_of(ours, ref, 64, np.float32)) < 1e-5


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50",
                                  pytest.param("resnet101", marks=pytest.mark.slow),
                                  pytest.param("resnet152", marks=pytest.mark.slow),
                                  "vgg11", "vgg11_bn",
                                  pytest.param("vgg13", marks=pytest.mark.slow),
                                  pytest.param("vgg13_bn", marks=pytest.mark.slow),
                                  pytest.param("vgg16", marks=pytest.mark.slow),
                                  pytest.param("vgg16_bn", marks=pytest.mark.slow),
                                  pytest.param("vgg19", marks=pytest.mark.slow),
                                  pytest.param("vgg19_bn", marks=pytest.mark.slow),
                                  "alexnet_torchvision"])
def test_every_torchvision_network_has_its_keys_shapes_and_tree(name, monkeypatch):
    """All of them, on torch's meta device (no memory) and tinycnn's without init (zeros): keys, shapes, order,
    buffers and printed tree; a zero state dict of torch's shapes loads strictly."""
    import tinycnn.nn.init as init_module
    tv_name = "alexnet" if name == "alexnet_torchvision" else name
    with torch.device("meta"):
        ref = rebuild.build(tv_name)
    monkeypatch.setattr(init_module, "_fill", lambda param, sample: init_module.zeros_(param))
    ours = get_model(name)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    assert repr(ours) == repr(ref)
    assert ours.num_parameters() == sum(p.numel() for p in ref.parameters())
    zeros = {k: np.zeros(tuple(v.shape), dtype=np.int64 if k.endswith("num_batches_tracked") else np.float32)
             for k, v in ref.state_dict().items()}
    assert W.guess_architecture(zeros) == name
    assert not any(ours.load_state_dict(zeros))


@pytest.mark.slow
def test_resnet50_at_224_from_a_pth(checkpoints):
    """The real case at full size: torchvision's resnet50 file, a 224x224 batch, float32."""
    ref, path = checkpoints("resnet50", "pth")
    ours = get_model("resnet50", weights=path).eval()
    assert relative_error(*logits_of(ours, ref, 224, np.float32)) < 1e-5


def test_checkpoint_without_num_batches_tracked_loads(checkpoints, tmp_path):
    """torchvision's older files (resnet18-5c106cde.pth ...) predate the counter: PyTorch loads them, so does
    tinycnn; the model keeps its own counter."""
    ref, _ = checkpoints("resnet18", "pth")
    state = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "resnet18-old.pth"
    torch.save(state, path)
    ours = get_model("resnet18", weights=path).eval()
    assert ours.bn1.num_batches_tracked.item() == 0
    assert relative_error(*logits_of(ours, ref, 64, np.float32)) < 1e-5


def test_bfloat16_checkpoint_becomes_float32(tmp_path):
    state = {"weight": torch.randn(3, 2).to(torch.bfloat16), "bias": torch.zeros(3)}
    torch.save(state, tmp_path / "half.pth")
    loaded = W.load_file(tmp_path / "half.pth")
    assert loaded["weight"].dtype == np.float32
    np.testing.assert_array_equal(loaded["weight"], state["weight"].float().numpy())
