"""The run folder's rules, in process: paths as os.PathLike, device names as torch's, --out '', the lock against a
second run, an --overwrite run that keeps the earlier run until its own first checkpoint, --resume of a finished run
that writes nothing (R1's findings 2, 3, 7, 8, 18, 19; the subprocess versions with real signals: test_faults.py)."""

import errno
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import tinycnn as tc
from tinycnn import rundata, runfolder, train
from tinycnn.cli import main
from tinycnn.train import ConfigError, RunError, TrainConfig, fit


def quiet(*args, **kwargs):
    pass


class DataReached(Exception):
    """Raised in place of loading the data: the run got past every check before it."""


@pytest.fixture
def no_data(monkeypatch):
    def load(*args, **kwargs):
        raise DataReached
    monkeypatch.setattr(rundata, "load_dataset", load)


# ----- #7: os.PathLike paths; #19: --out ''; #8: device names as torch.device takes them -----

def test_trainconfig_takes_pathlike_paths_and_records_them_as_str(tmp_path):
    config = TrainConfig(out=tmp_path / "run", data_dir=tmp_path, weights=None)
    assert config.out == str(tmp_path / "run") and isinstance(config.out, str)
    assert config.data_dir == str(tmp_path) and isinstance(config.data_dir, str)
    tc.save(train._recorded(config), tmp_path / "config.npz")  # what fit records after the first epoch


def test_cli_out_empty_is_refused_as_trainconfig_refuses_it(tmp_path, monkeypatch, capsys, no_data):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "lenet5", "--out", "", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == "tinycnn train: error: --out must be a non-empty path, got '' (a str)\n"
    assert not (tmp_path / "runs").exists()  # not silently runs/lenet5
    with pytest.raises(ConfigError, match="^out must be a non-empty path"):
        fit(TrainConfig(out=""), log=quiet)


@pytest.mark.parametrize("device", ["CPU", "Cpu", " cpu", "cuda:01", "gpu"])
def test_device_names_torch_refuses_are_refused_up_front(tmp_path, capsys, no_data, device):
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        torch.device(device)  # the ground truth
    with pytest.raises(SystemExit) as info:  # argparse's exit
        main(["train", "lenet5", "--out", str(tmp_path / "run"), "--device", device])
    assert info.value.code == 2
    assert f"argument --device: must be cpu, cuda or cuda:N, got {device!r}" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=f"^device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}$"):
        fit(TrainConfig(out=str(tmp_path / "run"), device=device), log=quiet)


@pytest.mark.parametrize("device", ["cpu", "cpu:0"])
def test_cpu_names_torch_accepts_run_on_the_cpu(tmp_path, no_data, device):
    torch = pytest.importorskip("torch")
    assert torch.device(device).type == "cpu"
    with pytest.raises(DataReached):  # past the device check: no "needs CuPy"
        fit(TrainConfig(out=str(tmp_path / "run"), device=device, progress=False), log=quiet)


# ----- #3: the lock -----

