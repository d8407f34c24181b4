"""Hand-edited checkpoints (tinycnn.load, change one field, tinycnn.save), given to --resume and to evaluate: each
is one line naming the file and what is wrong, exit 2, no traceback, and nothing trained (R1's findings 4 and 5)."""

import shutil

import numpy as np
import pytest

import tinycnn as tc
from tinycnn import rundata, train
from tinycnn.cli import main
from tinycnn.train import TrainConfig, fit

RUN = dict(model="lenet5", epochs=2, train_limit=128, test_limit=64, batch_size=64, seed=3, progress=False)


@pytest.fixture(scope="module")
def resumable(tmp_path_factory):
    """A real run of 2 epochs stopped after epoch 1: its folder (checkpoint, metrics.json, curves.png)."""
    out = tmp_path_factory.mktemp("resumable") / "run"
    calls = []
    real_evaluate = train.evaluate

    def stop_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train, "plot_history", lambda *a, **k: None)
        mp.setattr(train, "evaluate", stop_in_epoch_2)
        with pytest.raises(KeyboardInterrupt):
            fit(TrainConfig(out=str(out), **RUN), log=lambda *a: None)
    assert tc.load(out / "checkpoint.npz")["meta"]["epoch"] == 1
    return out


def _edited(src, tmp_path, edit):
    out = tmp_path / "run"
    shutil.copytree(src, out)
    checkpoint = tc.load(out / "checkpoint.npz")
    edit(checkpoint)
    tc.save(checkpoint, out / "checkpoint.npz")
    return out


def _set(section, key, value):
    def edit(checkpoint):
        target = checkpoint if section is None else checkpoint[section]
        if value is _DELETE:
            del target[key]
        else:
            target[key] = value
    return edit


_DELETE = object()
TRAINING_CASES = {
    "config None": (_set("meta", "config", None), "'config' must be a dict"),
    "config a str": (_set("meta", "config", "x"), "'config' must be a dict"),
    "config with a bad value": (lambda c: c["meta"]["config"].update(epochs="2"), "recorded config is not valid"),
    "training a str": (_set(None, "training", "x"), "training state must be a dict"),
    "history a str": (_set("training", "history", "x"), "history must be a list"),
    "loader a str": (_set("training", "loader", "x"), "data loader state must be"),
    "loader empty": (_set("training", "loader", {}), "data loader state must be"),
    "optimizer a str": (_set("training", "optimizer", "x"), "optimizer state must be a dict"),
    "history lacking": (_set("training", "history", _DELETE), "training state lacks 'history'"),
    "history record without fields": (_set("training", "history", [{"foo": 1}]), "record 1 must hold the numbers"),
    "scheduler a str": (_set("training", "scheduler", "x"), "scheduler state must be a dict or None"),
    "scheduler None for cosine": (_set("training", "scheduler", None), "scheduler state does not fit"),
    "scheduler empty": (_set("training", "scheduler", {}), "scheduler state does not fit"),
    "scheduler last_epoch a str": (lambda c: c["training"]["scheduler"].update(last_epoch="1"),
                                   "scheduler state's 'last_epoch' must be like"),
    "optimizer of another model": (lambda c: c["training"]["optimizer"]["param_groups"][0].update(params=[0, 1]),
                                   "optimizer state does not fit"),
    "epoch -1": (_set("meta", "epoch", -1), "'epoch' must be an int >= 1"),
    "epoch a float": (_set("meta", "epoch", 1.0), "'epoch' must be an int >= 1"),
    "epoch 2 with 1 epoch of history": (_set("meta", "epoch", 2), "says epoch 2 but its training history holds 1"),
    "epoch beyond the run": (lambda c: (c["meta"].update(epoch=3), c["training"]["history"].extend(
        [dict(c["training"]["history"][0], epoch=2), dict(c["training"]["history"][0], epoch=3)])),
        "more than the run's 2 epochs"),
}


