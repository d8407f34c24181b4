"""``tinycnn predict`` and tinycnn.inference: the top-5 the command prints are those of the logits the Python API
gives (a subprocess on generated images, random-weight .npz / .safetensors / .pth files), the logits are torch's
on the same preprocessed image (peer), and every bad argument, file or image is one line naming it (exit 2)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinycnn as tc
from tinycnn.cli import main
from tinycnn.data import imagenet_classes, imagenet_transform, pil_loader
from tinycnn.inference import classify, load_classifier, logits_of, top_k
from tinycnn.models import get_model
from tinycnn.weights import save_file

Image = pytest.importorskip("PIL.Image")
ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--resize-size", "73", "--crop-size", "64"]  # resnet18 at 64x64: quick


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Three generated photos: odd sizes, portrait and landscape, a JPEG and a palette PNG."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(3)
    paths = []
    for name, (h, w), mode in (("a.png", (71, 103), None), ("b.jpg", (97, 55), None), ("c.png", (60, 60), "P")):
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        img = Image.fromarray(pixels)
        img = img.convert(mode) if mode else img
        img.save(folder / name)
        paths.append(str(folder / name))
    return paths


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A random-weight resnet18 (1000 classes) with non-trivial batch-norm statistics, as .npz and .safetensors."""
    folder = tmp_path_factory.mktemp("weights")
    tc.manual_seed(11)
    model = get_model("resnet18")
    rng = np.random.default_rng(0)
    for m in model.modules():
        if type(m).__name__ == "BatchNorm2d":
            m.running_mean.data[...] = rng.uniform(-0.2, 0.2, m.num_features)
            m.running_var.data[...] = rng.uniform(0.5, 1.5, m.num_features)
    files = {"npz": folder / "resnet18.npz", "safetensors": folder / "resnet18.safetensors"}
    for path in files.values():
        save_file(model, path)
    return files


