"""The Dataset protocol: collation (against torch's default_collate), TensorDataset / Subset / ConcatDataset /
random_split, the DataLoader over datasets (equal to its array path, repeatable per (seed, epoch) with random
per-sample transforms), tinycnn.utils.data with PyTorch's signature, and the MNIST Dataset class."""
import collections

import numpy as np
import pytest

import tinycnn as tc
from tinycnn.data import (MNIST, ConcatDataset, DataLoader, FashionMNIST, Subset, TensorDataset, default_collate,
                          numpy_collate, random_split)
from tinycnn.data import transforms as T
from tinycnn.utils import data as tud

Point = collections.namedtuple("Point", "x y")


def _samples(rng):
    return [
        [(rng.integers(0, 256, (3, 2, 2), dtype=np.uint8), 1), (rng.integers(0, 256, (3, 2, 2), dtype=np.uint8), 7)],
        [{"a": 1.5, "b": np.float32(2), "c": "s1"}, {"a": 2.5, "b": np.float32(3), "c": "s2"}],
        [Point(np.int32(1), True), Point(np.int32(2), False)],
        [[1, 2.5], [3, 4]],
    ]


def _same(ours, theirs):
    if isinstance(theirs, (list, tuple)) and not isinstance(theirs, str):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    elif isinstance(theirs, dict):
        assert set(ours) == set(theirs)
        for k in theirs:
            _same(ours[k], theirs[k])
    elif hasattr(theirs, "numpy"):
        assert isinstance(ours, tc.Tensor), type(ours)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (ours.dtype, theirs.dtype)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    else:
        assert ours == theirs


@pytest.mark.peer
def test_default_collate_matches_torch(rng):
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate  # noqa: PLC0415

    for batch in _samples(rng):
        _same(default_collate(batch), torch_collate(batch))
    for bad in ([None, None], [object(), object()]):
        with pytest.raises(TypeError, match="default_collate: batch must contain"):
            default_collate(bad)
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="equal size"):
        torch_collate([[1, 2], [3]])


def test_collate_hand_cases(rng):
    x, y = default_collate([(np.ones((2, 2), np.uint8), 1), (np.zeros((2, 2), np.uint8), 2)])
    assert x.dtype == np.uint8 and x.shape == (2, 2, 2) and y.dtype == np.int64 and y.tolist() == [1, 2]
    x, y = numpy_collate([(np.ones(3), 1.0), (np.zeros(3), 2.0)])
    assert isinstance(x, np.ndarray) and x.shape == (2, 3) and y.dtype == np.float64
    assert default_collate([True, False]).dtype == np.bool_
    assert default_collate([1, 2.5]).dtype == np.float32  # torch.tensor([1, 2.5]): the default float dtype
    assert default_collate([Point(1, 2), Point(3, 4)]).x.tolist() == [1, 3]
    stacked = default_collate([tc.tensor([1.0, 2.0], requires_grad=True), tc.tensor([3.0, 4.0])])
    stacked.sum().backward()  # the graph is kept, as torch.stack keeps it


def test_tensor_dataset_subset_concat():
    x, y = tc.tensor(np.arange(12.0).reshape(6, 2)), tc.tensor(np.arange(6))
    ds = TensorDataset(x, y)
    assert len(ds) == 6 and ds[2][0].tolist() == [4.0, 5.0] and ds[2][1].item() == 2
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, tc.tensor(np.arange(5)))
    sub = Subset(ds, [5, 0])
    assert len(sub) == 2 and sub[0][1].item() == 5
    both = ds + sub
    assert isinstance(both, ConcatDataset) and len(both) == 8 and both[6][1].item() == 5 and both[-1][1].item() == 0
    with pytest.raises(ValueError, match="should not exceed"):
        both[-9]