@pytest.mark.network  # the resumed run loads MNIST (from the cache) before it restores the optimizer
@pytest.mark.parametrize("case", list(TRAINING_CASES))
def test_resume_from_a_hand_edited_checkpoint_is_one_line_exit_2(resumable, tmp_path, capsys, monkeypatch, case):
    edit, expected = TRAINING_CASES[case]
    out = _edited(resumable, tmp_path, edit)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(train, "_outputs_and_loss", lambda *a: pytest.fail("a training step ran"))
    code = main(["train", "lenet5", "--out", str(out), "--resume", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if not line.startswith("[tinycnn] ")]  # the data loader's notes
    assert len(lines) == 1 and lines[0].startswith(f"tinycnn train: error: {out / 'checkpoint.npz'}: "), err
    assert expected in err, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing written


@pytest.mark.network
def test_the_unedited_checkpoint_resumes(resumable, tmp_path, capsys):
    """The control of the cases above: the copy itself, saved back unchanged, resumes and finishes."""
    out = _edited(resumable, tmp_path, lambda c: None)
    assert main(["train", "lenet5", "--out", str(out), "--resume", "--no-progress"]) == 0, capsys.readouterr().err
    assert tc.load(out / "checkpoint.npz")["meta"]["epoch"] == 2


def _meta_checkpoint(tmp_path, **changes):
    from tinycnn.models import lenet5

    tc.manual_seed(0)
    meta = {"model": "lenet5", "model_args": {"num_classes": 10, "in_channels": 1}, "dataset": "mnist",
            "mean": 0.1307, "std": 0.3081, "input_size": 28, "epoch": 1, **changes}  # as fit writes it
    path = tmp_path / "checkpoint.npz"
    train.save_checkpoint(path, lenet5(), meta)
    return path


META_CASES = {
    "dataset an int": (dict(dataset=3), "'dataset' must be one of 'mnist'"),
    "dataset unknown": (dict(dataset="nope"), "'dataset' must be one of"),
    "input_size a str": (dict(input_size="28"), "'input_size' must be 28 for lenet5 on mnist, got '28'"),
    "input_size too small": (dict(input_size=10), "'input_size' must be 28 for lenet5 on mnist, got 10"),
    "input_size too large": (dict(input_size=64), "'input_size' must be 28 for lenet5 on mnist, got 64"),
    "mean a str": (dict(mean="abc"), "'mean' must be a number, a list of numbers or a numeric array, got 'abc'"),
    "mean nan": (dict(mean=float("nan")), "'mean' must be finite"),
    "std zero": (dict(std=0.0), "'std' must be finite and > 0, got 0.0"),
    "std negative in a list": (dict(std=[0.3, -0.1, 0.2]), "'std' must be finite and > 0"),
    "model an int": (dict(model=5), "'model' must be a model name"),
    "model_args a list": (dict(model_args=[10]), "'model_args' must be a dict"),
    "epoch zero": (dict(epoch=0), "'epoch' must be an int >= 1"),
}


@pytest.mark.parametrize("case", list(META_CASES))
def test_evaluate_a_checkpoint_with_a_bad_metadata_value_is_one_line_exit_2(tmp_path, capsys, monkeypatch, case):
    changes, expected = META_CASES[case]
    path = _meta_checkpoint(tmp_path, **changes)
    monkeypatch.setattr(rundata, "load_dataset", lambda *a, **k: pytest.fail("data loaded for a bad checkpoint"))
    assert main(["evaluate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"tinycnn evaluate: error: {path}: ") and captured.err.count("\n") == 1, captured.err
    assert expected in captured.err, captured.err


def test_good_metadata_of_every_kind_is_accepted(tmp_path):
    """What fit writes: scalar, per-channel and per-pixel (a mean image) statistics; the checks refuse no real run."""
    for mean, std in ((0.1307, 0.3081), ([0.49, 0.48, 0.45], [0.25, 0.24, 0.26]),
                      (np.full((1, 28, 28), 0.1, np.float32), 1.0)):
        path = _meta_checkpoint(tmp_path, mean=mean, std=std)
        train.read_checkpoint(path)
