"""The notebooks: each one executed top to bottom (slow), and each one's form checked (fast).

Execution uses nbclient with the "python3" kernel, in ``notebooks/`` as working directory, with ``CI=true`` so that
every notebook runs in its FAST mode (small data, few epochs) and ``MPLBACKEND=Agg`` so that plots render nowhere.
The kernel also gets one BLAS thread unless the caller set one (``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``):
with OpenBLAS's default of one thread per core, small matrix products on a busy 2-core machine ran LeNet-5 about
10x slower (147 vs 1,606 images/s measured here), which would blow the notebooks' time budget.

A notebook that reads MNIST needs the ``network`` marker as well (the data may have to be downloaded): list it in
``NEEDS_NETWORK``; one whose code calls ``load_mnist(`` is marked automatically too, and so is one that calls
``load_fashion_mnist(`` on a machine without Debian's package (it downloads the official files then; CI installs
the package). Notebook 09 uses CIFAR-10 only when it is already on the machine, and Fashion-MNIST otherwise. A failing notebook fails its
test with the failing cell's source and traceback.
"""
import os
import re
from pathlib import Path

import nbformat
import pytest

from tinycnn.data.mnist import FASHION_MNIST_DIR

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p.name for p in NB_DIR.glob("*.ipynb"))
NEEDS_NETWORK = {"05_lenet5_mnist.ipynb"}
CELL_TIMEOUT_S = 600
FAST_LINE = re.compile(r'^FAST\s*=\s*os\.environ\.get\("CI"\)\s*==\s*"true"', re.MULTILINE)


def _read(name):
    return nbformat.read(NB_DIR / name, as_version=4)


def _marks(name):
    marks = [pytest.mark.slow]
    source = "\n".join(c.source for c in _read(name).cells if c.cell_type == "code")
    fashion_download = "load_fashion_mnist(" in source and not os.path.isdir(FASHION_MNIST_DIR)
    if name in NEEDS_NETWORK or "load_mnist(" in source or fashion_download:
        marks.append(pytest.mark.network)
    return marks


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NB_DIR}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_form(name):
    """Valid nbformat 4, committed without outputs, opens with what you will learn, closes with exercises."""
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"{name}: cell {i} has stored outputs; strip them before committing"
            assert cell.execution_count is None, f"{name}: cell {i} has an execution count; strip it"
        assert not cell.get("attachments"), f"{name}: cell {i} has attachments (stored images)"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "What you will learn" in first.source, \
        f"{name}: the first cell must be markdown with 'What you will learn'"
    assert any(c.cell_type == "markdown" and re.search(r"^#+\s*Exercises", c.source, re.MULTILINE)
               for c in nb.cells), f"{name}: no 'Exercises' heading"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert FAST_LINE.search(first_code.source), \
        f'{name}: the first code cell must set FAST = os.environ.get("CI") == "true" ...'


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_readme_lists_notebook(name):
    readme = (NB_DIR / "README.md").read_text()
    assert f"({name})" in readme, f"notebooks/README.md has no link to {name}"


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in NOTEBOOKS])
def test_notebook_runs(name, monkeypatch):
    """Execute the notebook top to bottom in FAST mode; fail with the failing cell's error."""
    from nbclient import NotebookClient  # noqa: PLC0415 - only the slow tests need a kernel
    from nbclient.exceptions import CellExecutionError  # noqa: PLC0415

    nb = _read(name)
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, "1"))
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(NB_DIR)}})
    try:
        client.execute()
    except CellExecutionError as err:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # the kernel's traceback comes with terminal colours
        pytest.fail(f"{name} failed:\n{plain}", pytrace=False)
