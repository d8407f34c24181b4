"""tinycnn.train: checkpoints (round trip, atomic write, errors), fit on a slice of real MNIST, config errors."""

import json
import os

import numpy as np
import pytest

import tinycnn as tc
from tinycnn import rundata, train
from tinycnn.models import lenet5
from tinycnn.train import (CheckpointError, ConfigError, RunError, TrainConfig, evaluate, fit, load_checkpoint, predict,
                           save_checkpoint)

META = {"model": "lenet5", "model_args": {"num_classes": 10, "in_channels": 1}, "dataset": "mnist",
        "mean": 0.1307, "std": 0.3081}


def quiet(*args, **kwargs):
    pass


@pytest.fixture
def digits(rng):
    """Random uint8 'images' (no MNIST needed for checkpoint tests)."""
    return rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)


def model_with_seed(seed):
    tc.manual_seed(seed)
    return lenet5()


# ----- checkpoints -----

def test_checkpoint_round_trip_same_predictions(tmp_path, digits):
    model = model_with_seed(0)
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, model, {**META, "epoch": 3})
    loaded, meta = load_checkpoint(path)
    assert meta["epoch"] == 3 and meta["model"] == "lenet5"
    assert loaded is not model
    np.testing.assert_array_equal(predict(loaded, digits), predict(model, digits))
    for (name, a), (name2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert name == name2
        np.testing.assert_array_equal(a, b)
    # a differently seeded model predicts differently, so the equality above means something
    assert not np.array_equal(predict(model_with_seed(1), digits), predict(model, digits))


def test_checkpoint_keeps_model_args(tmp_path):
    tc.manual_seed(0)
    model = lenet5(num_classes=5, in_channels=3)
    path = tmp_path / "c.npz"
    save_checkpoint(path, model, {**META, "model_args": {"num_classes": 5, "in_channels": 3}})
    loaded, _ = load_checkpoint(path)
    assert loaded.num_parameters() == model.num_parameters()
    x = tc.Tensor(np.ones((1, 3, 28, 28), np.float32))
    np.testing.assert_array_equal(loaded.eval()(x).numpy(), model.eval()(x).numpy())


def test_successful_save_leaves_no_temporary_file(tmp_path):
    save_checkpoint(tmp_path / "checkpoint.npz", model_with_seed(0), META)
    save_checkpoint(tmp_path / "checkpoint.npz", model_with_seed(1), META)  # overwrite
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz"]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_checkpoint_write_is_atomic(tmp_path, digits, monkeypatch, failing):
    path = tmp_path / "checkpoint.npz"
    good = model_with_seed(0)
    save_checkpoint(path, good, META)
    good_bytes = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(f"simulated failure in os.{failing}")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(path, model_with_seed(1), META)
    monkeypatch.undo()

    assert path.read_bytes() == good_bytes  # the previous checkpoint is intact
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz"]  # and no temporary file is left behind
    loaded, _ = load_checkpoint(path)
    np.testing.assert_array_equal(predict(loaded, digits), predict(good, digits))


def test_load_checkpoint_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        load_checkpoint(tmp_path / "nothing.npz")


def test_load_checkpoint_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a tinycnn file"):
        load_checkpoint(path)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError):
        load_checkpoint(junk)


def test_load_checkpoint_shape_mismatch_is_an_error(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, lenet5(num_classes=5), META)  # meta claims 10 classes
    with pytest.raises(CheckpointError, match="size mismatch for 11.weight"):  # one line naming the file (PyTorch's RuntimeError inside)
        load_checkpoint(path)


# ----- config validation (no data needed: checked before loading) -----

@pytest.mark.parametrize("field, value, shown", [
    ("epochs", 0, "0"), ("epochs", 2.0, "2.0 (a float)"), ("batch_size", 0, "0"), ("batch_size", "64", "'64' (a str)"),
    ("lr", 0.0, "0.0"), ("lr", -0.1, "-0.1"), ("lr", float("nan"), "nan"), ("lr", "0.1", "'0.1' (a str)"),
    ("momentum", -1.0, "-1.0"), ("weight_decay", float("inf"), "inf"), ("optimizer", "rmsprop", "'rmsprop'"),
    ("schedule", "linear", "'linear'"), ("dataset", "svhn", "'svhn'"), ("device", "gpu", "'gpu'"),
    ("augment", "mixup", "'mixup'"), ("verify", "no", "'no' (a str)"),
    ("seed", -1, "-1"), ("train_limit", 0, "0"), ("train_limit", -5, "-5"), ("test_limit", 0, "0"),
    ("progress", "yes", "'yes' (a str)"), ("model", "nope", "'nope'"), ("out", "", "'' (a str)"),
])
def test_bad_config_names_the_field_and_value(tmp_path, monkeypatch, field, value, shown):
    monkeypatch.setattr(rundata, "load_dataset", lambda *a, **k: pytest.fail("data loaded before validation"))
    config = TrainConfig(**{"out": str(tmp_path / "run"), "progress": False, field: value})
    with pytest.raises(ValueError) as info:
        fit(config, log=quiet)
    message = str(info.value)
    assert message.startswith(f"{field} must"), message
    assert message.endswith(f"got {shown}"), message
    assert "'batch_size':" not in message  # the bad value, not the whole config
    assert not (tmp_path / "run").exists()  # nothing written for a config that cannot run