def expected_top(weights_path, paths, k, resize=73, crop=64):
    """The Python API's answer, computed step by step: build, load, preprocess, logits, softmax, sort."""
    model = get_model("resnet18", weights=weights_path).eval()
    tf = imagenet_transform(resize, crop)
    x = np.stack([tf(pil_loader(p)).numpy() for p in paths])
    with tc.no_grad():
        logits = model(tc.tensor(x)).numpy()
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    return logits, [[(int(i), float(row[i])) for i in np.argsort(-row)[:k]] for row in probs]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tinycnn", "predict", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("fmt", ["npz", "safetensors"])
def test_cli_prints_the_top5_of_the_python_apis_logits(photos, weights, fmt):
    done = run_cli("resnet18", "--weights", weights[fmt], *photos, *SMALL, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["preprocessing"]["resize_size"] == 73 and doc["preprocessing"]["crop_size"] == 64
    _, expected = expected_top(weights[fmt], photos, 5)
    names = imagenet_classes()
    assert [p["image"] for p in doc["predictions"]] == photos
    for prediction, top in zip(doc["predictions"], expected):
        assert [t["index"] for t in prediction["top"]] == [i for i, _ in top]
        assert [t["label"] for t in prediction["top"]] == [names[i] for i, _ in top]
        assert [t["rank"] for t in prediction["top"]] == [1, 2, 3, 4, 5]
        np.testing.assert_allclose([t["probability"] for t in prediction["top"]], [p for _, p in top], rtol=1e-5)


def test_cli_table_and_topk(photos, weights):
    done = run_cli("resnet18", "--weights", weights["npz"], photos[1], *SMALL, "--topk", "3")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == photos[1] and len(lines) == 4
    _, expected = expected_top(weights["npz"], photos[1:2], 3)
    names = imagenet_classes()
    for rank, (line, (index, prob)) in enumerate(zip(lines[1:], expected[0]), 1):
        assert line.startswith(f"  {rank}. {names[index]}") and line.endswith(f"(class {index})")
        assert f"{100 * prob:6.2f}%" in line
    assert "resize 73, centre crop 64" in done.stderr


def test_python_api(photos, weights):
    clf = load_classifier("resnet18", weights["npz"], resize_size=73, crop_size=64)
    results = classify(clf, photos, topk=2)
    logits, expected = expected_top(weights["npz"], photos, 2)
    assert [[t["index"] for t in r["top"]] for r in results] == [[i for i, _ in e] for e in expected]
    x = np.stack([clf.transform(pil_loader(p)).numpy() for p in photos])
    np.testing.assert_allclose(logits_of(clf.model, x, batch_size=2), logits, rtol=1e-5, atol=1e-5)
    assert clf.classes == imagenet_classes() and not clf.model.training


def test_top_k_by_hand():
    logits = np.log(np.array([[1.0, 4.0, 2.0, 2.0, 1.0]], dtype=np.float32))  # probabilities 0.1, 0.4, 0.2, ...
    top = top_k(logits, 3, list("abcde"))[0]
    assert [t["label"] for t in top] == ["b", "c", "d"]  # a tie: the lower index first
    np.testing.assert_allclose([t["probability"] for t in top], [0.4, 0.2, 0.2], rtol=1e-6)
    assert len(top_k(logits, 10, list("abcde"))[0]) == 5  # k beyond the classes: all of them
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        top_k(logits, 0, list("abcde"))
    with pytest.raises(ValueError, match="4 class names for 5 outputs"):
        top_k(logits, 1, list("abcd"))


def test_other_class_counts_and_class_files(tmp_path, photos):
    tc.manual_seed(0)
    save_file(get_model("resnet18", num_classes=3), tmp_path / "three.npz")
    (tmp_path / "names.txt").write_text("ant\nbee\nwasp\n")
    clf = load_classifier("resnet18", tmp_path / "three.npz", classes=tmp_path / "names.txt", crop_size=32)
    assert clf.classes == ["ant", "bee", "wasp"] and clf.sizes == {"resize_size": 256, "crop_size": 32}
    assert load_classifier("resnet18", tmp_path / "three.npz").classes == ["class 0", "class 1", "class 2"]
    (tmp_path / "two.txt").write_text("ant\nbee\n")
    with pytest.raises(ValueError, match=r"2 class names in .*two.txt for a network with 3 outputs"):
        load_classifier("resnet18", tmp_path / "three.npz", classes=tmp_path / "two.txt")


def test_sizes_of_torchvisions_v2_files(tmp_path):
    """A file named as torchvision's V2 ResNet-50 is evaluated at 232 / 224, V1 at 256 / 224 (the table)."""
    from tinycnn.inference import _default_sizes

    assert _default_sizes("resnet50", "x/resnet50-11ad3fa6.pth") == (232, 224)
    assert _default_sizes("resnet50", "resnet50-0676ba61.pth") == (256, 224)
    assert _default_sizes("resnet18", "mine.npz") == (256, 224)
    assert _default_sizes("alexnet", "mine.npz") == (259, 227)  # the paper's 227 scaled as 224 is from 256


@pytest.mark.peer
@pytest.mark.parametrize("sizes", [pytest.param((73, 64), id="64"),
                                   pytest.param((256, 224), id="224", marks=pytest.mark.slow)])
def test_logits_equal_torchs_on_the_preprocessed_image(tmp_path, photos, sizes):
    """torch.nn's rebuild of torchvision's resnet18 with random weights, saved as .pth: tinycnn predict's logits on
    the preprocessed image equal torch's within 1e-5 (float32), and the command's top-5 is torch's (at 224, the
    default sizes, in the slow set)."""
    torch = pytest.importorskip("torch")
    from tests.models import torchvision_rebuild as rebuild

    torch.manual_seed(0)
    ref = rebuild.build("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    resize, crop = sizes
    clf = load_classifier("resnet18", path, resize_size=resize, crop_size=crop)
    x = np.stack([clf.transform(pil_loader(p)).numpy() for p in photos])
    assert x.shape == (3, 3, crop, crop)
    ours = logits_of(clf.model, x)
    with torch.no_grad():
        theirs = ref(torch.from_numpy(x)).numpy()
    assert np.abs(theirs).max() > 1e-3 and np.ptp(theirs) > 0  # logits that say something
    assert np.abs(ours - theirs).max() / np.abs(theirs).max() < 1e-5
    size_args = [] if sizes == (256, 224) else ["--resize-size", resize, "--crop-size", crop]
    done = run_cli("resnet18", "--weights", path, *photos, "--json", *size_args)
    assert done.returncode == 0, done.stderr
    top5 = np.argsort(-theirs, axis=1)[:, :5]
    assert [[t["index"] for t in p["top"]] for p in json.loads(done.stdout)["predictions"]] == top5.tolist()


# ----- every bad input: one line naming it, exit 2 -------------------------------------------------------------

def one_line_error(capsys, argv, *words):
    code = main(["predict", *map(str, argv)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("tinycnn predict: error:"), err
    for word in words:
        assert str(word) in err, err
    return err


def test_bad_images(tmp_path, capsys, photos, weights):
    w = weights["npz"]
    one_line_error(capsys, ["resnet18", "--weights", w, tmp_path / "missing.jpg"], "no such image",
                   tmp_path / "missing.jpg")
    one_line_error(capsys, ["resnet18", "--weights", w, tmp_path], "is a folder", tmp_path)
    (tmp_path / "text.jpg").write_text("not an image")
    one_line_error(capsys, ["resnet18", "--weights", w, photos[0], tmp_path / "text.jpg", *SMALL],
                   tmp_path / "text.jpg", "cannot decode")
    data = Path(photos[1]).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 3])
    one_line_error(capsys, ["resnet18", "--weights", w, tmp_path / "cut.jpg", *SMALL], tmp_path / "cut.jpg")


def test_bad_weights(tmp_path, capsys, photos, weights):
    (tmp_path / "notes.npz").write_text("hello")
    one_line_error(capsys, ["resnet18", "--weights", tmp_path / "notes.npz", photos[0]], tmp_path / "notes.npz",
                   "not a weight file")
    tc.manual_seed(0)
    save_file(get_model("resnet20"), tmp_path / "resnet20.npz")
    err = one_line_error(capsys, ["resnet18", "--weights", tmp_path / "resnet20.npz", photos[0]], "resnet18",
                         tmp_path / "resnet20.npz")
    assert "missing" in err or "size mismatch" in err
    (tmp_path / "two.txt").write_text("a\nb\n")
    one_line_error(capsys, ["resnet18", "--weights", weights["npz"], photos[0], "--classes", tmp_path / "two.txt"],
                   "2 class names", "1000 outputs")


def test_a_checkpoint_of_another_data_set_is_refused(tmp_path, capsys, photos):
    from tinycnn.train import save_checkpoint

    tc.manual_seed(0)
    model = get_model("lenet5")
    save_checkpoint(tmp_path / "checkpoint.npz", model, {"model": "lenet5", "model_args": {}, "dataset": "mnist",
                                                         "mean": 0.1, "std": 0.3, "epoch": 1})
    one_line_error(capsys, ["lenet5", "--weights", tmp_path / "checkpoint.npz", photos[0]], "'mnist'",
                   "tinycnn evaluate")
    one_line_error(capsys, ["resnet18", "--weights", tmp_path / "checkpoint.npz", photos[0]],
                   "a checkpoint of lenet5, not of resnet18")


@pytest.mark.parametrize("argv, words", [
    (["resnet18", "IMG"], ["--weights"]),
    (["resnet18", "--weights", "WEIGHTS", "IMG", "--topk", "0"], ["--topk", "'0'"]),
    (["resnet18", "--weights", "nope.npz", "IMG"], ["--weights", "nope.npz", "does not exist"]),
    (["resnet18", "--weights", "WEIGHTS", "IMG", "--device", "tpu"], ["--device", "'tpu'"]),
    (["nonet", "--weights", "WEIGHTS", "IMG"], ["nonet"]),
    (["resnet18", "--weights", "WEIGHTS"], ["IMAGE"]),
])
def test_bad_arguments(capsys, photos, weights, argv, words):
    argv = [str(weights["npz"]) if a == "WEIGHTS" else photos[0] if a == "IMG" else a for a in argv]
    with pytest.raises(SystemExit) as info:
        main(["predict", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    error = [line for line in err.splitlines() if "error:" in line]
    assert len(error) == 1 and all(w in error[0] for w in words), err


def test_cuda_without_cupy_is_one_line(capsys, photos, weights):
    from tinycnn import backend

    if backend._cupy() is not None:
        pytest.skip("CuPy is installed here: cuda may well work")
    one_line_error(capsys, ["resnet18", "--weights", weights["npz"], photos[0], "--device", "cuda"], "CuPy")


def test_header_counts_the_classes_shown_when_topk_exceeds_them(tmp_path, photos, capsys):
    """--topk 5 on a 3-class network lists 3 classes per image: the stderr line says top 3 of 3, not top 5 of 3."""
    tc.manual_seed(0)
    save_file(get_model("resnet18", num_classes=3), tmp_path / "three.npz")
    assert main(["predict", "resnet18", "--weights", str(tmp_path / "three.npz"), photos[0], "--crop-size", "32",
                 "--resize-size", "36"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 4 and "top 3 of 3 classes" in err
