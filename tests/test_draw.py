"""tinycnn.draw: DOT text of the layer graph (one box per leaf layer, fan-out/fan-in for Concat, a shortcut into an
add node for Residual), rendering with and without Graphviz, and ``tinycnn summary --dot``."""

import os
import re
import stat

import numpy as np
import pytest

import tinycnn.nn as nn
from tinycnn.cli import main
from tinycnn.draw import describe, render, to_dot
from tinycnn.models.alexnet import alexnet
from tinycnn.models.lenet_paper import lenet5_paper

NODE = re.compile(r'^\s*("?[\w]+"?)\s*\[(.*)\];\s*$')
EDGE = re.compile(r'^\s*(\w+)\s*->\s*(\w+)\s*(\[(.*)\])?;\s*$')


def parse(dot):
    """A small DOT reader for what to_dot writes: returns (nodes: id -> attribute text, edges: [(a, b, attrs)]).
    Fails on any line it does not understand, so malformed output cannot slip through."""
    lines = dot.strip().splitlines()
    assert re.match(r'^digraph "?\w+"? \{$', lines[0]) and lines[-1] == "}"
    nodes, edges, depth = {}, [], 0
    for line in lines[1:-1]:
        if line.startswith("subgraph cluster_"):
            depth += 1
        elif line == "}":
            depth -= 1
            assert depth >= 0
        elif re.match(r"^(rankdir=\w+;|node \[.*\]; edge \[.*\];|label=.*; style=\w+; color=.*;)$", line):
            continue  # graph, default and cluster attributes
        elif m := EDGE.match(line):
            edges.append((m.group(1), m.group(2), m.group(4) or ""))
        elif m := NODE.match(line):
            assert m.group(1) not in nodes, f"node {m.group(1)} defined twice"
            nodes[m.group(1)] = m.group(2)
        else:
            raise AssertionError(f"not DOT that to_dot writes: {line!r}")
    assert depth == 0
    for a, b, _ in edges:
        assert a in nodes and b in nodes, (a, b)
    return nodes, edges


def leaves(model):
    return [m for _, m in model.named_modules() if not m._modules]


def reachable(edges, start):
    seen, todo = {start}, [start]
    while todo:
        a = todo.pop()
        for x, y, _ in edges:
            if x == a and y not in seen:
                seen.add(y)
                todo.append(y)
    return seen


