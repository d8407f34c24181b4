"""ImageNet inference data: the 1000 class names shipped with the package, torchvision's preprocessing against a
Pillow + NumPy reference of it on generated images of every kind, and RandomResizedCrop's algorithm."""
import importlib.util
import io
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinycnn.data import imagenet_classes, imagenet_train_transform, imagenet_transform, pil_loader
from tinycnn.data import transforms as T
from tinycnn.data.imagenet import IMAGENET_MEAN, IMAGENET_STD

Image = pytest.importorskip("PIL.Image")
ROOT = Path(__file__).resolve().parents[2]


# ----- class names ---------------------------------------------------------------------------------------------

def test_class_names_are_torchvisions():
    names = imagenet_classes()
    assert len(names) == 1000 and len(set(names)) == 1000 and all(n == n.strip() and n for n in names)
    known = {0: "tench", 1: "goldfish", 207: "golden retriever", 281: "tabby", 285: "Egyptian cat",
             409: "analog clock", 954: "banana", 999: "toilet tissue",
             # torchvision's renaming of the two duplicates of the Keras list
             134: "crane bird", 517: "crane", 638: "maillot", 639: "maillot tank suit"}
    assert {i: names[i] for i in known} == known
    assert names is not imagenet_classes()  # a new list: a caller may change its copy


def test_class_names_are_pytorch_hubs_list_with_spaces():
    """PyTorch Hub's imagenet_classes.txt (Keras' names, "N, name_with_underscores" per line after a 3-line
    header) is 15,543 characters long: the same list with underscores and the two duplicates restored has exactly
    that length, so no name was lost, added or misspelt in length."""
    keras = [n.replace(" ", "_") for n in imagenet_classes()]
    keras[134], keras[639] = "crane", "maillot"
    hub = ("List of ImageNet class numbers and names as used in Keras' pre-trained models.\n\nExtracted from "
           "https://s3.amazonaws.com/deep-learning-models/image-models/imagenet_class_index.json\n\n"
           + "\n".join(f"{i}, {n}" for i, n in enumerate(keras)))
    assert len(hub) == 15543


