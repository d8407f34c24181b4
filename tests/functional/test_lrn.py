"""local_response_norm / nn.LocalResponseNorm: PyTorch's definition (alpha / size), the AlexNet paper's form
(alpha undivided, Krizhevsky et al. 2012, Sec. 3.3), even window sizes, gradients.

References are written plainly here, one channel at a time, from the two definitions:

    PyTorch:  b_c = a_c / (k + alpha / n * sum_{c' = c - n//2}^{c + (n-1)//2} a_c'^2) ** beta
    paper:    b_i = a_i / (k + alpha * sum_{j = max(0, i - n/2)}^{min(N - 1, i + n/2)} a_j^2) ** beta   (n odd)
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.functional as F
import tinycnn.nn as nn


def t64(values, requires_grad=False):
    return tc.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def reference_pytorch(a, size, alpha, beta, k):
    """PyTorch's definition, channel by channel; zero padding beyond the edges, alpha divided by size always."""
    out = np.empty_like(a)
    channels = a.shape[1]
    for c in range(channels):
        lo, hi = max(0, c - size // 2), min(channels - 1, c + (size - 1) // 2)
        s = (a[:, lo:hi + 1] ** 2).sum(axis=1)
        out[:, c] = a[:, c] / (k + alpha / size * s) ** beta
    return out


def reference_paper(a, n, alpha, beta, k):
    """Eq. in Sec. 3.3 of the AlexNet paper: alpha not divided by n."""
    out = np.empty_like(a)
    channels = a.shape[1]
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        out[:, i] = a[:, i] / (k + alpha * (a[:, lo:hi + 1] ** 2).sum(axis=1)) ** beta
    return out


def test_hand_computed_odd_size():
    # channels 1, 2, 3; size 3: windows {0,1}, {0,1,2}, {1,2}; alpha / size = 0.1
    y = F.local_response_norm(t64([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1), 3, alpha=0.3, beta=0.5, k=1.0)
    expected = [1 / np.sqrt(1 + 0.1 * 5), 2 / np.sqrt(1 + 0.1 * 14), 3 / np.sqrt(1 + 0.1 * 13)]
    np.testing.assert_allclose(y.numpy().reshape(-1), expected, rtol=1e-14)


def test_hand_computed_even_size():
    # size 2: the window is {c - 1, c} (size//2 = 1 before, (size-1)//2 = 0 after), alpha / size = 0.15
    y = F.local_response_norm(t64([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1), 2, alpha=0.3, beta=0.5, k=1.0)
    expected = [1 / np.sqrt(1 + 0.15 * 1), 2 / np.sqrt(1 + 0.15 * 5), 3 / np.sqrt(1 + 0.15 * 13)]
    np.testing.assert_allclose(y.numpy().reshape(-1), expected, rtol=1e-14)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6, 7, 12])
@pytest.mark.parametrize("channels", [1, 3, 8])
def test_matches_plain_definition(size, channels, rng):
    a = rng.standard_normal((2, channels, 3, 2)) * 3
    y = F.local_response_norm(t64(a), size, alpha=1e-2, beta=0.75, k=2.0)
    np.testing.assert_allclose(y.numpy(), reference_pytorch(a, size, 1e-2, 0.75, 2.0), rtol=1e-12)


def test_paper_form_equals_pytorch_form_with_alpha_times_n(rng):
    # AlexNet's k=2, n=5, alpha=1e-4, beta=0.75 (undivided) is PyTorch's alpha = 5e-4; activations large
    # enough (ReLU outputs in the tens) that the normalization changes them
    a = np.abs(rng.standard_normal((2, 9, 4, 4))) * 40
    paper = reference_paper(a, 5, 1e-4, 0.75, 2.0)
    assert not np.allclose(paper, a / 2.0 ** 0.75, rtol=1e-3)  # the squares matter in this test
    ours = F.local_response_norm(t64(a), 5, alpha=5e-4, beta=0.75, k=2.0).numpy()
    np.testing.assert_allclose(ours, paper, rtol=1e-12)
    layer = nn.LocalResponseNorm.paper(5, 1e-4, 0.75, 2.0)
    assert (layer.size, layer.beta, layer.k) == (5, 0.75, 2.0)
    assert layer.alpha == pytest.approx(5e-4)
    np.testing.assert_allclose(layer(t64(a)).numpy(), paper, rtol=1e-12)
    # and PyTorch's form with the paper's alpha as is differs: the classic mistake
    wrong = F.local_response_norm(t64(a), 5, alpha=1e-4, beta=0.75, k=2.0).numpy()
    assert not np.allclose(wrong, paper, rtol=1e-4)


@given(size=st.integers(1, 6), channels=st.integers(1, 7), beta=st.sampled_from([0.5, 0.75, 1.0]),
       seed=st.integers(0, 2**32 - 1))
def test_gradcheck(size, channels, beta, seed):
    a = np.random.default_rng(seed).standard_normal((2, channels, 2, 2)) * 2
    x = t64(a, requires_grad=True)
    assert tc.gradcheck(lambda t: F.local_response_norm(t, size, alpha=0.5, beta=beta, k=1.5), [x])


def test_gradcheck_2d_and_3d_inputs(rng):
    for shape in [(3, 5), (2, 5, 3)]:
        x = t64(rng.standard_normal(shape), requires_grad=True)
        assert tc.gradcheck(lambda t: F.local_response_norm(t, 3, alpha=0.4, beta=0.75, k=1.0), [x])


def test_keeps_dtype_and_shape(rng):
    x = tc.Tensor(rng.standard_normal((2, 6, 3, 3)).astype(np.float32))
    y = nn.LocalResponseNorm(5)(x)
    assert y.dtype == np.float32 and y.shape == x.shape


def test_bad_size_raises():
    x = t64(np.ones((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="size"):
        F.local_response_norm(x, 0)
    with pytest.raises(ValueError):
        nn.LocalResponseNorm(0)


@pytest.mark.peer
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6, 9])
@pytest.mark.parametrize("shape", [(2, 7, 3, 3), (2, 3, 4), (1, 2, 2, 2)])
def test_against_torch(size, shape, rng):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal(shape) * 5
    g = rng.standard_normal(shape)
    x = t64(a, requires_grad=True)
    y = F.local_response_norm(x, size, alpha=3e-2, beta=0.75, k=2.0)
    y.backward(g)
    xt = torch.tensor(a, requires_grad=True)
    yt = torch.nn.functional.local_response_norm(xt, size, alpha=3e-2, beta=0.75, k=2.0)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.peer
def test_paper_layer_against_torch_layer(rng):
    torch = pytest.importorskip("torch")
    a = np.abs(rng.standard_normal((1, 16, 5, 5)).astype(np.float32)) * 30
    ours = nn.LocalResponseNorm.paper(5, 1e-4, 0.75, 2.0)(tc.Tensor(a)).numpy()
    theirs = torch.nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)(torch.tensor(a)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_float32_window_sums_stay_accurate_over_many_channels():
    # Regression: the channel window sums were differences of one cumulative sum over all channels; in float32 a
    # small window after large channels lost its digits (a 1e-3 relative error in the output, 30% in a gradient,
    # on 256 channels of very different scales). Summed window by window, float32 stays near float64, as PyTorch's
    # own float32 does (2e-7 and 3e-4 on this input).
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal((2, 256, 5, 5)) * np.exp(rng.uniform(-4, 4, (1, 256, 1, 1)))
    g64 = rng.standard_normal(x64.shape)

    def run(dtype):
        x = tc.Tensor(x64.astype(dtype), requires_grad=True)
        y = F.local_response_norm(x, 5, alpha=1.0, beta=0.75, k=1.0)
        y.backward(g64.astype(dtype))
        return y.numpy().astype(np.float64), x.grad.numpy().astype(np.float64)

    (y32, dx32), (y64, dx64) = run(np.float32), run(np.float64)
    assert np.max(np.abs(y32 - y64) / np.abs(y64)) < 1e-5
    assert np.max(np.abs(dx32 - dx64) / (np.abs(dx64) + 1e-12)) < 1e-2