@pytest.mark.parametrize("n, lengths", [(10, [3, 7]), (10, [0.3, 0.7]), (11, [0.5, 0.5]), (7, [0.2, 0.2, 0.6])])
def test_random_split_lengths(n, lengths):
    parts = random_split(list(range(n)), lengths, generator=np.random.default_rng(0))
    sizes = [len(p) for p in parts]
    # by hand: floor(n * fraction) each, then what is left one by one to the first splits (7 x 0.2: 1, 1, 4 + 1)
    expected = {(10, (3, 7)): [3, 7], (10, (0.3, 0.7)): [3, 7], (11, (0.5, 0.5)): [6, 5],
                (7, (0.2, 0.2, 0.6)): [2, 1, 4]}
    assert sizes == expected[(n, tuple(lengths))]
    assert sorted(i for p in parts for i in p.indices) == list(range(n))
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(list(range(n)), [n, 1])
    with pytest.raises(TypeError, match="torch.Generator"):
        random_split(list(range(n)), lengths, generator="gen")


@pytest.mark.peer
@pytest.mark.parametrize("n, lengths", [(10, [0.3, 0.7]), (11, [0.5, 0.5]), (7, [0.2, 0.2, 0.6]), (9, [0.1, 0.9])])
def test_random_split_lengths_match_torch(n, lengths):
    torch = pytest.importorskip("torch")
    ours = [len(p) for p in random_split(list(range(n)), lengths)]
    assert ours == [len(p) for p in torch.utils.data.random_split(list(range(n)), lengths)]


class Pairs:
    """A plain dataset (no base class, no _gather): samples (image HWC uint8, int label)."""

    def __init__(self, images, labels, transform=None):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        image = self.images[i].transpose(1, 2, 0)
        return (image if self.transform is None else self.transform(image)), int(self.labels[i])


def _data(rng, n=23):
    return rng.integers(0, 256, (n, 3, 6, 6), dtype=np.uint8), rng.integers(0, 10, n)


def test_dataset_path_gives_the_array_path_batches(rng):
    images, labels = _data(rng)
    arrays = DataLoader(images, labels, batch_size=5, shuffle=True, seed=3)
    dataset = DataLoader(Pairs(images, labels, transform=T.ToTensor()), batch_size=5, shuffle=True, seed=3)
    assert len(arrays) == len(dataset) == 5
    for (xa, ya), (xd, yd) in zip(arrays, dataset):
        np.testing.assert_array_equal(xd, xa / np.float32(255))  # the same order, collated to arrays
        np.testing.assert_array_equal(yd, ya)


def test_gather_path_equals_per_sample_path(rng):
    images, labels = _data(rng)
    x, y = tc.tensor(images), tc.tensor(labels)
    fast = list(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=1))
    slow = list(DataLoader(Subset(Pairs(images, labels), list(range(len(images)))), batch_size=4, shuffle=True,
                           seed=1))
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf, xs.transpose(0, 3, 1, 2))
        np.testing.assert_array_equal(yf, ys)


def test_random_per_sample_transforms_repeat_per_seed_and_epoch(rng):
    images, labels = _data(rng)
    tf = T.Compose([T.RandomCrop(6, padding=2), T.RandomHorizontalFlip(), T.ToTensor()])

    def epoch_batches(loader):
        return [x.copy() for x, _ in loader]

    a = DataLoader(Pairs(images, labels, tf), batch_size=8, shuffle=True, seed=9)
    b = DataLoader(Pairs(images, labels, tf), batch_size=8, shuffle=True, seed=9)
    iter(b)  # an extra iter() (a progress bar's) changes nothing
    e0, e1 = epoch_batches(a), epoch_batches(a)
    for p, q in zip(e0, epoch_batches(b)):
        np.testing.assert_array_equal(p, q)
    assert any(not np.array_equal(p, q) for p, q in zip(e0, e1))  # another epoch, other crops
    resumed = DataLoader(Pairs(images, labels, tf), batch_size=8, shuffle=True, seed=9)
    resumed.load_state_dict({"seed": 9, "epoch": 1})
    for p, q in zip(e1, epoch_batches(resumed)):
        np.testing.assert_array_equal(p, q)


