"""A data folder whose IDX file is there in name only (reviewer R1's finding 24): a dangling symbolic link, a folder
or a FIFO in its place is named as what it is, not reported as "no train-images-idx3-ubyte ... in DIR"."""

import os

import numpy as np
import pytest

from tinycnn.data import load_mnist
from tests.data.test_mnist import SMALL, env, fake_split, idx_files, register, write_files  # noqa: F401 - env

IMAGES = "t10k-images-idx3-ubyte"


@pytest.fixture
def root(env, tmp_path, monkeypatch):  # noqa: F811 - env is the imported fixture
    """A folder with valid test-split files but for the images file, which each test replaces."""
    images, labels = fake_split(SMALL["test"], 0)
    files = idx_files("test", images, labels)
    register(monkeypatch, "mnist", files)
    folder = tmp_path / "root"
    write_files(folder, {k: v for k, v in files.items() if k != IMAGES})
    return folder, files[IMAGES], images


def test_a_dangling_symlink_is_named(root):
    folder, _, _ = root
    (folder / (IMAGES + ".gz")).symlink_to(folder / "gone.gz")
    with pytest.raises(FileNotFoundError) as err:
        load_mnist("test", root=folder)
    assert str(err.value) == (f"MNIST test: {folder / (IMAGES + '.gz')} is a symbolic link to {folder / 'gone.gz'}, "
                              "which does not exist")


def test_a_folder_in_place_of_the_file_is_named(root):
    folder, _, _ = root
    (folder / IMAGES).mkdir()
    with pytest.raises(FileNotFoundError) as err:
        load_mnist("test", root=folder)
    assert str(err.value) == f"MNIST test: {folder / IMAGES} is a folder, not an IDX file"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_a_fifo_in_place_of_the_file_is_named_and_never_opened(root):
    folder, _, _ = root
    os.mkfifo(folder / IMAGES)
    with pytest.raises(FileNotFoundError) as err:
        load_mnist("test", root=folder)
    assert str(err.value) == f"MNIST test: {folder / IMAGES} is not a regular file (a FIFO)"


def test_a_good_file_beside_a_dangling_link_is_used(root):
    """Nothing is refused while a readable copy exists: the .gz link is broken, the raw file next to it is good."""
    folder, content, images = root
    (folder / (IMAGES + ".gz")).symlink_to(folder / "gone.gz")
    (folder / IMAGES).write_bytes(content)
    x, _ = load_mnist("test", root=folder, verbose=False)
    np.testing.assert_array_equal(x, images)


def test_the_env_var_folder_names_the_broken_file_among_what_was_tried(root, monkeypatch):
    folder, _, _ = root
    (folder / IMAGES).mkdir()
    monkeypatch.setenv("TINYCNN_DATA", str(folder))
    with pytest.raises(RuntimeError) as err:
        load_mnist("test", verbose=False)
    assert f"TINYCNN_DATA: {folder / IMAGES} is a folder, not an IDX file" in str(err.value)
