"""plot_history must write its PNG without touching the caller's matplotlib backend.

Regression: it called ``matplotlib.use("Agg")``, so after ``fit(...)`` in a notebook the inline backend was
replaced by Agg and every later ``plt.show()`` displayed nothing (notebooks/05 lost all its plots after training).
"""
import matplotlib
import pytest

from tinycnn.train import plot_history

HISTORY = [{"epoch": e, "train_loss": 1.0 / e, "test_loss": 1.1 / e, "train_accuracy": 0.5 + 0.1 * e,
            "test_accuracy": 0.45 + 0.1 * e} for e in (1, 2, 3)]


@pytest.fixture
def svg_backend():
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # any backend other than Agg stands in for a notebook's inline backend
    yield
    matplotlib.use(before)


def test_plot_history_keeps_the_callers_backend(svg_backend, tmp_path):
    path = tmp_path / "curves.png"
    plot_history(HISTORY, path, title="t")
    assert matplotlib.get_backend() == "svg"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
