"""Shared test configuration: Hypothesis profiles and common fixtures.

Profiles (pick one with the environment variable HYPOTHESIS_PROFILE, default "default"):

- "default": 25 examples per property, no deadline (a float64 gradient check may take a while), so the whole
  suite stays fast. Under CI (the CI environment variable is set) the examples are derandomized: each run tests
  the same inputs, so a red CI run is reproducible and never flaky.
- "thorough": the same with 200 examples per property, for a long local hunt:
  HYPOTHESIS_PROFILE=thorough make test-fast

Nothing here imports tinycnn's submodules: a broken module must fail its own tests, not the whole collection.
"""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_CI = bool(os.environ.get("CI"))

settings.register_profile(
    "default",
    deadline=None,
    max_examples=25,
    derandomize=_CI,
    print_blob=True,
    # Drawing array shapes and data can be slow next to a tiny op; that is not a bug in the test.
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", settings.get_profile("default"), max_examples=200)
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(_PROFILE)


def pytest_report_header(config):
    """Say up front which optional peers are present, so skipped comparisons are never a surprise."""
    peers = ", ".join(
        f"{name} {'present' if importlib.util.find_spec(name) else 'absent'}" for name in ("torch", "cupy")
    )
    mode = " (derandomized)" if _CI else ""
    return [f"tinycnn: numpy {np.__version__}; {peers}; hypothesis profile {_PROFILE!r}{mode}"]


@pytest.fixture
def rng():
    """A fresh, seeded NumPy generator for each test: the same data on every run."""
    return np.random.default_rng(0)


# ----- GPU backends (issue 6): the `xp` fixture ---------------------------------------------------------------

_CUPY_PROBE = None


def _cupy_with_gpu():
    """(cupy, None) when CuPy imports and sees a CUDA GPU, else (None, the reason); probed once per session."""
    global _CUPY_PROBE
    if _CUPY_PROBE is None:
        try:
            import cupy  # noqa: PLC0415
        except Exception as exc:  # ImportError, or a CUDA library that fails to load
            _CUPY_PROBE = (None, f"CuPy is not importable ({type(exc).__name__}: {exc}); the GPU tests need an "
                                 f"NVIDIA GPU and `pip install 'tinycnn[gpu]'` (cupy-cuda12x; cupy-cuda11x / "
                                 f"cupy-cuda13x for CUDA 11 / 13)")
        else:
            try:
                count = cupy.cuda.runtime.getDeviceCount()
            except Exception as exc:  # no driver, or no GPU
                _CUPY_PROBE = (None, f"CuPy {cupy.__version__} is installed but no CUDA GPU is usable ({exc})")
            else:
                _CUPY_PROBE = (cupy, None) if count else (None, f"CuPy {cupy.__version__} found no CUDA GPU")
    return _CUPY_PROBE


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array module of each backend: numpy always, cupy where CuPy and a GPU are present.

    The cupy instance is marked ``gpu`` (``pytest -m gpu`` runs only it) and is skipped, with the reason, where
    CuPy or a GPU is absent: skipped, never failed.
    """
    if request.param == "numpy":
        return np
    cupy, reason = _cupy_with_gpu()
    if cupy is None:
        pytest.skip(reason)
    return cupy


# ----- the two tiers of ops (issue 16): the `ops_tier` fixture ---------------------------------------------------

_TESTS = Path(__file__).resolve().parent
# Run in both tiers, the fast kernels and the textbook reference (tinycnn.use_reference_ops()): the op tests, the
# gradient checks, the strict stand-in device, and the real-GPU tests of test_backend.py (those using `xp`).
_BOTH_TIERS = (_TESTS / "functional", _TESTS / "test_gradcheck.py", _TESTS / "test_strict_device.py")


def _runs_in_both_tiers(path: Path, fixturenames) -> bool:
    path = Path(path).resolve()
    if path == _TESTS / "test_backend.py":
        return "xp" in fixturenames
    return any(path == p or p in path.parents for p in _BOTH_TIERS)


def pytest_generate_tests(metafunc):
    if _runs_in_both_tiers(metafunc.definition.path, metafunc.fixturenames):
        metafunc.parametrize("ops_tier", ["fast", "reference"], indirect=True)


@pytest.fixture(autouse=True)
def ops_tier(request):
    """The tier of ops a test runs in: "fast" or "reference" where ``pytest_generate_tests`` runs it in both (each
    test id gets ``[fast]`` / ``[reference]``), else whatever the process runs (fast, unless TINYCNN_REFERENCE=1)."""
    tier = getattr(request, "param", None)
    if tier is None:
        yield None
        return
    import tinycnn  # noqa: PLC0415 - see the module docstring

    with tinycnn.use_reference_ops(tier == "reference"):
        yield tier
