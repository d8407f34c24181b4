"""The command line: summary, train, evaluate, argument errors, and ``python -m tinycnn``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinycnn
from tinycnn.cli import main
from tinycnn.recipes import resolve

REPO_ROOT = Path(tinycnn.__file__).resolve().parent.parent


def test_summary_prints_totals(capsys):
    assert main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "total parameters: 61,706" in out
    assert "total MACs per image: 416,520" in out
    assert "Conv2d" in out and "Linear" in out


def test_summary_with_input_and_num_classes(capsys):
    assert main(["summary", "lenet5", "--input", "3,28,28", "--num-classes", "5"]) == 0
    out = capsys.readouterr().out
    # conv1 gains 6*2*25 weights for two more input channels; the output layer loses 5 rows of 84 + 1
    assert f"total parameters: {61_706 + 6 * 2 * 25 - 5 * (84 + 1):,}" in out


def test_summary_input_that_does_not_fit_returns_2(capsys):
    assert main(["summary", "lenet5", "--input", "1,20,20"]) == 2
    err = capsys.readouterr().err
    assert "tinycnn summary: error" in err


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["train"],
    ["train", "no_such_model"],
    ["train", "lenet5", "--epochs", "two"],
    ["train", "lenet5", "--optimizer", "rmsprop"],
    ["summary", "lenet5", "--input", "1,28"],
    ["summary", "lenet5", "--input", "0,28,28"],
    ["evaluate"],
])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "summary"):
        assert command in out


def test_evaluate_missing_checkpoint_returns_2(tmp_path, capsys):
    missing = tmp_path / "nope.npz"
    assert main(["evaluate", str(missing)]) == 2
    captured = capsys.readouterr()
    assert "nope.npz" in captured.err and "error" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("argv, message", [
    (["train", "lenet5", "--epochs", "0"], "argument --epochs: must be an integer >= 1, got '0'"),
    (["train", "lenet5", "--train-limit", "0"], "argument --train-limit: must be an integer >= 1, got '0'"),
    (["train", "lenet5", "--train-limit", "-5"], "argument --train-limit: must be an integer >= 1, got '-5'"),
    (["train", "lenet5", "--batch-size", "0"], "argument --batch-size: must be an integer >= 1, got '0'"),
    (["train", "lenet5", "--lr", "0"], "argument --lr: must be a finite number > 0, got '0'"),
    (["train", "lenet5", "--lr", "nan"], "argument --lr: must be a finite number > 0, got 'nan'"),
    (["train", "lenet5", "--momentum", "-1"], "argument --momentum: must be a finite number >= 0, got '-1'"),
    (["train", "lenet5", "--seed", "-1"], "argument --seed: must be an integer >= 0, got '-1'"),
    (["train", "lenet5", "--device", "gpu"], "argument --device: must be cpu, cuda or cuda:N, got 'gpu'"),
    (["train", "lenet5", "--data-dir", "/nonexistent"],
     "argument --data-dir: must be an existing folder, got '/nonexistent' (it does not exist)"),
    (["train", "lenet5", "--resume", "--overwrite"], "argument --overwrite: not allowed with argument --resume"),
    (["evaluate", "c.npz", "--batch-size", "0"], "argument --batch-size: must be an integer >= 1, got '0'"),
    (["evaluate", "c.npz", "--device", "tpu"], "argument --device: must be cpu, cuda or cuda:N, got 'tpu'"),
    (["evaluate", "c.npz", "--data-dir", "/nonexistent"], "argument --data-dir: must be an existing folder"),
])
def test_bad_option_values_exit_2_naming_option_and_value(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_unwritable_out_exits_2_before_loading_data(tmp_path, capsys, monkeypatch):
    from tinycnn import rundata

    monkeypatch.setattr(rundata, "load_dataset", lambda *a, **k: pytest.fail("data loaded before the out check"))
    (tmp_path / "file").write_text("x")
    assert main(["train", "lenet5", "--out", str(tmp_path / "file" / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinycnn train: error: --out must be a folder tinycnn can write") and err.count("\n") == 1


# ----- evaluate: every way a checkpoint can be unreadable is one line naming the file, exit 2 -----

def _checkpoint(tmp_path, **meta_changes):
    import tinycnn as tc
    from tinycnn.models import lenet5
    from tinycnn.train import save_checkpoint

    tc.manual_seed(0)
    meta = {"model": "lenet5", "model_args": {"num_classes": 10, "in_channels": 1}, "dataset": "mnist",
            "mean": 0.1307, "std": 0.3081, "epoch": 1}
    meta.update(meta_changes)
    for key in [k for k, v in meta.items() if v is None]:
        del meta[key]
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, lenet5(), meta)
    return path


def _fault(tmp_path, kind):
    """A damaged checkpoint of the given kind: (path, what the message must say)."""
    path = tmp_path / "checkpoint.npz"
    if kind == "missing file":
        return path, "no such checkpoint file"
    if kind == "directory":
        path.mkdir()
        return path, "is a directory"
    if kind in ("text", "png", "empty"):
        path.write_bytes({"text": b"epoch 3: 99%\n", "png": b"\x89PNG\r\n\x1a\n" + bytes(64), "empty": b""}[kind])
        return path, {"text": "text starting", "png": "a PNG image", "empty": "an empty file"}[kind]
    good = _checkpoint(tmp_path)
    data = good.read_bytes()
    if kind == "truncated":
        good.write_bytes(data[:len(data) // 2])
        return good, "truncated or corrupted"
    if kind == "bit flip":
        flipped = bytearray(data)
        flipped[len(data) // 3] ^= 0x01  # inside the weights
        good.write_bytes(bytes(flipped))
        return good, "truncated or corrupted"
    if kind == "another model":
        return _checkpoint(tmp_path, model="resnet20"), "weights do not fit resnet20"
    if kind == "unknown model":
        return _checkpoint(tmp_path, model="lenet6"), "holds a model named 'lenet6', which this tinycnn does not know"
    if kind == "missing field":
        return _checkpoint(tmp_path, mean=None), "metadata lacks the field 'mean'"
    if kind == "a state dict":
        import tinycnn as tc
        from tinycnn.models import lenet5

        tc.save(lenet5().state_dict(), path)
        return path, "a tinycnn file but not a training checkpoint"
    raise AssertionError(kind)


FAULTS = ["missing file", "directory", "text", "png", "empty", "truncated", "bit flip", "another model",
          "unknown model", "missing field", "a state dict"]


@pytest.mark.parametrize("kind", FAULTS)
def test_evaluate_a_bad_checkpoint_says_one_line_and_exits_2(tmp_path, capsys, kind):
    path, expected = _fault(tmp_path, kind)
    assert main(["evaluate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"tinycnn evaluate: error: {path}: ")
    assert expected in captured.err and captured.err.count("\n") == 1, captured.err


def test_a_bad_checkpoint_in_a_real_process_gives_no_traceback(tmp_path):
    path, expected = _fault(tmp_path, "bit flip")
    proc = subprocess.run([sys.executable, "-m", "tinycnn", "evaluate", str(path)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and expected in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.network
def test_train_then_evaluate(tmp_path, capsys):
    from tinycnn.data import load_mnist
    from tinycnn.train import load_checkpoint, predict

    out = tmp_path / "run"
    code = main(["train", "lenet5", "--epochs", "1", "--train-limit", "1000", "--test-limit", "300",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    for name in ("checkpoint.npz", "metrics.json", "curves.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["train_limit"] == 1000 and metrics["config"]["test_limit"] == 300
    assert len(metrics["history"]) == 1
    capsys.readouterr()

    assert main(["evaluate", str(out / "checkpoint.npz")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    record = json.loads(lines[0])
    assert record["model"] == "lenet5"
    assert record["test_images"] == 10_000  # evaluate uses the whole test set
    assert 0.0 <= record["test_accuracy"] <= 1.0
    assert lines[1] == f"test accuracy {100 * record['test_accuracy']:.2f}% on 10000 images"

    # the same accuracy, computed plainly from the checkpoint's logits
    model, meta = load_checkpoint(out / "checkpoint.npz")
    images, labels = load_mnist("test")
    logits = predict(model, images, mean=meta["mean"], std=meta["std"])
    assert record["test_accuracy"] == pytest.approx(float(np.mean(logits.argmax(axis=1) == labels)))


def test_python_dash_m_summary(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.run([sys.executable, "-m", "tinycnn", "summary", "lenet5"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "total parameters: 61,706" in proc.stdout
    assert "total MACs per image: 416,520" in proc.stdout


def test_python_dash_m_bad_command_exits_2(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = subprocess.run([sys.executable, "-m", "tinycnn", "nonsense"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "usage" in proc.stderr


def test_resume_takes_the_runs_own_settings_for_options_not_given(tmp_path):
    from tinycnn.cli import _train_config, build_parser

    _checkpoint(tmp_path, config={"model": "lenet5", "epochs": 3, "train_limit": 640, "seed": 7, "lr": 0.01,
                                  "device": "cpu", "data_dir": "/elsewhere", "progress": True})
    args = build_parser().parse_args(["train", "lenet5", "--out", str(tmp_path), "--resume", "--no-progress"])
    config = _train_config(args)
    assert (config.epochs, config.train_limit, config.seed, config.lr) == (3, 640, 7, 0.01)
    assert config.data_dir is None and config.progress is False and config.resume is True  # where/how: not taken
    args = build_parser().parse_args(["train", "lenet5", "--out", str(tmp_path), "--resume", "--epochs", "5"])
    assert _train_config(args).epochs == 5  # given: kept, and fit refuses it as a change of settings
    args = build_parser().parse_args(["train", "lenet5", "--out", str(tmp_path)])
    assert _train_config(args).epochs is None  # without --resume: the recipe's, resolved by fit
    assert resolve(_train_config(args)).epochs == 10
