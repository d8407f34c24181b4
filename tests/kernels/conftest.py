"""Tests of the fast kernels themselves (tinycnn/kernels): they run the fast tier whatever the environment says
(TINYCNN_REFERENCE=1 included), since they spy on its internals or compare it with the reference."""
import pytest

import tinycnn as tc


@pytest.fixture(autouse=True)
def fast_kernels():
    with tc.use_reference_ops(False):
        yield
