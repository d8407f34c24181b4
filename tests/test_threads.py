"""The thread pool behind im2col / col2im: chunks cover the range once, errors come back, results do not depend on
the number of threads."""

import os
import threading
import time

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.functional as F
from tinycnn import backend


@pytest.fixture
def threads():
    """Set tinycnn's thread count for one test and restore the default afterwards."""
    saved = backend._num_threads

    def set_to(n):
        backend.set_num_threads(n)

    yield set_to
    backend._num_threads = saved
    backend._drop_pool()


@pytest.mark.parametrize("n_threads, count", [(1, 5), (2, 5), (3, 2), (4, 17)])
def test_parallel_for_covers_every_index_once(threads, n_threads, count):
    threads(n_threads)
    hits = np.zeros(count, dtype=int)
    chunks = []

    def work(start, stop):
        chunks.append((start, stop))
        hits[start:stop] += 1

    backend.parallel_for(count, work, nbytes=backend.PARALLEL_MIN_BYTES)
    np.testing.assert_array_equal(hits, np.ones(count, dtype=int))
    assert len(chunks) == min(n_threads, count)  # one chunk per thread


def test_parallel_for_runs_small_work_inline(threads):
    threads(4)
    seen = []
    backend.parallel_for(8, lambda a, b: seen.append((a, b, threading.get_ident())), nbytes=10)
    assert seen == [(0, 8, threading.get_ident())]


def test_parallel_for_reraises_a_worker_error(threads):
    threads(2)

    def work(start, stop):
        if start > 0:
            raise KeyError("from the worker")

    with pytest.raises(KeyError, match="from the worker"):
        backend.parallel_for(2, work, nbytes=backend.PARALLEL_MIN_BYTES)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_set_num_threads_rejects_non_positive_ints(bad):
    with pytest.raises(ValueError, match="set_num_threads: n must be an int >= 1"):
        backend.set_num_threads(bad)


def test_environment_variable_sets_the_default(threads, monkeypatch):
    backend._num_threads = None
    monkeypatch.setenv("TINYCNN_NUM_THREADS", "3")
    assert backend.get_num_threads() == 3
    monkeypatch.setenv("TINYCNN_NUM_THREADS", "zero")  # unreadable: an error naming it (tests/test_environment.py)
    with pytest.raises(ValueError, match="TINYCNN_NUM_THREADS must be an integer >= 1 .*got 'zero'"):
        backend.get_num_threads()
    monkeypatch.setenv("TINYCNN_NUM_THREADS", "")  # empty: the CPUs this process may use
    assert backend.get_num_threads() == len(os.sched_getaffinity(0))


def test_conv2d_gives_identical_results_on_one_and_on_four_threads(threads, monkeypatch):
    # big enough to be split (PARALLEL_MIN_BYTES lowered), both im2col (by kernel offset) and col2im (by channel)
    monkeypatch.setattr(backend, "PARALLEL_MIN_BYTES", 1)
    rng = np.random.default_rng(0)
    x_np, w_np = rng.standard_normal((3, 6, 9, 9)), rng.standard_normal((4, 6, 3, 3))
    results = []
    for n in (1, 4):
        threads(n)
        x, w = tc.Tensor(x_np, requires_grad=True), tc.Tensor(w_np, requires_grad=True)
        y = F.conv2d(x, w, stride=2, padding=1)
        y.backward(np.cos(np.arange(y.numel())).reshape(y.shape))
        results.append((y.numpy(), x.grad.numpy(), w.grad.numpy()))
    for one, four in zip(*results):
        np.testing.assert_array_equal(one, four)  # each element is summed in the same order: bitwise equal


@pytest.mark.parametrize("kernel_size, stride, padding", [(3, 2, 1), (2, 2, 0)])
def test_max_pool2d_gives_identical_results_on_one_and_on_four_threads(threads, monkeypatch, kernel_size, stride,
                                                                      padding):
    monkeypatch.setattr(backend, "PARALLEL_MIN_BYTES", 1)
    x_np = np.random.default_rng(1).integers(0, 3, (2, 5, 7, 7)).astype(np.float64)  # many ties
    results = []
    for n in (1, 4):
        threads(n)
        x = tc.Tensor(x_np, requires_grad=True)
        y = F.max_pool2d(x, kernel_size, stride, padding)
        y.backward(np.cos(np.arange(y.numel())).reshape(y.shape))
        results.append((y.numpy(), x.grad.numpy()))
    for one, four in zip(*results):
        np.testing.assert_array_equal(one, four)


def test_thread_count_is_public_as_in_pytorch(threads):
    threads(3)
    assert tc.get_num_threads() == backend.get_num_threads() == 3
    tc.set_num_threads(1)
    assert tc.get_num_threads() == 1


def test_parallel_for_waits_for_every_worker_when_the_calling_thread_fails(threads):
    # the workers write into buffers the next call reuses: none may still run once parallel_for has returned
    threads(2)
    done = []

    def work(start, stop):
        if start == 0:
            raise KeyboardInterrupt  # the calling thread's chunk (a Ctrl-C in a notebook)
        time.sleep(0.2)
        done.append(start)

    with pytest.raises(KeyboardInterrupt):
        backend.parallel_for(2, work, nbytes=backend.PARALLEL_MIN_BYTES)
    assert done == [1]


def test_set_num_threads_while_another_thread_computes(threads, monkeypatch):
    monkeypatch.setattr(backend, "PARALLEL_MIN_BYTES", 1)
    threads(2)
    errors = []

    def convolve():
        try:
            for _ in range(30):
                F.conv2d(tc.Tensor(np.ones((2, 3, 8, 8))), tc.Tensor(np.ones((4, 3, 3, 3))), padding=1)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=convolve)
    worker.start()
    for n in (1, 2, 3, 2) * 5:
        backend.set_num_threads(n)
    worker.join()
    assert errors == []