@pytest.mark.slow
def test_class_names_are_in_a_non_editable_install(tmp_path):
    """pip install (not -e) into a folder, then import from there in a clean interpreter elsewhere: the data file
    must have been installed with the package (setup.cfg package_data)."""
    source, target = tmp_path / "src", tmp_path / "site"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in"):  # a copy: no build/ left in the repo
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "tinycnn", source / "tinycnn", ignore=shutil.ignore_patterns("__pycache__"))
    # the venv's setuptools when it has one (offline); else pip's isolated build fetches it (Python >= 3.12 venvs)
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *isolation,
                           "--target", str(target), str(source)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (target / "tinycnn" / "data" / "imagenet_classes.txt").is_file()
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import tinycnn.data as d; "
            "assert d.__file__.startswith(sys.argv[1]), d.__file__; print(len(d.imagenet_classes()))")
    out = subprocess.run([sys.executable, "-I", "-c", code, str(target)], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1000"


# ----- preprocessing against a reference of torchvision's transform --------------------------------------------

def reference(path, resize=256, crop=224):
    """torchvision's ImageClassification on torchvision's pil_loader, written with Pillow and NumPy only:
    convert("RGB"); the shorter side to ``resize`` (the longer one int(resize * long / short)) with
    Image.BILINEAR; the central crop at int(round((H - crop) / 2)); to float32 / 255; (x - mean) / std with the
    statistics in float32."""
    with open(path, "rb") as f:
        img = Image.open(f).convert("RGB")
    w, h = img.size
    if w <= h:
        size = (resize, int(resize * h / w))
    else:
        size = (int(resize * w / h), resize)
    img = img.resize(size, Image.BILINEAR)
    w, h = img.size
    top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
    img = img.crop((left, top, left + crop, top + crop))
    x = np.asarray(img, dtype=np.uint8).astype(np.float32).transpose(2, 0, 1) / np.float32(255)
    mean = np.asarray(IMAGENET_MEAN, np.float32).reshape(3, 1, 1)
    std = np.asarray(IMAGENET_STD, np.float32).reshape(3, 1, 1)
    return (x - mean) / std


def _save(tmp_path, name, array, mode=None, fmt="PNG", **kwargs):
    img = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    path = tmp_path / name
    img.save(path, format=fmt, **kwargs)
    return path


@pytest.fixture
def images(tmp_path, rng):
    """Generated files of every kind torchvision's loader meets: odd sizes, portrait and landscape, RGB, RGBA,
    greyscale, greyscale with alpha, a palette PNG, 16-bit greyscale, a JPEG and a CMYK JPEG."""
    def pixels(h, w, c=3):
        smooth = np.linspace(0, 255, h * w * c).reshape(h, w, c) if c > 1 else np.linspace(0, 255, h * w).reshape(h, w)
        return np.clip(smooth + rng.integers(-60, 60, smooth.shape), 0, 255).astype(np.uint8)

    return {
        "rgb_landscape_odd": _save(tmp_path, "a.png", pixels(37, 61)),
        "rgb_portrait_odd": _save(tmp_path, "b.png", pixels(83, 29)),
        "square": _save(tmp_path, "c.png", pixels(40, 40)),
        "rgba": _save(tmp_path, "d.png", pixels(45, 31, 4)),
        "greyscale": _save(tmp_path, "e.png", pixels(33, 52, 1)),
        "greyscale_alpha": _save(tmp_path, "f.png", pixels(30, 30, 3), mode="LA"),
        "palette": _save(tmp_path, "g.png", pixels(50, 35), mode="P"),
        "greyscale_16bit": _save(tmp_path, "h.png", (pixels(27, 44, 1).astype(np.uint16) * 257).astype(np.uint16)),
        "jpeg": _save(tmp_path, "i.jpg", pixels(57, 43), fmt="JPEG", quality=85),
        "cmyk_jpeg": _save(tmp_path, "j.jpg", pixels(41, 66), mode="CMYK", fmt="JPEG"),
    }


KINDS = ["rgb_landscape_odd", "rgb_portrait_odd", "square", "rgba", "greyscale", "greyscale_alpha", "palette",
         "greyscale_16bit", "jpeg", "cmyk_jpeg"]


@pytest.mark.parametrize("kind", KINDS)
def test_preprocessing_equals_torchvisions_on_every_kind_of_file(images, kind):
    path = images[kind]
    # small sizes keep the test quick; the arithmetic is the same at 256 / 224 (next test)
    ours = imagenet_transform(resize_size=23, crop_size=19)(pil_loader(str(path)))
    assert ours.shape == (3, 19, 19) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours.numpy(), reference(path, 23, 19))


@pytest.mark.parametrize("resize, crop", [(256, 224), (232, 224)])
def test_preprocessing_at_torchvisions_sizes(images, resize, crop):
    for kind in ("rgb_portrait_odd", "jpeg"):
        path = images[kind]
        np.testing.assert_array_equal(imagenet_transform(resize, crop)(pil_loader(str(path))).numpy(),
                                      reference(path, resize, crop))


def test_preprocessing_is_built_from_the_transforms():
    tf = imagenet_transform(232, 224)
    assert [type(t) for t in tf.transforms] == [T.Resize, T.CenterCrop, T.ToTensor, T.Normalize]
    assert tf.transforms[0].size == 232 and tf.transforms[1].size == (224, 224)
    assert tf.transforms[3].mean == (0.485, 0.456, 0.406) and tf.transforms[3].std == (0.229, 0.224, 0.225)
    train = imagenet_train_transform(64)
    assert [type(t) for t in train.transforms] == [T.RandomResizedCrop, T.RandomHorizontalFlip, T.ToTensor,
                                                   T.Normalize]


# ----- RandomResizedCrop ---------------------------------------------------------------------------------------

class Scripted:
    """A generator that returns the given draws, to walk the algorithm through its branches by hand."""

    def __init__(self, uniforms, integers=()):
        self.uniforms, self.ints = list(uniforms), list(integers)

    def uniform(self, lo, hi):
        return lo + self.uniforms.pop(0) * (hi - lo)

    def integers(self, lo, hi):
        value = self.ints.pop(0)
        assert lo <= value < hi
        return value


