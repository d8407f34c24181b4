# tinycnn developer tasks (GNU make). Needs only Python 3.10+ with venv and pip; everything goes into .venv/.
# Extra arguments go through ARGS, e.g.  make train ARGS="--epochs 2"   make test ARGS="-k conv -x"

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The PyTorch peer, pinned exactly (an unpinned torch is a multi-GB CUDA build); same pin as setup.cfg's `peer`.
TORCH  := torch==2.13.0

.DEFAULT_GOAL := help
.PHONY: help install train test test-fast peer bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# The venv, made once (with a current pip, for editable installs); the stamp re-installs the package
# whenever its metadata changes.
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv --upgrade-deps $(VENV)
	$(BIN)/pip install -e '.[test]'
	touch $@

install: $(STAMP)  ## create .venv and install tinycnn (editable) with the test tools

# Run again, `make train` continues the run in runs/lenet5 (--resume): an interrupted run goes on from its last
# checkpoint, a finished one only reports its accuracy. A new run: make train ARGS=--overwrite (or --out DIR).
train: $(STAMP)  ## train LeNet-5 on MNIST (again: continue or report runs/lenet5; ARGS=--overwrite starts over)
	$(BIN)/tinycnn train lenet5 $(if $(filter --overwrite,$(ARGS)),,--resume) $(ARGS)

test: $(STAMP)  ## the WHOLE test suite, slow tests included (what CI runs)
	$(BIN)/python -m pytest $(ARGS)

test-fast: $(STAMP)  ## the test suite without the slow tests
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

peer: $(STAMP)  ## add PyTorch (CPU build) so the comparison tests run instead of skipping
	$(BIN)/pip install '$(TORCH)'

bench: $(STAMP)  ## run the benchmarks
	$(BIN)/python benchmarks/run.py $(ARGS)

clean:  ## remove the venv, build outputs and caches (not runs/)
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
