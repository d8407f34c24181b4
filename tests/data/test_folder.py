"""ImageFolder on generated PNG and JPEG files: torchvision's classes, indices and sample order, RGB conversion, an
undecodable and a truncated file named, and the clear error when Pillow is absent (run with Pillow blocked)."""
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tinycnn.data import DataLoader, ImageFolder
from tinycnn.data import transforms as T

Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def tree(tmp_path, rng):
    """root/cat/{b.png, a.jpg, sub/c.PNG}, root/dog/{d.jpeg, notes.txt, gray.png}: returns (root, pixels)."""
    root = tmp_path / "root"
    pixels = {}

    def save(rel, array, fmt):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path, format=fmt)
        pixels[rel] = array

    save("cat/b.png", rng.integers(0, 256, (6, 5, 3), dtype=np.uint8), "PNG")
    save("cat/a.jpg", np.full((4, 4, 3), 200, np.uint8), "JPEG")
    save("cat/sub/c.PNG", rng.integers(0, 256, (3, 3, 3), dtype=np.uint8), "PNG")
    save("dog/d.jpeg", np.full((5, 5, 3), 90, np.uint8), "JPEG")
    save("dog/gray.png", rng.integers(0, 256, (4, 6), dtype=np.uint8), "PNG")
    (root / "dog" / "notes.txt").write_text("not an image")
    return root, pixels


def test_classes_indices_and_order_as_torchvision(tree):
    root, _ = tree
    ds = ImageFolder(root)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    # per class folder, os.walk's folders sorted, then each folder's file names sorted; extensions case-insensitive
    names = [str(Path(path).relative_to(root)) for path, _ in ds.samples]
    assert names == ["cat/a.jpg", "cat/b.png", "cat/sub/c.PNG", "dog/d.jpeg", "dog/gray.png"]
    assert ds.targets == [0, 0, 0, 1, 1] and ds.imgs is ds.samples and len(ds) == 5


def test_images_are_rgb_pil_images(tree):
    root, pixels = tree
    ds = ImageFolder(root)
    image, target = ds[1]
    assert image.mode == "RGB" and target == 0
    np.testing.assert_array_equal(np.asarray(image), pixels["cat/b.png"])  # PNG: lossless
    gray, _ = ds[4]
    assert gray.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(gray), np.repeat(pixels["dog/gray.png"][:, :, None], 3, axis=2))
    jpeg, _ = ds[0]
    assert np.abs(np.asarray(jpeg).astype(int) - 200).max() <= 2  # a flat JPEG decodes within rounding


def test_transforms_and_loader(tree):
    root, _ = tree
    ds = ImageFolder(root, transform=T.Compose([T.Resize((8, 8)), T.ToTensor()]), target_transform=lambda t: t * 10)
    x, y = next(iter(DataLoader(ds, batch_size=5)))
    assert x.shape == (5, 3, 8, 8) and x.dtype == np.float32 and y.tolist() == [0, 0, 0, 10, 10]


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n garbage", b"plain text"])
def test_undecodable_file_is_named(tree, content):
    root, _ = tree
    (root / "dog" / "broken.png").write_bytes(content)
    ds = ImageFolder(root)
    index = [p for p, _ in ds.samples].index(str(root / "dog" / "broken.png"))
    with pytest.raises(ValueError) as err:
        ds[index]
    assert "broken.png" in str(err.value) and "cannot decode" in str(err.value)


def test_truncated_jpeg_is_named(tree, rng):
    root, _ = tree
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, format="JPEG")
    (root / "cat" / "cut.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    ds = ImageFolder(root)
    index = [p for p, _ in ds.samples].index(str(root / "cat" / "cut.jpg"))
    with pytest.raises(ValueError, match="cut.jpg.*cannot decode"):
        ds[index]


def test_folder_errors(tmp_path, tree):
    root, _ = tree
    (root / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no valid file for the classes empty"):
        ImageFolder(root)
    assert ImageFolder(root, allow_empty=True).classes == ["cat", "dog", "empty"]
    with pytest.raises(FileNotFoundError, match="any class folder"):
        ImageFolder(root / "cat" / "sub")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        ImageFolder(tmp_path / "missing")
    only_png = ImageFolder(root, is_valid_file=lambda p: p.endswith(".png"), allow_empty=True)
    assert [t for _, t in only_png.samples] == [0, 1] and only_png.extensions is None


def test_without_pillow_the_error_names_the_extra(tree):
    """Pillow blocked in a fresh interpreter: ImageFolder says how to install it; array transforms still work."""
    root, _ = tree
    code = textwrap.dedent(f"""
        import sys
        sys.modules["PIL"] = None  # import PIL now raises ImportError
        import numpy as np
        from tinycnn.data import ImageFolder, transforms as T
        x = T.Compose([T.RandomCrop(4, padding=1), T.ToTensor()])(np.zeros((4, 4, 3), np.uint8))
        assert x.shape == (3, 4, 4)
        try:
            ImageFolder({str(root)!r})
        except ImportError as e:
            print("ERROR:", e)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ERROR:" in proc.stdout and "pip install 'tinycnn[images]'" in proc.stdout
