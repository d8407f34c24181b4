"""torchvision-style transforms: hand-computed values, PIL images against arrays against Tensors, the batch forms
against the per-image forms, and (marked peer) torch's own ops on the same arrays. torchvision is not used: its
documented behaviour is rebuilt from Pillow and NumPy where torch has no equivalent."""
import numpy as np
import pytest

import tinycnn as tc
from tinycnn.data import _rng
from tinycnn.data import transforms as T

Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def img(rng):
    return rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)  # H=5, W=7, RGB


def drawn(seed):
    """What the loader's generator would hand out, for replaying a transform's draws."""
    return np.random.default_rng(seed)


# ----- ToTensor -----

def test_to_tensor_hand_values():
    a = np.array([[0, 51], [102, 255]], dtype=np.uint8)[:, :, None]         # H=2, W=2, C=1
    t = T.ToTensor()(a)
    assert isinstance(t, tc.Tensor) and t.shape == (1, 2, 2) and t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy()[0], np.array([[0, 0.2], [0.4, 1.0]], np.float32))


def test_to_tensor_layouts_and_types(img):
    t = T.ToTensor()(img)
    assert t.shape == (3, 5, 7)
    np.testing.assert_array_equal(t.numpy(), img.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    assert T.ToTensor()(img[:, :, 0]).shape == (1, 5, 7)                       # (H, W) gets a channel axis
    floats = np.linspace(0, 3, 35).reshape(5, 7, 1)                          # non-uint8: values and dtype kept
    out = T.ToTensor()(floats)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.numpy()[0], floats[:, :, 0])
    np.testing.assert_array_equal(T.ToTensor()(Image.fromarray(img)).numpy(), t.numpy())      # PIL RGB
    np.testing.assert_array_equal(T.ToTensor()(Image.fromarray(img[:, :, 0])).numpy(), t.numpy()[:1])  # L
    with pytest.raises(TypeError, match="PIL Image or ndarray"):
        T.ToTensor()(t)
    with pytest.raises(ValueError, match=r"looks\s+like \(C, H, W\)"):
        T.ToTensor()(img.transpose(2, 0, 1))
    with pytest.raises(ValueError, match="2/3 dimensional"):
        T.ToTensor()(img[None])


def test_to_tensor_batch_form(rng):
    batch = rng.integers(0, 256, (4, 6, 6), dtype=np.uint8)
    out = T.ToTensor().apply_batch(batch)
    assert out.shape == (4, 1, 6, 6) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0], np.stack([T.ToTensor()(b).numpy()[0] for b in batch]))


# ----- Normalize -----