def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_folder_locked_by_a_live_run_is_refused_naming_it_and_the_pid(tmp_path, capsys, no_data):
    out = tmp_path / "run"
    out.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / runfolder.LOCK_NAME).write_text(f"{other.pid}\n")
        assert main(["train", "lenet5", "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err == (f"tinycnn train: error: {out} is in use by another tinycnn train run (pid {other.pid}): wait "
                       f"for it to end or give another --out (if no such run is going on, remove "
                       f"{out / runfolder.LOCK_NAME})\n")
        assert (out / runfolder.LOCK_NAME).read_text() == f"{other.pid}\n"  # the other run's lock is kept
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize("content", ["dead pid", "no pid"])
def test_a_stale_lock_is_removed_with_a_note_and_the_run_releases_its_own(tmp_path, no_data, content):
    out = tmp_path / "run"
    out.mkdir()
    pid = _dead_pid()
    (out / runfolder.LOCK_NAME).write_text(f"{pid}\n" if content == "dead pid" else "")
    lines = []
    with pytest.raises(DataReached):  # the run went on (and stopped at the data, an error exit)
        fit(TrainConfig(out=str(out), progress=False), log=lines.append)
    whose = f"of pid {pid}, which is no longer running" if content == "dead pid" else "holding no process id"
    assert f"removed {out / runfolder.LOCK_NAME}, a stale lock {whose}" in lines
    assert not (out / runfolder.LOCK_NAME).exists()  # released on the error path


def test_the_lock_holds_the_pid_while_training_and_is_removed_after(tmp_path, monkeypatch):
    seen = []

    def load(*args, **kwargs):
        seen.append((Path(tmp_path) / runfolder.LOCK_NAME).read_text())
        raise KeyboardInterrupt  # as a Ctrl-C while the data loads
    monkeypatch.setattr(rundata, "load_dataset", load)
    with pytest.raises(KeyboardInterrupt):
        fit(TrainConfig(out=str(tmp_path), progress=False), log=quiet)
    assert seen == [f"{os.getpid()}\n"]
    assert os.listdir(tmp_path) == [runfolder.SETTINGS]  # the lock is gone; the settings wait for a --resume


# ----- #2: --overwrite keeps the earlier run until its first checkpoint -----

def _earlier_run(out: Path) -> dict:
    from tinycnn.models import lenet5

    out.mkdir(parents=True, exist_ok=True)
    train.save_checkpoint(out / "checkpoint.npz", lenet5(), {
        "model": "lenet5", "model_args": {"num_classes": 10, "in_channels": 1}, "dataset": "mnist", "mean": 0.1307,
        "std": 0.3081, "epoch": 10, "test_accuracy": 0.9911, "config": {"epochs": 10}})
    (out / "metrics.json").write_text(json.dumps({"test_accuracy": 0.9911}))
    (out / "curves.png").write_bytes(b"\x89PNG\r\n\x1a\n earlier")
    return {p.name: p.read_bytes() for p in out.iterdir()}


def test_overwrite_keeps_the_earlier_run_when_stopped_before_its_first_checkpoint(tmp_path, monkeypatch):
    earlier = _earlier_run(tmp_path)

    def load(*args, **kwargs):  # the files must still be there once the data has loaded (they used to go then)
        raise KeyboardInterrupt
    monkeypatch.setattr(train, "prepare", load)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        fit(TrainConfig(out=str(tmp_path), overwrite=True, progress=False), log=lines.append)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == earlier
    assert lines[-1] == (f"interrupted by SIGINT before the first epoch ended: nothing of this run saved; the earlier "
                         f"run in {tmp_path} (lenet5, epoch 10 of 10, test accuracy 99.11%) is left as it was")


# ----- #18: --resume of a finished run writes nothing -----

@pytest.mark.network
def test_resume_of_a_finished_run_writes_nothing_even_read_only(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    args = ["train", "lenet5", "--epochs", "1", "--train-limit", "128", "--test-limit", "64", "--out", str(out),
            "--no-progress"]
    assert main(args) == 0
    accuracy = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    capsys.readouterr()
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}

    def read_only(*args, **kwargs):  # every way tinycnn writes into a folder: as if it were read-only
        raise PermissionError(errno.EACCES, "Permission denied")
    real_open = os.open
    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    monkeypatch.setattr(os, "open", lambda path, flags, *a: read_only() if flags & os.O_CREAT else
                        real_open(path, flags, *a))
    os.chmod(out, 0o555)  # read-only for real too, when the tests do not run as root
    try:
        assert main(["train", "lenet5", "--out", str(out), "--resume", "--data-dir", str(tmp_path)]) == 0
    finally:
        os.chmod(out, 0o755)
    stdout = capsys.readouterr().out
    assert f"the run in {out} has already finished its 1 epochs: nothing to do" in stdout
    assert f"test accuracy {100 * accuracy:.2f}% after 1 epochs" in stdout
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


@pytest.mark.network
def test_resume_of_a_finished_run_rewrites_metrics_that_are_behind_its_checkpoint(tmp_path, capsys):
    """A write of metrics.json that failed after the last checkpoint (a full disk): resume repairs it."""
    out = tmp_path / "run"
    args = ["train", "lenet5", "--epochs", "1", "--train-limit", "128", "--test-limit", "64", "--out", str(out),
            "--no-progress"]
    assert main(args) == 0
    good = json.loads((out / "metrics.json").read_text())
    (out / "metrics.json").write_text(json.dumps({**good, "epochs_done": 0, "history": []}))
    assert main(["train", "lenet5", "--out", str(out), "--resume"]) == 0
    assert "rewrote" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["history"] == good["history"]
    assert not (out / runfolder.LOCK_NAME).exists()


# ----- a run stopped before its first checkpoint: --resume starts it again with its own settings -----

@pytest.fixture
def configs(monkeypatch):
    """The resolved config of each run that gets as far as loading its data (which is then stopped, as Ctrl-C)."""
    seen = []

    def prepare(config):
        seen.append(config)
        raise KeyboardInterrupt
    monkeypatch.setattr(train, "prepare", prepare)
    return seen


def test_resume_before_the_first_checkpoint_keeps_the_runs_settings(tmp_path, configs, capsys):
    """R-review: a fine-tune stopped in its first epoch, then `tinycnn train MODEL --out DIR --resume`, became a
    new default MNIST run: the settings were only ever stored in the checkpoint."""
    out = str(tmp_path / "run")
    first = ["train", "lenet5", "--dataset", "fashion-mnist", "--epochs", "3", "--lr", "0.01", "--seed", "7",
             "--train-limit", "64", "--no-progress", "--out", out]
    assert main(first) == 130
    assert "nothing saved but the run's settings; --resume (resume=True) starts it again" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == [runfolder.SETTINGS]
    assert main(["train", "lenet5", "--out", out, "--resume", "--no-progress"]) == 130
    assert "stopped before its first epoch ended; starting it again with its settings" in capsys.readouterr().out
    a, b = configs
    assert (b.dataset, b.epochs, b.lr, b.seed, b.train_limit) == ("fashion-mnist", 3, 0.01, 7, 64)
    assert train._recorded(a) == {**train._recorded(b), "progress": a.progress}


def test_resume_before_the_first_checkpoint_with_other_settings_is_refused(tmp_path, configs):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        fit(TrainConfig(out=str(out), dataset="fashion-mnist", epochs=3, progress=False), log=quiet)
    with pytest.raises(RunError, match=r"started with dataset='fashion-mnist' \(given 'mnist'\).*stopped before "
                                       r"its first checkpoint"):
        fit(TrainConfig(out=str(out), epochs=3, progress=False, resume=True), log=quiet)
    assert len(configs) == 1


def test_without_resume_a_folder_holding_only_settings_takes_a_new_run(tmp_path, configs):
    """Nothing is lost by replacing the settings of a run that saved no epoch: no --overwrite needed."""
    out = tmp_path / "run"
    for dataset in ("fashion-mnist", "mnist"):
        with pytest.raises(KeyboardInterrupt):
            fit(TrainConfig(out=str(out), dataset=dataset, progress=False), log=quiet)
    assert json.loads((out / runfolder.SETTINGS).read_text())["config"]["dataset"] == "mnist"


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"format": "other", "config": {}}', b"\xff\xfe"])
def test_a_damaged_settings_file_is_one_error_naming_it(tmp_path, configs, capsys, content):
    out = tmp_path / "run"
    out.mkdir()
    (out / runfolder.SETTINGS).write_bytes(content)
    assert main(["train", "lenet5", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"tinycnn train: error: {out / runfolder.SETTINGS}: ") and "\n" not in err
    assert configs == []