def test_resume_and_overwrite_together_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="overwrite cannot be combined with resume"):
        fit(TrainConfig(out=str(tmp_path), resume=True, overwrite=True), log=quiet)


@pytest.fixture
def no_data(monkeypatch):
    monkeypatch.setattr(rundata, "load_dataset", lambda *a, **k: pytest.fail("data loaded before the folder checks"))


def test_missing_data_dir_is_an_error_before_loading(tmp_path, no_data):
    with pytest.raises(ConfigError, match="data_dir must be an existing folder .it does not exist.") as err:
        fit(TrainConfig(out=str(tmp_path / "run"), data_dir=str(tmp_path / "nonexistent")), log=quiet)
    assert str(tmp_path / "nonexistent") in str(err.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_unwritable_out_is_an_error_before_loading(tmp_path, no_data, where):
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if where == "a file" else tmp_path / "f" / "run"
    with pytest.raises(ConfigError, match="^out must be a folder") as err:
        fit(TrainConfig(out=str(out), progress=False), log=quiet)
    assert str(out) in str(err.value)


def test_a_folder_holding_a_run_is_refused(tmp_path, no_data):
    save_checkpoint(tmp_path / "checkpoint.npz", model_with_seed(0), {**META, "epoch": 4, "test_accuracy": 0.5,
                                                                    "config": {"epochs": 10}})
    before = (tmp_path / "checkpoint.npz").read_bytes()
    with pytest.raises(RunError) as err:
        fit(TrainConfig(out=str(tmp_path), progress=False), log=quiet)
    message = str(err.value)
    assert message.startswith(f"{tmp_path} already holds a run (lenet5, epoch 4 of 10, test accuracy 50.00%)")
    assert "--resume" in message and "--overwrite" in message and "--out" in message
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    (tmp_path / "checkpoint.npz").unlink()
    (tmp_path / "metrics.json").write_text("{}")  # any result file counts
    with pytest.raises(RunError, match="already holds a run .metrics.json."):
        fit(TrainConfig(out=str(tmp_path), progress=False), log=quiet)


def test_resume_refuses_what_it_cannot_continue(tmp_path, no_data):
    save_checkpoint(tmp_path / "checkpoint.npz", model_with_seed(0), {**META, "epoch": 1})  # weights only
    with pytest.raises(CheckpointError, match="holds weights only"):
        fit(TrainConfig(out=str(tmp_path), resume=True, progress=False), log=quiet)
    (tmp_path / "checkpoint.npz").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="checkpoint.npz: not a tinycnn checkpoint"):
        fit(TrainConfig(out=str(tmp_path), resume=True, progress=False), log=quiet)
    (tmp_path / "checkpoint.npz").unlink()
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(RunError, match="checkpoint.npz is missing"):
        fit(TrainConfig(out=str(tmp_path), resume=True, progress=False), log=quiet)


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    from tinycnn._fileio import remove_stale_temporaries

    dead = tmp_path / ".checkpoint.npz.999999999.abc123.tmp"  # no such pid
    alive = tmp_path / f".checkpoint.npz.{os.getpid()}.def456.tmp"  # a live writer's: kept
    other = tmp_path / ".notes.txt.999999999.abc.tmp"  # not a run file
    for path in (dead, alive, other):
        path.write_bytes(b"partial")
    assert remove_stale_temporaries(tmp_path, train.RUN_FILES) == [dead]
    assert not dead.exists() and alive.exists() and other.exists()


# ----- fit on real MNIST -----

