"""Draw a model's layer graph as Graphviz DOT text, from its module tree (no graphviz Python package needed).

The tree is the graph (DESIGN.md, "Layer graphs"):

* a leaf layer (no child modules) is one box, labelled with its name, type and key hyperparameters, and its
  output shape when an input shape is given (from ``tinycnn.summary.layer_table``);
* ``Sequential``: its children one after another;
* ``Concat``: every branch fed the same input (fan-out), their outputs joined in a "concat" node (fan-in);
* ``Residual``: the body, a shortcut edge (dashed; through the projection when there is one) and an "add" node
  joining the two, then the activation;
* a module with a ``residual_parts()`` method (the torchvision-style ResNet blocks, ``BasicBlock`` and
  ``Bottleneck``): drawn as a Residual, from the child names it returns (main path, shortcut or None, after the
  add); a child used twice (the blocks' one ``relu``) gets a box at each use;
* ``Tap`` (GoogLeNet's auxiliary classifiers): its head as a side branch ending in a dashed "auxiliary output"
  node, while the main path passes by;
* any other module with children: its children in registration order, as a chain (its own ``forward`` may wire
  them otherwise; say so in that model's docstring).

Every container becomes a labelled cluster, so a block of the paper (an Inception module, a residual block) is a
framed group, as in the papers' figures. ``render`` writes the .dot file and, when the Graphviz ``dot`` program is
on PATH, an SVG or PNG beside it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import nn
from ._fileio import atomic_write_bytes
from .summary import layer_table

__all__ = ["to_dot", "render", "describe"]

# fill colours by layer family, so the eye finds convs, pools and classifiers at once
_COLOURS = (
    ((nn.Conv2d,), "#cfe2f3"),
    ((nn.Linear,), "#d9d2e9"),
    ((nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.GlobalAvgPool2d), "#e6e6e6"),
    ((nn.BatchNorm2d, nn.LocalResponseNorm), "#fff2cc"),
    ((nn.ReLU, nn.Tanh, nn.ScaledTanh, nn.Sigmoid, nn.Softmax), "#d9ead3"),
    ((nn.Dropout,), "#f4cccc"),
)


def _size(value) -> str:
    """3 -> "3x3", (3, 1) -> "3x1"."""
    return "x".join(str(v) for v in value) if isinstance(value, (tuple, list)) else f"{value}x{value}"


def _first(value):
    return value[0] if isinstance(value, (tuple, list)) else value


def describe(module) -> str:
    """One line: the layer's type and its key hyperparameters, e.g. "Conv2d 3->64, 11x11/4, pad 2"."""
    kind = type(module).__name__
    if isinstance(module, nn.Conv2d):
        text = f"{kind} {module.in_channels}->{module.out_channels}, {_size(module.kernel_size)}"
        if set(module.stride) != {1}:
            text += f"/{module.stride[0]}" if len(set(module.stride)) == 1 else f"/{_size(module.stride)}"
        if set(module.padding) != {0}:
            text += f", pad {_first(module.padding)}" if len(set(module.padding)) == 1 else f", pad {module.padding}"
        if module.groups != 1:
            text += f", groups {module.groups}"
        return text
    if isinstance(module, nn.Linear):
        return f"{kind} {module.in_features}->{module.out_features}"
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        stride = module.kernel_size if module.stride is None else module.stride
        text = f"{kind} {_size(module.kernel_size)}/{_first(stride)}"
        if _first(module.padding):
            text += f", pad {_first(module.padding)}"
        return text + (", ceil" if module.ceil_mode else "")
    if isinstance(module, (nn.Dropout, nn.Dropout2d)):
        return f"{kind} p={module.p}"  # not PyTorch's repr's "inplace=False": the diagram keeps what matters
    if isinstance(module, nn.ReLU):
        return kind  # nor "inplace=True" (torchvision's blocks): it changes no value
    extra = module.extra_repr()
    return f"{kind} {extra}" if extra else kind


