"""tinycnn.train: checkpoints (round trip, atomic write, errors), fit on a slice of real MNIST, config errors."""

import json
import os

import numpy as np
import pytest

import tinycnn as tc
from tinycnn import train
from tinycnn.models import lenet5
from tinycnn.train import TrainConfig, evaluate, fit, load_checkpoint, predict, save_checkpoint

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

    monkeypatch.setattr(train.os, failing, boom)
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
    with pytest.raises(ValueError, match="not a tinycnn checkpoint"):
        load_checkpoint(path)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError):
        load_checkpoint(junk)


def test_load_checkpoint_shape_mismatch_is_an_error(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, lenet5(num_classes=5), META)  # meta claims 10 classes
    with pytest.raises(RuntimeError, match="size mismatch for 11.weight"):  # PyTorch's error (ValueError before)
        load_checkpoint(path)


# ----- config validation (no data needed: checked before loading) -----

@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("batch_size", 0), ("lr", 0.0), ("lr", -0.1), ("optimizer", "rmsprop"),
    ("schedule", "linear"), ("dataset", "cifar10"), ("device", "gpu"),
])
def test_bad_config_names_the_field(tmp_path, field, value):
    config = TrainConfig(out=str(tmp_path / "run"), progress=False, **{field: value})
    with pytest.raises(ValueError) as info:
        fit(config, log=quiet)
    message = str(info.value)
    # the message starts with the field (it then lists the whole config, which names every field)
    assert message.startswith(f"{field} must"), message
    assert not (tmp_path / "run").exists()  # nothing written for a config that cannot run


def test_unknown_model_is_a_key_error(tmp_path):
    with pytest.raises(KeyError, match="lenet5"):
        fit(TrainConfig(model="nope", out=str(tmp_path)), log=quiet)


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
    assert any("last good checkpoint" in line for line in lines)
    assert not (tmp_path / "metrics.json").exists()