@pytest.mark.network
def test_fit_writes_checkpoint_metrics_and_curves(tmp_path):
    from tinycnn.data import load_mnist

    lines = []
    result = fit(TrainConfig(train_limit=2000, test_limit=500, epochs=1, progress=False, out=str(tmp_path)),
                 log=lines.append)
    for name in ("checkpoint.npz", "metrics.json", "curves.png"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert len(metrics["history"]) == 1
    entry = metrics["history"][0]
    for key in ("train_loss", "test_accuracy", "seconds", "images_per_second"):
        assert key in entry, key
    assert np.isfinite(entry["train_loss"]) and entry["train_loss"] > 0
    assert 0.0 <= entry["test_accuracy"] <= 1.0
    assert entry["seconds"] > 0
    assert entry["images_per_second"] == pytest.approx(2000 / entry["seconds"], rel=1e-6)
    assert metrics["test_accuracy"] == entry["test_accuracy"] == result["test_accuracy"]
    assert metrics["parameters"] == 61_706
    assert metrics["config"]["train_limit"] == 2000
    assert any("test accuracy" in line for line in lines)

    # the checkpoint reproduces the reported accuracy on the same 500 test images
    model, meta = load_checkpoint(tmp_path / "checkpoint.npz")
    assert meta["epoch"] == 1
    images, labels = load_mnist("test")
    _, acc = evaluate(model, images[:500], labels[:500], mean=meta["mean"], std=meta["std"])
    assert acc == entry["test_accuracy"]


@pytest.mark.network
def test_fit_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "plot_history", quiet)  # plotting is tested above; here it would only cost time

    def run(out):
        config = TrainConfig(train_limit=600, test_limit=200, epochs=2, batch_size=64, progress=False,
                             out=str(out), seed=3)
        return fit(config, log=quiet)

    a, b = run(tmp_path / "a"), run(tmp_path / "b")
    keys = ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr")
    assert [[h[k] for k in keys] for h in a["history"]] == [[h[k] for k in keys] for h in b["history"]]
    wa, _ = load_checkpoint(tmp_path / "a" / "checkpoint.npz")
    wb, _ = load_checkpoint(tmp_path / "b" / "checkpoint.npz")
    for x, y in zip(wa.state_dict().values(), wb.state_dict().values()):
        np.testing.assert_array_equal(x, y)
    # the cosine schedule over 2 epochs: lr 0.05 in epoch 1, 0.05 * (1 + cos(pi / 2)) / 2 = 0.025 in epoch 2
    assert [h["lr"] for h in a["history"]] == pytest.approx([0.05, 0.025])


@pytest.mark.network
def test_fit_different_seed_differs(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "plot_history", quiet)

    def run(seed):
        config = TrainConfig(train_limit=300, test_limit=100, epochs=1, progress=False,
                             out=str(tmp_path / str(seed)), seed=seed)
        return fit(config, log=quiet)["history"][0]["train_loss"]

    assert run(0) != run(1)


@pytest.mark.network
def test_interrupt_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    calls = []
    real_evaluate = train.evaluate

    def interrupt_on_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train, "evaluate", interrupt_on_second_epoch)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        fit(TrainConfig(train_limit=256, test_limit=64, epochs=3, progress=False, out=str(tmp_path)),
            log=lines.append)
    _, meta = load_checkpoint(tmp_path / "checkpoint.npz")
    assert meta["epoch"] == 1
    assert any("last good checkpoint" in line and "(epoch 1)" in line for line in lines)
    metrics = json.loads((tmp_path / "metrics.json").read_text())  # the history of the finished epoch is kept
    assert [h["epoch"] for h in metrics["history"]] == [1] and metrics["finished"] is False
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    # no temporary file, no lock, and the settings file went with the first checkpoint, which holds them
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "curves.png", "metrics.json"]


# ----- same seed, same numbers: whatever wraps the loader, however many threads, across a resume -----

def numbers(result, out):
    """What must be bit-identical between equal runs: the history without timings, and every weight."""
    history = [{k: v for k, v in h.items() if k not in train.TIMING_FIELDS} for h in result["history"]]
    model, _ = load_checkpoint(out / "checkpoint.npz")
    return history, model.state_dict()


def assert_same_numbers(a, b):
    assert a[0] == b[0]
    assert list(a[1]) == list(b[1])
    for name in a[1]:
        np.testing.assert_array_equal(a[1][name], b[1][name], err_msg=name)


SMALL_RUN = dict(train_limit=640, test_limit=100, epochs=2, batch_size=64, seed=5)