def _quote(text: str) -> str:
    """A DOT string literal; a newline becomes DOT's centred line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _DotBuilder:
    """Walks the module tree once, collecting node and edge statements; ``emit`` returns a part's output nodes."""

    def __init__(self, shapes):
        self.shapes = shapes  # leaf name -> its output shapes, one per call (batch axis kept)
        self.counts = {}
        self.edges = []

    def new_id(self, prefix):
        n = self.counts.get(prefix, 0)
        self.counts[prefix] = n + 1
        return f"{prefix}{n}"

    def node(self, lines, prefix, label, **attrs):
        node_id = self.new_id(prefix)
        attrs = {"label": label, **attrs}
        lines.append(f"{node_id} [" + ", ".join(f"{k}={_quote(str(v))}" for k, v in attrs.items()) + "];")
        return node_id

    def edge(self, a, b, **attrs):
        extra = (" [" + ", ".join(f"{k}={_quote(str(v))}" for k, v in attrs.items()) + "]") if attrs else ""
        self.edges.append(f"{a} -> {b}{extra};")

    def emit(self, module, name, inputs, lines):
        children = module._modules
        if not children:
            return [self.leaf(module, name, inputs, lines)]
        inner = []
        if isinstance(module, nn.Concat):
            outs = [o for child_name, child in children.items()
                    for o in self.emit(child, _join(name, child_name), inputs, inner)]
            join = self.node(inner, "concat", "concat", shape="circle", style="filled", fillcolor="#fce5cd")
            for o in outs:
                self.edge(o, join)
            outs = [join]
        elif isinstance(module, nn.Residual):
            shortcut = children.get("shortcut")
            activation = children.get("activation")
            outs = self.residual(name, inputs, inner, [("body", module.body)],
                                 None if shortcut is None else ("shortcut", shortcut),
                                 [] if activation is None else [("activation", activation)])
        elif callable(getattr(type(module), "residual_parts", None)):
            main, shortcut, after = module.residual_parts()
            outs = self.residual(name, inputs, inner, [(c, children[c]) for c in main],
                                 None if shortcut is None else (shortcut, children[shortcut]),
                                 [(c, children[c]) for c in after])
        elif _TAP is not None and isinstance(module, _TAP):  # a side branch: the main path passes by
            heads = self.emit(module.head, _join(name, "head"), inputs, inner)
            side = self.node(inner, "aux", "auxiliary output\n(training only)", shape="oval", style="dashed")
            for o in heads:
                self.edge(o, side)
            outs = inputs
        else:  # Sequential, and any other container: a chain in registration order
            outs = inputs
            for child_name, child in children.items():
                outs = self.emit(child, _join(name, child_name), outs, inner)
        if name:  # the root's parts are drawn without a frame
            title = f"{name} ({type(module).__name__})"
            lines.append(f"subgraph cluster_{self.new_id('c')} {{")
            lines.append(f"label={_quote(title)}; style=rounded; color=\"#999999\";")
            lines.extend(inner)
            lines.append("}")
        else:
            lines.extend(inner)
        return outs

    def residual(self, name, inputs, lines, main, shortcut, after):
        """main and after: (child name, module) chains before and after the add; shortcut: one, or None."""
        body = inputs
        for child_name, child in main:
            body = self.emit(child, _join(name, child_name), body, lines)
        skip = inputs if shortcut is None else self.emit(shortcut[1], _join(name, shortcut[0]), inputs, lines)
        add = self.node(lines, "add", "+", shape="circle", style="filled", fillcolor="#fce5cd")
        for o in body:
            self.edge(o, add)
        for o in skip:  # the shortcut: identity or projection
            self.edge(o, add, style="dashed", **({"label": "identity"} if shortcut is None else {}))
        outs = [add]
        for child_name, child in after:
            outs = self.emit(child, _join(name, child_name), outs, lines)
        return outs

    def leaf(self, module, name, inputs, lines):
        label = [name or type(module).__name__, describe(module)]
        calls = self.shapes.get(name or type(module).__name__)  # one shape per call, in call order
        shape = (calls.pop(0) if len(calls) > 1 else calls[0]) if calls else None
        if shape is not None:
            label.append("x".join(str(v) for v in shape[1:]))
        colour = next((c for types, c in _COLOURS if isinstance(module, types)), "#ffffff")
        node_id = self.node(lines, "L", "\n".join(label), shape="box", style="rounded,filled", fillcolor=colour)
        for i in inputs:
            self.edge(i, node_id)
        return node_id


