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


def test_train_bad_value_returns_2(tmp_path, capsys):
    assert main(["train", "lenet5", "--epochs", "0", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "tinycnn train: error" in err and "epochs" in err


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
