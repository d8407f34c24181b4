"""Training on CIFAR: the recipes (the ResNet paper's for the CIFAR ResNets), the iteration-based multistep
schedule, the paper's augmentation order, resume bit-identical with both, and `tinycnn train resnet20 --dataset
cifar10 --data-dir DIR --epochs 1` as a subprocess on generated CIFAR-layout data, with its progress bar."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinycnn import recipes, train
from tinycnn.data import normalize
from tinycnn.optim import SGD
from tinycnn.train import TrainConfig, evaluate, fit, load_checkpoint

from .data.cifar_helpers import expected, fake_split, files_of, register, write

ROOT = Path(__file__).resolve().parents[1]


def quiet(*args, **kwargs):
    pass


@pytest.fixture
def cifar_dir(tmp_path, monkeypatch):
    """A CIFAR-10 binary folder of 5 x 20 training and 40 test images, registered as official."""
    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINYCNN_DATA", raising=False)
    parts = {**fake_split("cifar10", "train", n=20), **fake_split("cifar10", "test", n=40)}
    files = files_of("cifar10", "binary", parts)
    register(monkeypatch, "cifar10", files)
    write(tmp_path / "data" / "cifar-10-batches-bin", files)
    return tmp_path / "data", parts


def test_the_papers_recipe_is_the_default_for_the_cifar_resnets():
    paper = recipes.resolve(TrainConfig(model="resnet20", dataset="cifar10"))
    assert (paper.epochs, paper.batch_size, paper.lr, paper.momentum, paper.weight_decay, paper.schedule,
            paper.augment) == (164, 128, 0.1, 0.9, 1e-4, "multistep", "crop-flip")
    assert recipes.resolve(TrainConfig(model="plain56", dataset="cifar100")).lr == 0.1
    mnist = recipes.resolve(TrainConfig())
    assert (mnist.epochs, mnist.lr, mnist.weight_decay, mnist.schedule, mnist.augment) == (
        10, 0.05, 5e-4, "cosine", "none")
    vgg = recipes.resolve(TrainConfig(model="vgg11_bn", dataset="cifar10", epochs=3))
    assert (vgg.epochs, vgg.augment, vgg.schedule) == (3, "crop-flip", "cosine")  # what is given is kept


def test_multistep_divides_by_ten_at_half_and_three_quarters_of_the_iterations():
    from tinycnn import nn

    config = recipes.resolve(TrainConfig(model="resnet20", dataset="cifar10", epochs=4))
    optimizer = SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    scheduler, per_step = recipes.make_scheduler(config, optimizer, steps_per_epoch=10)
    assert per_step
    rates = []
    for _ in range(40):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == pytest.approx([0.1] * 20 + [0.01] * 10 + [0.001] * 10)  # 32k/64k and 48k/64k of 40 steps
    paper = recipes.resolve(TrainConfig(model="resnet20", dataset="cifar10"))
    scheduler, _ = recipes.make_scheduler(paper, SGD(nn.Linear(2, 2).parameters(), lr=0.1), 391)
    assert sorted(scheduler.milestones) == [32_062, 48_093]  # of 164 x 391 = 64,124 iterations


def test_crop_flip_pads_with_the_mean_after_subtracting_it(rng):
    images = rng.integers(0, 256, (6, 3, 8, 8), dtype=np.uint8)
    mean = images.mean(axis=0) / 255.0
    transform = recipes.train_transform("crop-flip", mean.astype(np.float32), 1.0, 8)
    out = transform(images, rng=np.random.default_rng(2))
    replay = np.random.default_rng(2)
    i, j = replay.integers(0, 9, size=6), replay.integers(0, 9, size=6)
    flip = replay.random(6) < 0.5
    padded = np.pad(normalize(images, mean.astype(np.float32), 1.0), ((0, 0), (0, 0), (4, 4), (4, 4)))
    for k in range(6):
        window = padded[k, :, i[k]:i[k] + 8, j[k]:j[k] + 8]
        np.testing.assert_array_equal(out[k], window[..., ::-1] if flip[k] else window)


def test_model_args_for_cifar():
    images = np.zeros((2, 3, 32, 32), np.uint8)
    assert recipes.model_args("lenet5", "cifar10", images) == (
        {"num_classes": 10, "in_channels": 3, "input_size": 32}, 32)
    assert recipes.model_args("resnet20", "cifar100", images) == ({"num_classes": 100, "in_channels": 3}, 32)
    assert recipes.model_args("googlenet", "cifar10", images)[0]["small_input"] is True
    assert recipes.model_args("lenet5", "mnist", np.zeros((2, 28, 28), np.uint8)) == (
        {"num_classes": 10, "in_channels": 1}, 28)


def test_fit_on_cifar_records_the_recipe_and_resumes_bit_identical(tmp_path, monkeypatch, cifar_dir):
    data_dir, parts = cifar_dir
    monkeypatch.setattr(train, "plot_history", quiet)
    config = dict(model="resnet20", dataset="cifar10", data_dir=str(data_dir), epochs=3, batch_size=25,
                  train_limit=50, test_limit=40, progress=False, seed=1)
    a = fit(TrainConfig(out=str(tmp_path / "a"), **config), log=quiet)
    recorded = a["config"]
    assert (recorded["lr"], recorded["schedule"], recorded["augment"], recorded["weight_decay"]) == (
        0.1, "multistep", "crop-flip", 1e-4)
    # 2 steps per epoch, 6 in all: milestones at 3 and round(4.5) = 4; each epoch records its last step's rate
    assert [h["lr"] for h in a["history"]] == pytest.approx([0.1, 0.01, 0.001])
    model, meta = load_checkpoint(tmp_path / "a" / "checkpoint.npz")
    train_images = expected(parts)[0][:50]
    np.testing.assert_allclose(meta["mean"], train_images.mean(axis=0) / 255.0, rtol=1e-6)
    test_images, test_labels = expected({"test_batch": parts["test_batch"]})
    _, acc = evaluate(model, test_images, test_labels, mean=meta["mean"], std=meta["std"])
    assert acc == a["history"][-1]["test_accuracy"]

    calls, real_evaluate = [], train.evaluate

    def interrupt_in_epoch_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(train, "evaluate", interrupt_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        fit(TrainConfig(out=str(tmp_path / "b"), **config), log=quiet)
    monkeypatch.setattr(train, "evaluate", real_evaluate)
    b = fit(TrainConfig(out=str(tmp_path / "b"), resume=True, **config), log=quiet)
    strip = [{k: v for k, v in h.items() if k not in train.TIMING_FIELDS} for h in a["history"]]
    assert [{k: v for k, v in h.items() if k not in train.TIMING_FIELDS} for h in b["history"]] == strip
    wa, _ = load_checkpoint(tmp_path / "a" / "checkpoint.npz")
    wb, _ = load_checkpoint(tmp_path / "b" / "checkpoint.npz")
    for name, value in wa.state_dict().items():
        np.testing.assert_array_equal(value, wb.state_dict()[name], err_msg=name)


def test_cli_trains_resnet20_on_a_cifar_folder_with_a_progress_bar(tmp_path):
    """The issue's command, as a user runs it, on generated files in the official layout (not the official ones:
    --no-verify, which warns). Small limits keep it quick."""
    parts = {**fake_split("cifar10", "train", n=20), **fake_split("cifar10", "test", n=20)}
    write(tmp_path / "data" / "cifar-10-batches-bin", files_of("cifar10", "binary", parts))
    env = {**os.environ, "TINYCNN_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT),
           "OPENBLAS_NUM_THREADS": "1", "TINYCNN_NO_MIRRORS": "1"}
    env.pop("TINYCNN_DATA", None)
    cmd = [sys.executable, "-m", "tinycnn", "train", "resnet20", "--dataset", "cifar10", "--data-dir",
           str(tmp_path / "data"), "--epochs", "1", "--train-limit", "64", "--test-limit", "20", "--batch-size", "32",
           "--no-verify", "--out", str(tmp_path / "run")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "epoch 1/1" in proc.stderr and "2/2" in proc.stderr  # tqdm's bar: 64 images in batches of 32
    assert "verify=False" in proc.stderr  # the warning that nothing was verified
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["finished"] and metrics["config"]["schedule"] == "multistep" and metrics["config"]["lr"] == 0.1
    assert (tmp_path / "run" / "curves.png").exists()
    evaluate_cmd = [sys.executable, "-m", "tinycnn", "evaluate", str(tmp_path / "run" / "checkpoint.npz"),
                    "--data-dir", str(tmp_path / "data"), "--no-verify"]
    proc = subprocess.run(evaluate_cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[0])
    assert report["test_images"] == 20 and report["test_accuracy"] == metrics["test_accuracy"]
