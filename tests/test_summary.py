"""tinycnn.summary: per-layer table, parameter and MAC totals (LeNet-5: REFERENCE.md 1.2)."""

import re

import numpy as np
import pytest

import tinycnn as tc
import tinycnn.nn as nn
from tinycnn.models import lenet5
from tinycnn.summary import layer_table, summary


def test_lenet5_totals():
    rows = layer_table(lenet5(), (1, 28, 28))
    # MACs by hand: C1 6*28*28*25, C3 16*10*10*150, then the three linear layers in*out
    by_hand = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10
    assert by_hand == 416_520
    assert sum(r["macs"] for r in rows) == 416_520
    assert sum(r["parameters"] for r in rows) == 61_706


def test_lenet5_table_text():
    text = summary(lenet5(), (1, 28, 28))
    assert "total parameters: 61,706" in text
    assert "total MACs per image: 416,520" in text
    assert "used in eval mode" not in text  # every parameter is on the eval path
    rows = [line for line in text.splitlines() if re.match(r"^\d+\s", line)]
    assert len(rows) == 12
    expected = [("0", "Conv2d", "6x28x28", "156", "117,600"), ("1", "ReLU", "6x28x28", "0", "0"),
                ("2", "MaxPool2d", "6x14x14", "0", "0"), ("3", "Conv2d", "16x10x10", "2,416", "240,000"),
                ("4", "ReLU", "16x10x10", "0", "0"), ("5", "MaxPool2d", "16x5x5", "0", "0"),
                ("6", "Flatten", "400", "0", "0"), ("7", "Linear", "120", "48,120", "48,000"),
                ("8", "ReLU", "120", "0", "0"), ("9", "Linear", "84", "10,164", "10,080"),
                ("10", "ReLU", "84", "0", "0"), ("11", "Linear", "10", "850", "840")]
    for line, fields in zip(rows, expected):
        assert line.split()[:5] == list(fields), line


def test_conv_macs_with_stride_padding_groups():
    model = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))
    rows = layer_table(model, (4, 8, 8))
    conv, _, lin = rows
    assert conv["output_shape"] == (1, 8, 4, 4)
    assert conv["macs"] == 8 * 4 * 4 * (4 // 2) * 3 * 3
    assert conv["parameters"] == 8 * 2 * 9 + 8
    assert lin["macs"] == 128 * 5
    assert conv["im2col_bytes"] == 4 * 3 * 3 * 4 * 4 * 4  # (C_in kH kW) x (H_out W_out) float32


def test_nested_containers_are_expanded_to_leaves():
    model = nn.Sequential(nn.Concat(nn.Conv2d(2, 3, 1), nn.Conv2d(2, 4, 3, padding=1)),
                          nn.Residual(nn.Conv2d(7, 7, 3, padding=1), activation=nn.ReLU()))
    rows = layer_table(model, (2, 5, 5))
    assert [r["name"] for r in rows] == ["0.0", "0.1", "1.body", "1.activation"]
    assert rows[2]["output_shape"] == (1, 7, 5, 5)
    assert sum(r["parameters"] for r in rows) == model.num_parameters()


def test_summary_leaves_the_model_unchanged(rng):
    model = lenet5()
    model.train()
    x = tc.Tensor(rng.standard_normal((2, 1, 28, 28)).astype(np.float32))
    before = model(x).numpy()
    summary(model, (1, 28, 28))
    assert model.training and all(m.training for m in model.modules())
    assert all("forward" not in m.__dict__ for m in model.modules())  # the recording wrappers are gone
    np.testing.assert_array_equal(model(x).numpy(), before)


def test_summary_restores_eval_mode_too():
    model = lenet5().eval()
    summary(model, (1, 28, 28))
    assert not model.training


def test_summary_wrong_input_raises_value_error():
    with pytest.raises(ValueError):
        summary(lenet5(), (3, 28, 28))
    with pytest.raises(ValueError):
        summary(lenet5(), (1, 20, 20))  # flattens to 16*3*3 = 144, not 400


def test_input_without_padding_pitfall():
    """REFERENCE.md 1.2: 28x28 input WITHOUT padding flattens to 256 (LeNet-5 would then have 44,426 params)."""
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84),
                          nn.ReLU(), nn.Linear(84, 10))
    rows = layer_table(model, (1, 28, 28))
    assert rows[6]["output_shape"] == (1, 256)
    assert model.num_parameters() == 44_426


def test_shared_leaf_is_listed_at_each_call_and_counted_once():
    """A layer used twice (tied weights) appears in the table at each call; its parameters count once."""
    lin = nn.Linear(4, 4)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    rows = layer_table(model, (4,))
    assert [r["type"] for r in rows] == ["Linear", "ReLU", "Linear"]
    assert [r["macs"] for r in rows] == [16, 0, 16]
    assert sum(r["parameters"] for r in rows) == model.num_parameters() == 20
    assert all("forward" not in m.__dict__ for m in model.modules())
    text = summary(model, (4,))
    assert "total parameters: 20" in text and "used in eval mode" not in text