def test_normalize_hand_values_and_errors():
    x = tc.tensor(np.array([[[1.0, 2.0]], [[3.0, 5.0]]], np.float32))  # (C=2, H=1, W=2)
    out = T.Normalize((1.0, 1.0), (1.0, 2.0))(x)
    np.testing.assert_array_equal(out.numpy(), np.array([[[0, 1]], [[1, 2]]], np.float32))
    np.testing.assert_array_equal(x.numpy()[1], [[3, 5]])  # not in place by default
    same = T.Normalize((1.0, 1.0), (1.0, 2.0), inplace=True)(x)
    assert same is x and x.numpy()[1, 0, 1] == 2
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize(0, 1)(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize(0, (1, 0))(np.zeros((2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="3 values for an image of 2 channels"):
        T.Normalize((0, 0, 0), 1)(np.zeros((2, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        T.Normalize(0, 1)(np.zeros((2, 2), np.float32))
    with pytest.raises(TypeError, match="PIL"):
        T.Normalize(0, 1)(Image.new("L", (2, 2)))


@pytest.mark.peer
def test_normalize_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    want = (torch.from_numpy(x) - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)
    np.testing.assert_array_equal(T.Normalize(mean, std)(tc.tensor(x[0])).numpy(), want.numpy()[0])
    np.testing.assert_array_equal(T.Normalize(mean, std).apply_batch(x), want.numpy())  # bit for bit


# ----- RandomCrop -----

def test_random_crop_draws_and_window(img):
    crop = T.RandomCrop((5, 4), padding=2)
    with _rng.using(drawn(3)):
        out = crop(img)
    replay = drawn(3)
    i, j = replay.integers(0, 5 + 4 - 5 + 1), replay.integers(0, 7 + 4 - 4 + 1)
    padded = np.pad(img, ((2, 2), (2, 2), (0, 0)))
    np.testing.assert_array_equal(out, padded[i:i + 5, j:j + 4])
    gen = drawn(0)
    with _rng.using(gen):
        assert T.RandomCrop((5, 7))(img) is img  # the crop fills the image: nothing drawn, as torchvision
    assert gen.integers(0, 10**9) == drawn(0).integers(0, 10**9)


def test_random_crop_covers_every_offset_uniformly():
    image = np.arange(9, dtype=np.uint8).reshape(3, 3)
    crop = T.RandomCrop(1)
    with _rng.using(drawn(0)):
        counts = np.bincount([int(crop(image)[0, 0]) for _ in range(2700)], minlength=9)
    assert counts.min() > 230 and counts.max() < 370  # 300 expected each


@pytest.mark.parametrize("padding, ltrb", [(1, (1, 1, 1, 1)), ((1, 2), (1, 2, 1, 2)), ((0, 1, 2, 3), (0, 1, 2, 3))])
def test_random_crop_padding_forms(padding, ltrb):
    image = np.ones((2, 3), np.uint8)
    with _rng.using(drawn(0)):
        out = T.RandomCrop((2 + ltrb[1] + ltrb[3], 3 + ltrb[0] + ltrb[2]), padding=padding)(image)
    want = np.pad(image, ((ltrb[1], ltrb[3]), (ltrb[0], ltrb[2])))
    np.testing.assert_array_equal(out, want)


def test_random_crop_pil_array_tensor_agree(img):
    crop = T.RandomCrop(4, padding=1, padding_mode="constant", fill=0)
    outs = []
    for kind in (img, Image.fromarray(img), tc.tensor(img.transpose(2, 0, 1))):
        with _rng.using(drawn(7)):
            outs.append(crop(kind))
    np.testing.assert_array_equal(np.asarray(outs[1]), outs[0])
    np.testing.assert_array_equal(outs[2].numpy().transpose(1, 2, 0), outs[0])


def test_random_crop_pad_if_needed_and_errors():
    image = np.ones((2, 2), np.uint8)
    with _rng.using(drawn(0)):
        out = T.RandomCrop(4, pad_if_needed=True)(image)
    replay = drawn(0)  # padded to 6 x 6 (torchvision pads both sides by the shortfall), then a 4 x 4 window
    i, j = replay.integers(0, 3), replay.integers(0, 3)
    np.testing.assert_array_equal(out, np.pad(image, 2)[i:i + 4, j:j + 4])
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(3)(image)
    with pytest.raises(ValueError, match="Padding mode"):
        T.RandomCrop(2, padding=1, padding_mode="wrap")


@pytest.mark.peer
@pytest.mark.parametrize("mode", ["reflect", "edge", "symmetric"])
def test_padding_modes_match_torch_pad(rng, mode):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    if mode == "symmetric":  # torch.nn.functional.pad has no symmetric mode: NumPy's is the reference
        want = np.pad(x, ((0, 0), (0, 0), (2, 2), (1, 1)), mode="symmetric")
    else:
        torch_mode = {"reflect": "reflect", "edge": "replicate"}[mode]
        want = torch.nn.functional.pad(torch.from_numpy(x), (1, 1, 2, 2), mode=torch_mode).numpy()
    crop = T.RandomCrop((9, 8), padding=(1, 2), padding_mode=mode)  # the window is the whole padded image
    np.testing.assert_array_equal(crop.apply_batch(x), want)
    np.testing.assert_array_equal(crop(tc.tensor(x[0])).numpy(), want[0])


def test_random_crop_batch_form_is_per_image_windows(rng):
    batch = rng.integers(0, 256, (6, 3, 8, 8), dtype=np.uint8)
    out = T.RandomCrop(8, padding=4).apply_batch(batch, rng=drawn(5))
    replay = drawn(5)
    i, j = replay.integers(0, 9, size=6), replay.integers(0, 9, size=6)
    padded = np.pad(batch, ((0, 0), (0, 0), (4, 4), (4, 4)))
    for k in range(6):
        np.testing.assert_array_equal(out[k], padded[k, :, i[k]:i[k] + 8, j[k]:j[k] + 8])


# ----- RandomHorizontalFlip -----

def test_random_horizontal_flip(img):
    assert T.RandomHorizontalFlip(0.0)(img) is img
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(img), img[:, ::-1])
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(1.0)(Image.fromarray(img))), img[:, ::-1])
    t = tc.tensor(img.transpose(2, 0, 1))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(t).numpy(), img.transpose(2, 0, 1)[..., ::-1])
    batch = np.arange(5 * 2 * 3).reshape(5, 1, 2, 3)
    out = T.RandomHorizontalFlip(0.5).apply_batch(batch, rng=drawn(1))
    flip = drawn(1).random(5) < 0.5
    for k in range(5):
        np.testing.assert_array_equal(out[k], batch[k, :, :, ::-1] if flip[k] else batch[k])
    with pytest.raises(ValueError, match="p must lie"):
        T.RandomHorizontalFlip(1.5)


# ----- Resize -----

@pytest.mark.parametrize("hw, size, want", [
    ((30, 40), 20, (20, 26)), ((40, 30), 20, (26, 20)), ((30, 40), [20], (20, 26)), ((30, 40), (10, 12), (10, 12)),
    ((100, 300), 50, (50, 150)), ((7, 11), 5, (5, 7)),
])
def test_resize_output_size(hw, size, want):
    assert T.resized_size(*hw, size) == want
    assert T.Resize(size)(np.zeros(hw + (3,), np.uint8)).shape == want + (3,)


def test_resize_max_size_and_no_op():
    assert T.resized_size(30, 90, 20, max_size=40) == (13, 40)
    with pytest.raises(ValueError, match="strictly greater"):
        T.resized_size(30, 40, 20, max_size=20)
    image = np.zeros((20, 30, 3), np.uint8)
    assert T.Resize(20)(image) is image  # already that size: returned as it is (torchvision)
    with pytest.raises(NotImplementedError, match="bilinear"):
        T.Resize(8, interpolation="nearest")


def test_resize_pil_is_pillow_bilinear(img):
    pil = Image.fromarray(img)
    out = T.Resize(10)(pil)  # H=5, W=7 -> (10, 14)
    assert out.size == (14, 10)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(pil.resize((14, 10), Image.Resampling.BILINEAR)))


@pytest.mark.parametrize("hw, out", [((5, 7), (10, 14)), ((17, 23), (6, 9)), ((9, 9), (4, 13))])
def test_resize_array_close_to_pillow_on_uint8(rng, hw, out):
    """uint8 arrays: the same filter as Pillow's, computed in float (Pillow rounds in fixed point between its two
    passes): within 1 of Pillow's values."""
    image = rng.integers(0, 256, hw + (3,), dtype=np.uint8)
    ours = T.Resize(out)(image)
    pillow = np.asarray(Image.fromarray(image).resize(out[::-1], Image.Resampling.BILINEAR))
    assert ours.dtype == np.uint8 and np.abs(ours.astype(int) - pillow).max() <= 1


@pytest.mark.peer
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("hw, out", [((5, 7), (10, 14)), ((17, 23), (6, 9)), ((9, 9), (4, 13)), ((8, 8), (8, 3))])
def test_resize_tensor_matches_torch_interpolate(rng, antialias, hw, out):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3) + hw)
    want = torch.nn.functional.interpolate(torch.from_numpy(x), size=out, mode="bilinear", align_corners=False,
                                           antialias=antialias).numpy()
    resize = T.Resize(out, antialias=antialias)
    np.testing.assert_allclose(resize.apply_batch(x), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(resize(tc.tensor(x[1])).numpy(), want[1], rtol=1e-12, atol=1e-12)


# ----- CenterCrop -----

@pytest.mark.parametrize("n, size, top", [(5, 2, 2), (6, 3, 2), (4, 1, 2), (7, 2, 2), (8, 3, 2), (9, 4, 2)])
def test_center_crop_rounds_half_to_even(n, size, top):
    """Offsets int(round((n - size) / 2)): 1.5 -> 2, 2.5 -> 2 (Python's round, as torchvision)."""
    image = np.arange(n * n).reshape(n, n)
    out = T.CenterCrop(size)(image)
    np.testing.assert_array_equal(out, image[top:top + size, top:top + size])


def test_center_crop_pads_a_small_image(img):
    out = T.CenterCrop((8, 10))(img)  # H 5 -> 8: pad top 1, bottom 2; W 7 -> 10: left 1, right 2
    np.testing.assert_array_equal(out, np.pad(img, ((1, 2), (1, 2), (0, 0))))
    np.testing.assert_array_equal(np.asarray(T.CenterCrop((8, 10))(Image.fromarray(img))), out)
    np.testing.assert_array_equal(T.CenterCrop(3).apply_batch(img.transpose(2, 0, 1)[None])[0],
                                  img.transpose(2, 0, 1)[:, 1:4, 2:5])


# ----- Compose, Lambda, randomness -----

def test_compose_and_lambda(img):
    tf = T.Compose([T.CenterCrop(3), T.ToTensor(), T.Lambda(lambda t: t * 2)])
    np.testing.assert_allclose(tf(img).numpy(), img[1:4, 2:5].transpose(2, 0, 1) / np.float32(255) * 2)
    with pytest.raises(TypeError, match="no batch form"):
        tf.apply_batch(img.transpose(2, 0, 1)[None])
    with pytest.raises(TypeError, match="should be callable"):
        T.Lambda(3)
    assert "CenterCrop" in repr(tf)


def test_outside_a_loader_the_draws_follow_manual_seed(img):
    crop = T.Compose([T.RandomCrop(3, padding=2), T.RandomHorizontalFlip()])
    tc.manual_seed(11)
    first = [crop(img) for _ in range(5)]
    tc.manual_seed(11)
    again = [crop(img) for _ in range(5)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