def toy():
    """conv -> Concat(two branches) -> identity Residual -> projection Residual -> flatten -> linear."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.Concat(nn.Sequential(nn.Conv2d(4, 2, 1), nn.ReLU()), nn.MaxPool2d(3, 1, 1), nn.Conv2d(4, 3, 1)),
        nn.Residual(nn.Sequential(nn.Conv2d(9, 9, 3, padding=1), nn.ReLU(), nn.Conv2d(9, 9, 3, padding=1)),
                    None, nn.ReLU()),
        nn.Residual(nn.Conv2d(9, 5, 3, stride=2, padding=1), nn.Conv2d(9, 5, 1, stride=2)),
        nn.Flatten(), nn.Linear(5 * 4 * 4, 3))


def test_one_node_per_leaf_and_fan_in_nodes():
    model = toy()
    nodes, edges = parse(to_dot(model))
    layer_nodes = [n for n in nodes if n.startswith("L")]
    assert len(layer_nodes) == len(leaves(model)) == 13
    concats = [n for n in nodes if n.startswith("concat")]
    adds = [n for n in nodes if n.startswith("add")]
    assert len(concats) == 1 and len(adds) == 2
    into = {n: [(a, attrs) for a, b, attrs in edges if b == n] for n in nodes}
    assert len(into[concats[0]]) == 3  # one edge from each branch
    # the concat's input fans out to three branches
    first_conv = next(n for n in layer_nodes if "Conv2d 1->4" in nodes[n])
    assert len([b for a, b, _ in edges if a == first_conv]) == 3
    for add in adds:  # the body and the shortcut meet, the shortcut drawn dashed
        assert len(into[add]) == 2 and sum("dashed" in attrs for _, attrs in into[add]) == 1
    identity = [attrs for _, attrs in into[adds[0]] if "dashed" in attrs][0]
    assert "identity" in identity and into[adds[0]][1][0] == concats[0]  # the identity skips from the block input
    assert reachable(edges, "input") == set(nodes)  # one connected graph from input to output
    assert all(a != "output" for a, _, _ in edges)


def test_clusters_frame_the_containers():
    dot = to_dot(toy())
    assert dot.count("subgraph cluster_") == 5  # 1 (Concat), its branch 1.0, 2 (Residual), 2.body, 3 (Residual)
    assert 'label="1 (Concat)"' in dot and 'label="2 (Residual)"' in dot


def test_output_shapes_in_labels():
    nodes, _ = parse(to_dot(lenet5_paper(), input_shape=(1, 32, 32)))
    labels = {attrs.split('"')[1].split("\\n")[0]: attrs for n, attrs in nodes.items() if n.startswith("L")}
    assert "6x28x28" in labels["C1"] and "16x10x10" in labels["C3"] and "16x5x5" in labels["S4"]
    assert "84" in labels["F6"] and "1x32x32" in nodes["input"]
    # without an input shape no forward runs and no shape is printed
    assert "6x28x28" not in to_dot(lenet5_paper())


def test_real_model_alexnet():
    model = alexnet(num_classes=10, in_channels=1, small_input=True)
    nodes, edges = parse(to_dot(model, input_shape=(1, 28, 28)))
    assert len([n for n in nodes if n.startswith("L")]) == len(leaves(model))
    assert len(edges) == len(leaves(model)) + 1  # a chain: input -> leaves... -> output
    text = "\n".join(nodes.values())
    assert "Conv2d 96->256, 5x5, pad 2, groups 2" in text and "MaxPool2d 3x3/2" in text


def test_describe():
    assert describe(nn.Conv2d(3, 64, 11, stride=4, padding=2)) == "Conv2d 3->64, 11x11/4, pad 2"
    assert describe(nn.Conv2d(96, 256, 5, padding=2, groups=2)) == "Conv2d 96->256, 5x5, pad 2, groups 2"
    assert describe(nn.Linear(9216, 4096)) == "Linear 9216->4096"
    assert describe(nn.MaxPool2d(3, 2, ceil_mode=True)) == "MaxPool2d 3x3/2, ceil"
    assert describe(nn.ReLU()) == "ReLU"
    assert describe(nn.Dropout(0.5)) == "Dropout p=0.5"


def test_label_quoting():
    class Odd(nn.Module):
        def forward(self, x):
            return x

        def extra_repr(self):
            return 'say "hi" \\ bye'

    nodes, _ = parse(to_dot(nn.Sequential(Odd())))
    assert '\\"hi\\" \\\\ bye' in nodes["L0"]


@pytest.mark.skipif(not hasattr(nn, "Tap"), reason="nn.Tap (auxiliary heads) not in this tree")
def test_tap_is_a_side_branch():
    model = nn.Tapped(nn.Conv2d(1, 2, 3), nn.Tap(nn.Sequential(nn.Flatten(), nn.Linear(2 * 6 * 6, 3))),
                      nn.ReLU())
    nodes, edges = parse(to_dot(model))
    aux = [n for n in nodes if n.startswith("aux")]
    assert len(aux) == 1
    conv = next(n for n in nodes if "Conv2d" in nodes[n])
    relu = next(n for n in nodes if "ReLU" in nodes[n])
    assert (conv, relu, "") in edges  # the main path passes the tap by


def test_render_without_graphviz(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = render(toy(), tmp_path / "toy.svg", input_shape=(1, 8, 8))
    assert out == tmp_path / "toy.dot" and out.read_text().startswith("digraph")
    assert "not on PATH" in capsys.readouterr().err
    assert not (tmp_path / "toy.svg").exists()


def fake_dot(folder, body):
    folder.mkdir()
    exe = folder / "dot"
    exe.write_text("#!/bin/sh\n" + body + "\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return folder


@pytest.mark.skipif(os.name != "posix", reason="a shell-script stand-in for dot")
def test_render_with_graphviz(tmp_path, monkeypatch):
    # a stand-in for dot: called as dot -Tpng FILE.dot -o FILE.png, it copies the text over
    monkeypatch.setenv("PATH", str(fake_dot(tmp_path / "bin", 'cp "$2" "$4"')) + os.pathsep + os.environ["PATH"])
    (tmp_path / "pics").mkdir()  # render never creates folders (tests/test_summary_cli.py)
    out = render(toy(), tmp_path / "pics" / "toy", format="png")
    assert out == tmp_path / "pics" / "toy.png" and out.read_text().startswith("digraph")
    assert (tmp_path / "pics" / "toy.dot").exists()


@pytest.mark.skipif(os.name != "posix", reason="a shell-script stand-in for dot")
def test_render_reports_a_failing_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_dot(tmp_path / "bin", 'echo "syntax error" >&2; exit 3')) + os.pathsep
                       + os.environ["PATH"])
    with pytest.raises(RuntimeError, match="syntax error"):
        render(toy(), tmp_path / "toy.svg")


def test_render_rejects_a_bad_format(tmp_path):
    with pytest.raises(ValueError, match="format"):
        render(toy(), tmp_path / "toy", format="svg; rm -rf /")


def test_cli_summary_dot(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["summary", "lenet5_paper", "--dot", str(tmp_path / "lenet.dot")]) == 0
    out = capsys.readouterr().out
    assert "total parameters: 60,000" in out and "lenet.dot" in out
    nodes, _ = parse((tmp_path / "lenet.dot").read_text())
    assert len([n for n in nodes if n.startswith("L")]) == 14
    assert np.any(["6x28x28" in v for v in nodes.values()])