# GoogLeNet's auxiliary heads hang on ``nn.Tap`` (looked up softly: drawing works without it)
_TAP = getattr(nn, "Tap", None)


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def to_dot(model, input_shape=None) -> str:
    """Graphviz DOT text (a ``digraph``) of ``model``'s layer graph.

    Args:
        model: a tinycnn Module (a tree of Sequential / Concat / Residual over layers).
        input_shape: (C, H, W) of one image; when given, one zero image is run through the model in eval mode
            (``tinycnn.summary.layer_table``) and each layer's box shows its output shape. Layers used only in
            training mode (auxiliary heads) then show none.

    Returns:
        the DOT text: an "input" node, one box per leaf layer (ids L0, L1, ...), "concat" and "add" nodes where
        branches join, an "output" node. Raises ValueError (from the layers) when the input does not fit.
    """
    shapes = {}
    if input_shape is not None:
        for row in layer_table(model, input_shape):
            shapes.setdefault(row["name"], []).append(row["output_shape"])
    builder = _DotBuilder(shapes)
    lines = []
    in_label = "input" + (f"\n{'x'.join(str(v) for v in input_shape)}" if input_shape is not None else "")
    lines.append(f"input [label={_quote(in_label)}, shape=oval];")
    outs = builder.emit(model, "", ["input"], lines)
    lines.append('output [label="output", shape=oval];')
    for o in outs:
        builder.edge(o, "output")
    head = [f"digraph {_quote(type(model).__name__)} {{", "rankdir=TB;",
            'node [fontname="Helvetica", fontsize=10]; edge [arrowsize=0.6];']
    return "\n".join(head + lines + builder.edges + ["}"]) + "\n"


def target_problem(path, format: str = "svg"):  # noqa: A002
    """What is wrong with ``path`` as the target of :func:`render`, as (the OSError subclass to raise, the reason),
    or None when it can be written: ``path`` or the .dot / picture file beside it is a folder, or their folder does
    not exist (render never creates folders: a typo in a path must not leave new folders behind)."""
    path = Path(path)
    if path.is_dir():
        return IsADirectoryError, f"{path} is a folder"
    folder = path.parent
    if not folder.is_dir():
        if folder.exists():
            return NotADirectoryError, f"{folder} is not a folder"
        return FileNotFoundError, f"the folder {folder} does not exist"
    for target in (path.with_suffix(".dot"), path.with_suffix("." + format)):
        if target.is_dir():
            return IsADirectoryError, f"{target} is a folder"
    return None


def render(model, path, input_shape=None, format: str = "svg") -> Path:  # noqa: A002 - Graphviz's word
    """Write ``to_dot(model, input_shape)`` to ``path`` with the suffix .dot, and render it with Graphviz.

    When the ``dot`` program is on PATH, the picture goes beside it (``path`` with the suffix ``.format``) and its
    path is returned. Otherwise a message on stderr says so (with the command to run later) and the .dot path is
    returned. Both files are written atomically (a temporary file renamed over the target): a failed or interrupted
    render leaves the previous files as they were. Folders are never created.

    Raises ValueError for a format that is not a plain word (svg, png, pdf ...); FileNotFoundError /
    NotADirectoryError when the folder of ``path`` does not exist / is a file, IsADirectoryError when ``path`` or
    a file to write is a folder (see :func:`target_problem`); RuntimeError when ``dot`` fails.
    """
    if not re.fullmatch(r"[a-z0-9]+", format):
        raise ValueError(f"render: format must be a Graphviz output format such as 'svg' or 'png', got {format!r}")
    problem = target_problem(path, format)
    if problem is not None:
        error, reason = problem
        raise error(f"render: {reason}")
    path = Path(path)
    dot_path = path.with_suffix(".dot")
    atomic_write_bytes(dot_path, to_dot(model, input_shape).encode("utf-8"))
    picture = path.with_suffix("." + format)
    program = shutil.which("dot")
    if program is None:
        print(f"render: Graphviz's 'dot' is not on PATH; wrote {dot_path} only "
              f"(later: dot -T{format} {dot_path} -o {picture})", file=sys.stderr)
        return dot_path
    # dot writes a temporary file of atomic_write_bytes's pattern (so stale ones are recognised), renamed when done
    fd, tmp = tempfile.mkstemp(dir=picture.parent, prefix=f".{picture.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    try:
        result = subprocess.run([program, f"-T{format}", str(dot_path), "-o", tmp],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"render: dot failed with exit status {result.returncode}: {result.stderr.strip()}")
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, picture)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return picture


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