@pytest.mark.network
def test_progress_bar_and_threads_do_not_change_the_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "plot_history", quiet)
    from tinycnn import backend

    monkeypatch.setattr(backend, "PARALLEL_MIN_BYTES", 0)  # let the threads split even these small copies

    def run(name, progress, threads):
        monkeypatch.setattr(backend, "_num_threads", threads)
        out = tmp_path / name
        return numbers(fit(TrainConfig(out=str(out), progress=progress, **SMALL_RUN), log=quiet), out)

    reference = run("plain", False, 1)
    assert_same_numbers(run("bar", True, 1), reference)   # tqdm calls iter() once more than the loop
    assert_same_numbers(run("threads", False, 2), reference)


def tiny_dropout_net(num_classes=10, in_channels=1):
    """A small registered model with dropout and batch norm: its masks and running statistics must repeat too."""
    from tinycnn import nn

    return nn.Sequential(nn.Conv2d(in_channels, 4, 5, stride=2), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Dropout(0.5), nn.Linear(4 * 12 * 12, num_classes))


@pytest.fixture
def tiny_model(monkeypatch):
    from tinycnn.models import MODELS, ModelSpec

    monkeypatch.setitem(MODELS, "tiny_dropout", ModelSpec(tiny_dropout_net, (1, 28, 28)))
    return "tiny_dropout"


@pytest.mark.network
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_after_an_interrupt_gives_the_uninterrupted_numbers(tmp_path, monkeypatch, tiny_model, optimizer):
    """In-process version (the subprocess ones, with real signals, are in test_faults.py): the momentum buffers or
    Adam's moments, the cosine schedule, the data order and the dropout masks of epoch 3 must all be restored."""
    monkeypatch.setattr(train, "plot_history", quiet)
    config = dict(SMALL_RUN, epochs=3, progress=False, model=tiny_model, optimizer=optimizer, lr=0.01)
    reference = numbers(fit(TrainConfig(out=str(tmp_path / "a"), **config), log=quiet), tmp_path / "a")
    other_seed = numbers(fit(TrainConfig(out=str(tmp_path / "c"), **{**config, "seed": 6}), log=quiet),
                         tmp_path / "c")
    assert other_seed[0] != reference[0]  # the comparison below can fail

    calls = []
    real_evaluate = train.evaluate

    def interrupt_in_epoch_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train, "evaluate", interrupt_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        fit(TrainConfig(out=str(tmp_path / "b"), **config), log=quiet)
    monkeypatch.setattr(train, "evaluate", real_evaluate)
    lines = []
    result = fit(TrainConfig(out=str(tmp_path / "b"), resume=True, **config), log=lines.append)
    assert any("resuming" in line and "after epoch 2 of 3" in line for line in lines)
    assert_same_numbers(numbers(result, tmp_path / "b"), reference)
    # resuming a finished run does nothing and says so
    lines.clear()
    again = fit(TrainConfig(out=str(tmp_path / "b"), resume=True, **config), log=lines.append)
    assert any("already finished" in line for line in lines)
    assert again["history"] == result["history"]


@pytest.mark.network
def test_resume_with_other_settings_is_refused_and_overwrite_replaces(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "plot_history", quiet)
    config = dict(SMALL_RUN, epochs=1, progress=False)
    fit(TrainConfig(out=str(tmp_path), **config), log=quiet)
    with pytest.raises(RunError, match=r"it was started with epochs=1 \(given 3\); seed=5 \(given 6\)"):
        fit(TrainConfig(out=str(tmp_path), resume=True, **{**config, "epochs": 3, "seed": 6}), log=quiet)
    lines = []
    result = fit(TrainConfig(out=str(tmp_path), overwrite=True, **{**config, "seed": 6}), log=lines.append)
    assert any(line.startswith(f"--overwrite: the earlier run in {tmp_path} (lenet5, epoch 1 of 1") for line in lines)
    assert any(line.startswith(f"replaced the earlier run in {tmp_path}") for line in lines)  # at its first checkpoint
    assert result["config"]["seed"] == 6
    assert load_checkpoint(tmp_path / "checkpoint.npz")[1]["config"]["seed"] == 6


def test_checkpoints_of_an_older_tinycnn_still_load_with_a_warning(tmp_path, digits):
    """The format before checksums: np.savez of a JSON ``meta`` and ``param/NAME`` arrays."""
    model = model_with_seed(0)
    arrays = {f"param/{k}": v for k, v in model.state_dict().items()}
    arrays["meta"] = np.frombuffer(json.dumps({**META, "epoch": 10}).encode(), dtype=np.uint8)
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.warns(UserWarning, match="older tinycnn, without checksums"):
        loaded, meta = load_checkpoint(tmp_path / "old.npz")
    assert meta["epoch"] == 10
    np.testing.assert_array_equal(predict(loaded, digits), predict(model, digits))