def test_loader_transform_on_a_dataset_and_errors(rng):
    images, labels = _data(rng)
    loader = DataLoader(Pairs(images, labels), batch_size=4, transform=lambda b: b.shape)
    x, y = next(iter(loader))
    assert x == (4, 6, 6, 3) and y.shape == (4,)
    with pytest.raises(TypeError, match="labels are missing"):
        DataLoader(images)
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(42)


def test_utils_data_dataloader_as_torch(rng):
    images, labels = _data(rng)
    x, y = tc.tensor(images.astype(np.float32)), tc.tensor(labels)
    loader = tud.DataLoader(tud.TensorDataset(x, y), batch_size=10, drop_last=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    xb, yb = batches[0]
    assert isinstance(xb, tc.Tensor) and xb.shape == (10, 3, 6, 6) and yb.dtype == np.int64
    np.testing.assert_array_equal(xb.numpy(), images[:10])
    tc.manual_seed(4)
    first = [yb.tolist() for _, yb in tud.DataLoader(tud.TensorDataset(x, y), batch_size=10, shuffle=True)]
    tc.manual_seed(4)
    again = [yb.tolist() for _, yb in tud.DataLoader(tud.TensorDataset(x, y), batch_size=10, shuffle=True)]
    assert first == again and sorted(sum(first, [])) == sorted(labels.tolist())
    seen = []
    custom = tud.DataLoader(tud.TensorDataset(x, y), batch_size=3, collate_fn=lambda s: seen.append(len(s)) or s)
    next(iter(custom))
    assert seen == [3]
    rows = next(iter(tud.DataLoader(images, batch_size=4)))  # an array as the dataset: its rows
    assert isinstance(rows, tc.Tensor) and rows.shape == (4, 3, 6, 6)


@pytest.mark.parametrize("option, value", [("num_workers", 2), ("sampler", [0, 1]), ("batch_sampler", [[0]]),
                                           ("generator", object()), ("batch_size", None), ("timeout", 5),
                                           ("persistent_workers", True), ("prefetch_factor", 2)])
def test_utils_data_dataloader_unsupported_options_are_errors(option, value):
    with pytest.raises(NotImplementedError, match=option.split("_")[0]):
        tud.DataLoader(tud.TensorDataset(tc.tensor(np.zeros(4))), **{option: value})


@pytest.mark.peer
def test_utils_data_dataloader_matches_torch_without_shuffle(rng):
    torch = pytest.importorskip("torch")
    images, labels = _data(rng)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(images),
                                                                        torch.from_numpy(labels)), batch_size=6)
    ours = tud.DataLoader(tud.TensorDataset(tc.tensor(images), tc.tensor(labels)), batch_size=6)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        _same(a, b)
    pairs = Pairs(images, labels)
    for a, b in zip(tud.DataLoader(pairs, batch_size=6), torch.utils.data.DataLoader(pairs, batch_size=6)):
        _same(a, b)


def test_mnist_dataset_class(tmp_path, monkeypatch):
    from .test_mnist import fake_split, idx_files, register, write_files  # noqa: PLC0415
    from tinycnn.data import mnist  # noqa: PLC0415

    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(mnist, "_COUNTS", {"train": 12, "test": 5})
    images, labels = fake_split(5, 0)
    files = idx_files("test", images, labels)
    register(monkeypatch, "mnist", files)
    write_files(tmp_path / "MNIST" / "raw", files, gz=True)
    ds = MNIST(tmp_path, train=False, transform=T.ToTensor(), verbose=False)
    assert len(ds) == 5 and ds.data.shape == (5, 28, 28) and ds.targets.dtype == np.int64
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and y == labels[3]
    np.testing.assert_array_equal(x.numpy()[0], images[3] / np.float32(255))
    assert ds.classes[0] == "0 - zero" and FashionMNIST.classes[9] == "Ankle boot"
    xb, yb = next(iter(DataLoader(MNIST(tmp_path, train=False, verbose=False), batch_size=5)))
    np.testing.assert_array_equal(xb, images)  # gathered at once: no transform