def test_get_params_by_hand():
    # 100 x 80 (h x w) image, area 8000; draws: area fraction 0.5 -> 4000, log-ratio at the middle -> ratio 1:
    # w = h = round(sqrt(4000)) = 63; corner drawn in [0, 100 - 63] x [0, 80 - 63]
    rng = Scripted([0.5 / 0.92 - 0.08 / 0.92, 0.5], [30, 17])
    top, left, h, w = T.RandomResizedCrop.get_params(100, 80, (0.08, 1.0), (3 / 4, 4 / 3), rng)
    assert (top, left, h, w) == (30, 17, 63, 63)
    # a window that never fits (scale 2..3 of the area): after 10 tries the central crop, clamped to the ratio:
    # 20 x 100 has ratio 5 > 4/3, so h = 20 and w = round(20 * 4/3) = 27, centred at (0, 36)
    rng = Scripted([0.3] * 20)
    assert T.RandomResizedCrop.get_params(20, 100, (2.0, 3.0), (3 / 4, 4 / 3), rng) == (0, 36, 20, 27)
    assert T.RandomResizedCrop.get_params(100, 20, (2.0, 3.0), (3 / 4, 4 / 3), Scripted([0.3] * 20)) == \
        (36, 0, 27, 20)  # portrait: w = 20, h = round(20 / (3/4)) = 27
    assert T.RandomResizedCrop.get_params(30, 35, (2.0, 3.0), (3 / 4, 4 / 3), Scripted([0.3] * 20)) == \
        (0, 0, 30, 35)  # a ratio inside the range: the whole image


def test_windows_respect_scale_and_ratio(rng):
    for _ in range(200):
        h0, w0 = int(rng.integers(20, 120)), int(rng.integers(20, 120))
        top, left, h, w = T.RandomResizedCrop.get_params(h0, w0, (0.08, 1.0), (3 / 4, 4 / 3), rng)
        assert 0 <= top <= h0 - h and 0 <= left <= w0 - w and h >= 1 and w >= 1
        # rounding to whole pixels moves area and ratio by at most about one pixel's worth
        assert 0.08 * h0 * w0 - (h + w + 1) <= h * w <= h0 * w0
        assert 3 / 4 - 1.5 / min(h, w) <= w / h <= 4 / 3 + 1.5 / min(h, w) or (h, w) in ((h0, w0),)


def test_pil_array_and_tensor_agree_on_the_window(rng):
    """The same seed gives the same window for a PIL image, its array and its Tensor; the PIL path resizes with
    Pillow (as torchvision), the others with the antialiased filter (within 1 grey level of Pillow's)."""
    from tinycnn.data import _rng

    array = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    crop = T.RandomResizedCrop(16)
    with _rng.using(np.random.default_rng(7)):
        pil = np.asarray(crop(Image.fromarray(array)))
    window = T.RandomResizedCrop.get_params(37, 53, crop.scale, crop.ratio, np.random.default_rng(7))
    top, left, h, w = window
    expected = np.asarray(Image.fromarray(array[top:top + h, left:left + w]).resize((16, 16), Image.BILINEAR))
    np.testing.assert_array_equal(pil, expected)
    with _rng.using(np.random.default_rng(7)):
        arr = crop(array)
    assert arr.shape == (16, 16, 3) and np.abs(arr.astype(int) - pil.astype(int)).max() <= 1
    batch = crop.apply_batch(array.transpose(2, 0, 1)[None].repeat(2, 0), np.random.default_rng(7))
    assert batch.shape == (2, 3, 16, 16)
    np.testing.assert_array_equal(batch[0].transpose(1, 2, 0), arr)  # the first draw is the same window


def test_random_resized_crop_arguments():
    with pytest.warns(UserWarning, match=r"\(min, max\)"):
        T.RandomResizedCrop(8, scale=(1.0, 0.5))
    with pytest.raises(NotImplementedError, match="bilinear"):
        T.RandomResizedCrop(8, interpolation="nearest")
    with pytest.raises(ValueError, match="two dimensions"):
        T.RandomResizedCrop((8, 8, 8))
    assert T.RandomResizedCrop([8, 6]).size == (8, 6)
    assert math.isclose(T.RandomResizedCrop(8).ratio[1], 4 / 3)


def test_pil_loader_converts_like_torchvision(images):
    for kind in KINDS:
        with open(images[kind], "rb") as f:
            expected = np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"))
        np.testing.assert_array_equal(np.asarray(pil_loader(str(images[kind]))), expected)
