"""Faults injected for real into `tinycnn train` subprocesses: SIGTERM and SIGINT in the middle of an epoch,
SIGKILL and SIGTERM in the middle of a checkpoint write; then `--resume`, which must end bit-identical (weights,
metrics.json but its timings) to a run that was never interrupted. tests/fault_driver.py places each fault."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinycnn as tc

pytestmark = pytest.mark.network  # MNIST, from the cache or PyPI

REPO_ROOT = Path(__file__).resolve().parents[1]
DRIVER = str(Path(__file__).with_name("fault_driver.py"))
STEPS_PER_EPOCH = 12
ARGS = ["lenet5", "--epochs", "3", "--train-limit", str(64 * STEPS_PER_EPOCH), "--test-limit", "100",
        "--batch-size", "64", "--seed", "7", "--no-progress"]
TIMINGS = ("seconds", "images_per_second")


def _sigint_as_a_terminal_gives_it():
    # A shell starts background jobs with SIGINT ignored, and the child inherits that (tinycnn, like Python, then
    # leaves it ignored): give the run the default, as a terminal's Ctrl-C finds it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(mode, out, *extra, marker=None):
    # One BLAS and one tinycnn thread: on a busy 2-core machine threads that wait on each other run ~10x slower.
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TINYCNN_NO_MIRRORS": "1", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "TINYCNN_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, DRIVER, mode, str(marker or out.with_suffix(".marker")), *ARGS,
                             "--out", str(out), *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_sigint_as_a_terminal_gives_it)


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def run(mode, out, *extra):
    code, stdout, stderr = finish(start(mode, out, *extra))
    assert code == 0, stderr
    return stdout


def signal_when_marked(proc, marker: Path, signum, timeout=120):
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the fault point was never reached"
        time.sleep(0.02)
    proc.send_signal(signum)
    return finish(proc)


def temporaries(out: Path):
    return sorted(p.name for p in out.iterdir() if p.name.endswith(".tmp"))


def results(out: Path):
    """What must be bit-identical between a resumed run and an uninterrupted one."""
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["history"] = [{k: v for k, v in h.items() if k not in TIMINGS} for h in metrics["history"]]
    for key in ("train_seconds", "data_source", "checkpoint"):
        metrics.pop(key)
    metrics["config"].pop("out")
    checkpoint = tc.load(out / "checkpoint.npz")
    return metrics, checkpoint["model"], checkpoint["training"]["optimizer"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "uninterrupted"
    run("none", out)
    return results(out)


def assert_same_as(out: Path, reference):
    metrics, weights, optimizer = results(out)
    assert metrics == reference[0]
    assert metrics["epochs_done"] == 3 and metrics["finished"] is True
    for name, value in reference[1].items():
        np.testing.assert_array_equal(weights[name], value, err_msg=name)
    assert optimizer["state"].keys() == reference[2]["state"].keys()  # PyTorch's form: {param index: buffers}
    assert optimizer["state"], "the optimizer kept no state to compare"
    for index, theirs in reference[2]["state"].items():
        assert optimizer["state"][index].keys() == theirs.keys()
        for key in theirs:
            np.testing.assert_array_equal(optimizer["state"][index][key], theirs[key], err_msg=f"state {index} {key}")


def checkpoint_epoch(out: Path) -> int:
    return tc.load(out / "checkpoint.npz")["meta"]["epoch"]


@pytest.mark.parametrize("signum", [pytest.param(signal.SIGTERM, id="SIGTERM"),
                                    pytest.param(signal.SIGINT, id="SIGINT", marks=pytest.mark.slow)])
def test_signal_mid_epoch_keeps_the_last_checkpoint_and_resume_ends_identical(tmp_path, reference, signum):
    out = tmp_path / "run"
    marker = tmp_path / "marker"
    code, stdout, stderr = signal_when_marked(start(f"pause-step:{STEPS_PER_EPOCH + 4}", out, marker=marker),
                                              marker, signum)
    name = signal.Signals(signum).name
    assert code == 128 + signum, stderr
    assert f"interrupted by {name}; the last good checkpoint is {out / 'checkpoint.npz'} (epoch 1)" in stdout
    assert "Traceback" not in stderr and f"tinycnn train: interrupted by {name}" in stderr
    assert checkpoint_epoch(out) == 1
    assert json.loads((out / "metrics.json").read_text())["epochs_done"] == 1  # the history so far is kept
    assert temporaries(out) == []

    stdout = run("none", out, "--resume")
    assert "after epoch 1 of 3" in stdout
    assert_same_as(out, reference)


def test_kill_during_a_checkpoint_write_leaves_the_previous_one_and_resume_cleans_up(tmp_path, reference):
    out = tmp_path / "run"
    marker = tmp_path / "marker"
    code, _, _ = signal_when_marked(start("pause-write:2:120", out, marker=marker), marker, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert checkpoint_epoch(out) == 1  # the epoch-2 checkpoint was never renamed into place: epoch 1's is intact
    stale = temporaries(out)
    assert len(stale) == 1 and stale[0].startswith(".checkpoint.npz.")
    assert (out / stale[0]).stat().st_size > 0  # the killed writer's bytes, never read

    stdout = run("none", out, "--resume")
    assert f"removed {out / stale[0]}, left by an earlier run that was killed while writing" in stdout
    assert temporaries(out) == []
    assert_same_as(out, reference)


@pytest.mark.slow
def test_sigterm_during_a_checkpoint_write_lets_the_write_finish(tmp_path, reference):
    out = tmp_path / "run"
    marker = tmp_path / "marker"
    code, stdout, _ = signal_when_marked(start("pause-write:2:1.5", out, marker=marker), marker, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM
    assert checkpoint_epoch(out) == 2  # the write went through, then the run stopped
    assert json.loads((out / "metrics.json").read_text())["epochs_done"] == 2  # and the files agree
    assert "(epoch 2)" in stdout
    assert temporaries(out) == []
    run("none", out, "--resume")
    assert_same_as(out, reference)


@pytest.mark.slow
def test_sigterm_before_the_first_checkpoint_saves_only_the_settings_and_resume_starts_over(tmp_path, reference):
    out = tmp_path / "run"
    marker = tmp_path / "marker"
    code, stdout, _ = signal_when_marked(start("pause-step:3", out, marker=marker), marker, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM
    assert "interrupted by SIGTERM before the first epoch ended: nothing saved but the run's settings" in stdout
    assert sorted(os.listdir(out)) == [".tinycnn-settings.json"]
    run("none", out, "--resume")  # the run's own settings, from the start: the same as one never interrupted
    assert_same_as(out, reference)


# ----- R1's findings 3, 6, 17: a second run at once, a full disk, a signal during the final write -----

def test_a_second_run_into_the_same_folder_is_refused_and_the_lock_goes_with_the_signal(tmp_path):
    out = tmp_path / "run"
    marker = tmp_path / "marker"
    first = start("pause-step:3", out, marker=marker)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    code, stdout, stderr = finish(start("none", out, "--overwrite"))
    assert code == 2, stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("[tinycnn] ")]
    assert lines == [f"tinycnn train: error: {out} is in use by another tinycnn train run (pid {first.pid}): wait for "
                     f"it to end or give another --out (if no such run is going on, remove "
                     f"{out / '.tinycnn-train.lock'})"]
    first.send_signal(signal.SIGTERM)
    assert finish(first)[0] == 128 + signal.SIGTERM
    assert os.listdir(out) == [".tinycnn-settings.json"]  # the lock went with the interrupted run (its settings stay)


@pytest.mark.parametrize("name, good_epoch", [("checkpoint.npz", 1), ("metrics.json", 2)])
def test_a_full_disk_names_the_file_and_the_last_good_checkpoint(tmp_path, reference, name, good_epoch):
    out = tmp_path / "run"
    code, stdout, stderr = finish(start(f"enospc:{name}:2", out))
    assert code == 1 and "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("[tinycnn] ")]
    assert lines == [f"tinycnn train: error: could not write {out / name} (No space left on device); the last good "
                     f"checkpoint is {out / 'checkpoint.npz'} (epoch {good_epoch}); continue with --resume "
                     "(resume=True) once the problem is fixed"]
    assert checkpoint_epoch(out) == good_epoch
    assert temporaries(out) == [] and not (out / ".tinycnn-train.lock").exists()
    if name == "checkpoint.npz":
        run("none", out, "--resume")
        assert_same_as(out, reference)


def test_a_signal_during_the_final_write_lets_the_finished_run_end_as_finished(tmp_path, reference):
    """All three files hold the final epoch once the held signal would be raised: nothing is left to interrupt, so
    the run reports its accuracy and exits 0 (a scheduler's SIGTERM then sees a finished job, which it is)."""
    out = tmp_path / "run"
    marker = tmp_path / "marker"
    code, stdout, stderr = signal_when_marked(start("pause-write:3:1.5", out, marker=marker), marker, signal.SIGTERM)
    assert code == 0, stderr
    assert "SIGTERM came while the final epoch's files were written: they were completed, so the run has " \
           "finished" in stdout
    assert "test accuracy" in stdout.splitlines()[-1] and "after 3 epochs" in stdout.splitlines()[-1]
    assert "interrupted" not in stdout + stderr
    assert_same_as(out, reference)
    assert temporaries(out) == [] and not (out / ".tinycnn-train.lock").exists()
