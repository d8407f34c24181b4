"""Fine-tuning from the command line: ``tinycnn train resnet18 --weights FILE --dataset folder --data-dir PHOTOS
--freeze-backbone``, then ``evaluate`` and ``predict`` with its checkpoint, ``--resume``, and the errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinycnn.cli import main
from tinycnn.weights import load_file

from .test_finetune import make_folder, save_pretrained

Image = pytest.importorskip("PIL.Image")
ROOT = Path(__file__).resolve().parents[1]


def tinycnn(*args):
    return subprocess.run([sys.executable, "-m", "tinycnn", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    return make_folder(folder / "photos"), save_pretrained(folder / "resnet18.npz")


def test_fine_tune_evaluate_predict_resume(tmp_path, setup):
    photos, weights = setup
    out = tmp_path / "run"
    common = ["resnet18", "--dataset", "folder", "--data-dir", photos, "--weights", weights, "--freeze-backbone",
              "--freeze-batch-norm", "--image-size", 32, "--epochs", 1, "--out", out, "--no-progress"]
    done = tinycnn("train", *common)
    assert done.returncode == 0, done.stderr
    assert "head fc replaced by 3 outputs; backbone frozen" in done.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["weights"] == str(weights) and metrics["config"]["freeze_backbone"] is True
    state, file = load_file(out / "checkpoint.npz"), load_file(weights)
    for key in state:
        if not key.startswith("fc."):
            np.testing.assert_array_equal(state[key], file[key], err_msg=key)
    assert state["fc.weight"].shape == (3, 512)

    done = tinycnn("evaluate", out / "checkpoint.npz")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[0])
    assert result["validation_images"] == 3
    assert result["validation_accuracy"] == metrics["test_accuracy"]

    image = next(photos.glob("bee/*.png"))
    done = tinycnn("predict", "resnet18", "--weights", out / "checkpoint.npz", image, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    top = doc["predictions"][0]["top"]
    assert sorted(t["label"] for t in top) == ["ant", "bee", "wasp"]  # the folder's classes, all three
    assert (doc["preprocessing"]["resize_size"], doc["preprocessing"]["crop_size"]) == (36, 32)

    # one more epoch: --resume takes the run's own settings; the options given must match them
    done = tinycnn("train", "resnet18", "--out", out, "--resume", "--no-progress", "--epochs", 1)
    assert done.returncode == 0 and "already finished" in done.stdout, done.stderr
    done = tinycnn("train", "resnet18", "--out", out, "--resume", "--no-progress", "--image-size", 64)
    assert done.returncode == 2 and "image_size=32 (given 64)" in done.stderr


def test_train_val_layout_and_from_scratch(tmp_path, setup):
    make_folder(tmp_path / "p" / "train", per_class=3)
    make_folder(tmp_path / "p" / "val", per_class=1, seed=2)
    done = tinycnn("train", "resnet18", "--dataset", "folder", "--data-dir", tmp_path / "p", "--image-size", 32,
                   "--epochs", 1, "--out", tmp_path / "run", "--no-progress", "--augment", "none")
    assert done.returncode == 0, done.stderr
    assert "9 train / 3 validation images" in done.stdout and "val acc" in done.stdout


def one_line_error(capsys, argv, *words):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    for word in words:
        assert str(word) in err, err


def test_errors(tmp_path, setup, capsys):
    photos, weights = setup
    base = ["train", "resnet18", "--out", tmp_path / "run", "--no-progress"]
    one_line_error(capsys, [*base, "--dataset", "folder", "--data-dir", photos, "--freeze-backbone"],
                   "--freeze-backbone needs weights")
    one_line_error(capsys, [*base, "--dataset", "folder"], "--data-dir must name the folder")
    one_line_error(capsys, [*base, "--weights", weights], "--weights FILE is for dataset 'folder' only")
    one_line_error(capsys, [*base, "--dataset", "folder", "--data-dir", photos, "--augment", "crop-flip"],
                   "--augment must be 'resized-crop-flip' or 'none'")
    make_folder(tmp_path / "split" / "train", per_class=2)
    make_folder(tmp_path / "split" / "val", per_class=1, classes={"ant": (1, 1, 1)})
    one_line_error(capsys, [*base, "--dataset", "folder", "--data-dir", tmp_path / "split"],
                   "only in train/: ['bee', 'wasp']")
    one_line_error(capsys, [*base, "--dataset", "folder", "--data-dir", tmp_path / "split", "--val-fraction", 0.3],
                   "has its own train/ and val/ folders")
    for argv, words in (([*base, "--val-fraction", "1"], ["--val-fraction", "between 0 and 1"]),
                        ([*base, "--weights", tmp_path / "none.pth"], ["--weights", "does not exist"])):
        with pytest.raises(SystemExit) as info:
            main([str(a) for a in argv])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert all(w in err for w in words), err
    (tmp_path / "vgg.npz").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: not a weight file
    one_line_error(capsys, [*base, "--dataset", "folder", "--data-dir", photos, "--weights", tmp_path / "vgg.npz",
                            "--overwrite"], tmp_path / "vgg.npz")
