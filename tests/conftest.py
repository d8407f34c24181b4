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
