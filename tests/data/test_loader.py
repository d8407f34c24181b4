"""normalize (PITFALLS row P15), DataLoader batching and shuffling, and the augmentations."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycnn.data import MNIST_MEAN, MNIST_STD, DataLoader, normalize
from tinycnn.data.loader import random_crop, random_hflip

# --- P15 ---------------------------------------------------------------------------------------------------

X = np.array([0, 128, 255], dtype=np.uint8)


def test_p15_uint8_arithmetic_wraps_so_cast_first():
    assert (X - np.uint8(128)).tolist() == [128, 0, 127]  # the fault: 0 - 128 wraps to 128
    assert (X.astype(np.float32) - 128).tolist() == [-128, 0, 127]
    np.testing.assert_allclose(X.astype(np.float32) / 255, [0, 0.501961, 1.0], atol=1e-6)


def test_p15_normalize_values():
    assert (MNIST_MEAN, MNIST_STD) == (0.1307, 0.3081)
    out = normalize(X.reshape(1, 1, 3))
    assert out.dtype == np.float32 and out.shape == (1, 1, 1, 3)
    np.testing.assert_allclose(out.ravel(), [-0.424213, 1.205001, 2.821487], atol=1e-6)


def test_normalize_shapes_and_per_channel_stats():
    images = np.random.default_rng(0).integers(0, 256, (4, 3, 5, 5), dtype=np.uint8)
    keep = images.copy()
    out = normalize(images, mean=[0.1, 0.2, 0.3], std=[0.5, 0.25, 2.0])
    assert out.shape == (4, 3, 5, 5) and out.dtype == np.float32
    mean, std = np.array([0.1, 0.2, 0.3])[:, None, None], np.array([0.5, 0.25, 2.0])[:, None, None]
    expected = (images / 255.0 - mean) / std
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(images, keep)  # input untouched
    assert normalize(images[:, 0]).shape == (4, 1, 5, 5)
    np.testing.assert_allclose(normalize(images[:, :1], mean=0, std=1) * 255, images[:, :1], atol=1e-4)


@pytest.mark.parametrize("bad, error", [
    (np.zeros((2, 3, 3), np.float32), TypeError),
    (np.zeros((3, 3), np.uint8), ValueError),
    (np.zeros((1, 1, 2, 3, 3), np.uint8), ValueError),
])
def test_normalize_rejects(bad, error):
    with pytest.raises(error):
        normalize(bad)
    with pytest.raises(ValueError, match="one per channel"):
        normalize(np.zeros((1, 3, 2, 2), np.uint8), mean=[0.1, 0.2])


# --- DataLoader --------------------------------------------------------------------------------------------

def ids(n):
    """Images that carry their own index, and labels equal to it: shows order and alignment."""
    return np.arange(n).reshape(n, 1, 1), np.arange(n)


@pytest.mark.parametrize("n, bs, drop_last, sizes", [
    (10, 3, False, [3, 3, 3, 1]),
    (10, 3, True, [3, 3, 3]),
    (9, 3, False, [3, 3, 3]),
    (9, 3, True, [3, 3, 3]),
    (2, 5, False, [2]),
    (2, 5, True, []),
    (0, 4, False, []),
])
def test_batch_counts(n, bs, drop_last, sizes):
    loader = DataLoader(*ids(n), batch_size=bs, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [len(x) for x, _ in loader] == sizes


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 60), bs=st.integers(1, 20), drop_last=st.booleans(), shuffle=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_every_sample_once_per_epoch(n, bs, drop_last, shuffle, seed):
    loader = DataLoader(*ids(n), batch_size=bs, shuffle=shuffle, seed=seed, drop_last=drop_last)
    assert len(loader) == (n // bs if drop_last else math.ceil(n / bs))
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == len(loader)
        seen = np.concatenate([x.ravel() for x, _ in batches]) if batches else np.array([], int)
        for x, y in batches:
            np.testing.assert_array_equal(x.ravel(), y)  # images and labels stay aligned
        expected = (n // bs) * bs if drop_last else n
        assert len(seen) == expected and len(np.unique(seen)) == expected
        if not shuffle:
            np.testing.assert_array_equal(seen, np.arange(expected))
        elif not drop_last:
            assert sorted(seen.tolist()) == list(range(n))


def order(loader):
    return np.concatenate([y for _, y in loader])


def test_shuffle_reproducible_per_epoch_and_changes_between_epochs():
    a = DataLoader(*ids(100), batch_size=16, shuffle=True, seed=42)
    b = DataLoader(*ids(100), batch_size=16, shuffle=True, seed=42)
    a1, a2, a3 = order(a), order(a), order(a)
    b1, b2, b3 = order(b), order(b), order(b)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    np.testing.assert_array_equal(a3, b3)
    assert not np.array_equal(a1, a2) and not np.array_equal(a2, a3)
    assert not np.array_equal(a1, np.arange(100))
    c1 = order(DataLoader(*ids(100), batch_size=16, shuffle=True, seed=43))
    assert not np.array_equal(a1, c1)


def test_epoch_is_drawn_at_iter_time():
    a = DataLoader(*ids(50), batch_size=8, shuffle=True, seed=0)
    b = DataLoader(*ids(50), batch_size=8, shuffle=True, seed=0)
    next(iter(a))  # an abandoned epoch still counts as one
    np.testing.assert_array_equal(order(a), (order(b), order(b))[1])


def test_transform_applied_per_batch():
    images = np.random.default_rng(1).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    labels = np.arange(10)
    loader = DataLoader(images, labels, batch_size=4, transform=normalize)
    x, y = next(iter(loader))
    assert x.dtype == np.float32 and x.shape == (4, 1, 28, 28) and y.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(x, normalize(images[:4]))


@pytest.mark.parametrize("bs", [0, -1, 2.5, True, "8", None])
def test_bad_batch_size(bs):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(*ids(4), batch_size=bs)


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        DataLoader(np.zeros((5, 2, 2)), np.zeros(4))


# --- augmentation ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(6, 5, 7), (6, 2, 5, 7)])
def test_random_crop(shape):
    x = np.random.default_rng(0).integers(1, 256, shape, dtype=np.uint8)
    np.testing.assert_array_equal(random_crop(x, pad=0, rng=0), x)
    out = random_crop(x, pad=2, rng=np.random.default_rng(3))
    assert out.shape == x.shape and out.dtype == x.dtype
    np.testing.assert_array_equal(out, random_crop(x, pad=2, rng=np.random.default_rng(3)))
    padded = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(2, 2), (2, 2)])
    h, w = shape[-2:]
    for i in range(len(x)):  # each output is some window of its own padded image
        windows = [padded[i, ..., dy:dy + h, dx:dx + w] for dy in range(5) for dx in range(5)]
        assert any(np.array_equal(out[i], win) for win in windows)
    with pytest.raises(ValueError):
        random_crop(x, pad=-1)


def test_random_hflip():
    x = np.arange(4 * 2 * 3 * 3).reshape(4, 2, 3, 3)
    np.testing.assert_array_equal(random_hflip(x, rng=0, p=0.0), x)
    np.testing.assert_array_equal(random_hflip(x, rng=0, p=1.0), x[..., ::-1])
    out = random_hflip(np.repeat(x, 50, axis=0), rng=np.random.default_rng(0))
    flipped = [np.array_equal(o, s[..., ::-1]) for o, s in zip(out, np.repeat(x, 50, axis=0))]
    assert 0.3 < np.mean(flipped) < 0.7
    with pytest.raises(ValueError):
        random_hflip(x, p=1.5)


# ----- each epoch a function of (seed, epoch) alone -----

def test_an_unconsumed_iter_does_not_shift_the_order():
    """tqdm(loader) calls iter() once more than the loop; the order of an epoch must not move."""
    from tqdm import tqdm

    plain = DataLoader(*ids(50), batch_size=8, shuffle=True, seed=3)
    wrapped = DataLoader(*ids(50), batch_size=8, shuffle=True, seed=3)
    for _ in range(3):
        iter(wrapped)  # never consumed
        a = order(plain)
        b = np.concatenate([y for _, y in tqdm(wrapped, total=len(wrapped), disable=False, leave=False)])
        np.testing.assert_array_equal(a, b)
    assert plain.epoch == wrapped.epoch == 3


def test_set_epoch_jumps_to_the_order_of_that_epoch():
    a = DataLoader(*ids(40), batch_size=16, shuffle=True, seed=11)
    orders = [order(a) for _ in range(4)]
    b = DataLoader(*ids(40), batch_size=16, shuffle=True, seed=11)
    b.set_epoch(2)
    np.testing.assert_array_equal(order(b), orders[2])
    np.testing.assert_array_equal(order(b), orders[3])  # and goes on from there
    c = DataLoader(*ids(40), batch_size=16, shuffle=True, seed=11)
    c.load_state_dict(a.state_dict())
    a_next, c_next = order(a), order(c)
    np.testing.assert_array_equal(a_next, c_next)
    assert len({tuple(o) for o in orders + [a_next]}) == 5  # every epoch a new order


def test_transform_rng_is_drawn_from_seed_and_epoch():
    images = np.arange(20 * 4 * 4, dtype=np.uint8).reshape(20, 4, 4)

    def flip(batch, rng):
        return random_hflip(batch, rng=rng)

    def run(seed, epoch):
        loader = DataLoader(images, np.arange(20), batch_size=6, shuffle=True, seed=seed, transform=flip)
        loader.set_epoch(epoch)
        return np.concatenate([x for x, _ in loader])

    np.testing.assert_array_equal(run(0, 1), run(0, 1))
    assert not np.array_equal(run(0, 1), run(0, 2)) and not np.array_equal(run(0, 1), run(1, 1))
    # the transform's stream is its own: the same flips whether or not the order is shuffled
    no_shuffle = DataLoader(images, np.arange(20), batch_size=20, shuffle=False, seed=0, transform=flip)
    no_shuffle.set_epoch(1)
    flips = next(iter(no_shuffle))[0][:, 0, 0] != images[:, 0, 0]
    _, transform_rng = no_shuffle.generators(1)
    np.testing.assert_array_equal(flips, transform_rng.random(20) < 0.5)


def test_seed_none_draws_a_recorded_seed():
    a = DataLoader(*ids(30), batch_size=30, shuffle=True)
    b = DataLoader(*ids(30), batch_size=30, shuffle=True)
    assert isinstance(a.seed, int) and a.seed != b.seed
    again = DataLoader(*ids(30), batch_size=30, shuffle=True, seed=a.seed)
    np.testing.assert_array_equal(order(a), order(again))


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seed_or_epoch(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        DataLoader(*ids(4), seed=bad)
    with pytest.raises(ValueError, match="epoch must be a non-negative int"):
        DataLoader(*ids(4), seed=0).set_epoch(bad)
