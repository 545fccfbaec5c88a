"""``model.summary()``: Keras 3's table of layers, in plain text.

Keras 3 draws the table with the `rich` package; this module lays it out the same way (the
same column widths, word wrapping, ellipses and box characters) without that dependency,
so a summary printed here reads like one printed by Keras.
"""
from __future__ import annotations

import itertools
import math
import re
import shutil
import sys

import numpy as np

_WORD = re.compile(r"\s*\S+\s*")


def readable_memory_size(num_bytes: float) -> str:
    """Bytes as Keras prints them: two decimals and a 1024-step unit.

    >>> readable_memory_size(92), readable_memory_size(4 * 1024 * 1024 + 512)
    ('92.00 B', '4.00 MB')
    """
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    for unit in units:
        if num_bytes / 1024 < 1:
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} {units[-1]}"


def weights_size(weights) -> tuple:
    """(number of parameters, bytes) of a list of variables, each variable counted once.

    >>> import tapegrad as tf
    >>> weights_size([tf.Variable(tf.zeros([3, 2])), tf.Variable(tf.zeros([2], dtype=tf.float64))])
    (8, 40)
    """
    unique = {id(w): w for w in weights}.values()
    count = sum(math.prod(w.shape) for w in unique)
    size = sum(math.prod(w.shape) * np.dtype(w.dtype.as_numpy_dtype).itemsize for w in unique)
    return int(count), int(size)


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None) -> None:
    """Print (or pass to `print_fn`, as one string) the summary table of `model`.

    >>> import tapegrad as tf
    >>> class Identity(tf.keras.layers.Layer):
    ...     def call(self, x):
    ...         return x
    >>> model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), Identity(name="same")], name="demo")
    >>> print_summary(model, line_length=50)
    Model: "demo"
    ┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━┓
    ┃ Layer (type)        ┃ Output Shape   ┃ Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━┩
    │ same (Identity)     │ (None, 3)      │       0 │
    └─────────────────────┴────────────────┴─────────┘
     Total params: 0 (0.00 B)
     Trainable params: 0 (0.00 B)
     Non-trainable params: 0 (0.00 B)
    """
    from .functional import Functional
    graph = model._keras_graph if isinstance(model, Functional) else None
    layers = graph.operations if graph is not None else model.layers
    sequential_like = graph is None or _is_sequential_like(model, graph)
    if sequential_like:
        default_length, positions = 88, positions or [0.45, 0.80, 1.0]
        header, justify = ["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"]
    else:
        default_length, positions = 108, positions or [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        justify = ["left", "left", "right", "left"]
    positions = list(positions)
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        justify.append("center")
    line_length = line_length or min(default_length, shutil.get_terminal_size().columns - 4)
    if positions[-1] > 1:  # absolute column ends, as Keras 2 accepted
        positions = [p / positions[-1] for p in positions]
    requested, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        requested.append(width)
        current += width

    start, stop = _layer_range(layers, layer_range)
    rows = []
    for layer in layers[start:stop]:
        _add_rows(rows, layer, graph, sequential_like, show_trainable, expand_nested, level=0)

    trainable_count, trainable_size = weights_size(model.trainable_weights)
    frozen_count, frozen_size = weights_size(model.non_trainable_weights)
    lines = [f'Model: "{model.name}"']
    lines += render_table(header, rows, justify, requested, line_length)
    lines += [(f" Total params: {trainable_count + frozen_count:,} "
               f"({readable_memory_size(trainable_size + frozen_size)})"),
              f" Trainable params: {trainable_count:,} ({readable_memory_size(trainable_size)})",
              f" Non-trainable params: {frozen_count:,} ({readable_memory_size(frozen_size)})"]
    text = "\n".join(lines) + "\n"
    if print_fn is None:
        sys.stdout.write(text)
    else:
        print_fn(text)


def _is_sequential_like(model, graph) -> bool:
    """Keras's test: one node per depth, each with one input, and no layer called twice."""
    nodes = []
    for level in graph.nodes_by_depth.values():
        if len(level) > 1 or (len(level) == 1 and len(level[0].input_tensors) > 1):
            return False
        nodes += level
    return all(sum(n in nodes for n in getattr(layer, "_inbound_nodes", [])) <= 1
               for layer in model.layers)


def _layer_range(layers, layer_range):
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2:
        raise ValueError("layer_range must be a list or tuple of length 2. Received: "
                         f"layer_range = {layer_range} of length {len(layer_range)}")
    if not all(isinstance(x, str) for x in layer_range):
        raise ValueError(f"layer_range should contain string type only. Received: {layer_range}")
    lower = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    upper = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not lower or not upper:
        raise ValueError(f"Passed layer_names do not match the layer names in the model. Received: "
                         f"{layer_range}")
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


def _add_rows(rows, layer, graph, sequential_like, show_trainable, expand_nested, level) -> None:
    from .model import Model
    prefix = "   " * level + "└ " if level else ""
    if not hasattr(layer, "built"):
        params = "0"
    elif not layer.built:
        params = "0 (unbuilt)"
    else:
        params = f"{layer.count_params():,}"
    row = [f"{prefix}{layer.name} ({type(layer).__name__})", _output_shape_text(layer, graph), params]
    if not sequential_like:
        row.append(_connections(layer, graph))
    if show_trainable:
        row.append(("Y" if layer.trainable else "N") if getattr(layer, "weights", None) else "-")
    rows.append(row)
    if expand_nested and isinstance(layer, Model):
        for sub in layer.layers:
            _add_rows(rows, sub, graph, sequential_like, show_trainable, expand_nested, level + 1)


def _output_shape_text(layer, graph) -> str:
    """The output shapes of the layer's last call in this model (or of any call, or of its build)."""
    from ...core.nest import flatten, pack_sequence_as
    nodes = getattr(layer, "_inbound_nodes", [])
    if graph is not None and any(n in graph.nodes for n in nodes):
        nodes = [n for n in nodes if n in graph.nodes]
    if nodes:
        structure = _map_leaves(lambda t: _shape_text(t.shape), nodes[-1].outputs)
    else:
        shape = getattr(layer, "_build_input_shape", None)
        if shape is None or not getattr(layer, "built", False):
            return "?"
        try:
            computed = layer.compute_output_shape(shape)
        except Exception:  # noqa: BLE001 - a shape the table cannot show is shown as unknown
            return "?"
        from .functional import _map_shapes
        structure = _map_shapes(_shape_text, computed)
    leaves = flatten(structure) if not isinstance(structure, str) else [structure]
    if len(leaves) == 1:
        return leaves[0]
    return str(pack_sequence_as(structure, leaves)).replace("'", "")


def _map_leaves(fn, structure):
    from ...core.nest import flatten, pack_sequence_as
    return pack_sequence_as(structure, [fn(x) for x in flatten(structure)])


def _shape_text(shape) -> str:
    # Keras 3 joins the dims without a trailing comma: a rank-1 shape prints as "(None)"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _connections(layer, graph) -> str:
    parts = []
    for node in getattr(layer, "_inbound_nodes", []):
        if node not in graph.nodes:
            continue  # a call made for another model
        for tensor in node.input_tensors:
            source, node_index, tensor_index = tensor._keras_history
            parts.append(f"{source.name}[{node_index}][{tensor_index}]")
    return ", ".join(parts) or "-"


# -- the table ---------------------------------------------------------------------------

def render_table(header, rows, justify, requested, line_length) -> list:
    """The lines of a box table `line_length` wide, laid out as rich lays out Keras's table.

    `requested` holds each column's wished content width; like rich, the columns (each
    with one space of padding on both sides) then shrink evenly or grow in proportion to
    fill the line exactly.  Header cells sit at the bottom of their row, others at the top.

    >>> print("\\n".join(render_table(["a", "b"], [["x y", "1"]], ["left", "right"], [6, 4], 14)))
    ┏━━━━━━┳━━━━━┓
    ┃ a    ┃   b ┃
    ┡━━━━━━╇━━━━━┩
    │ x y  │   1 │
    └──────┴─────┘
    """
    widths = _fit_widths([w + 2 for w in requested], line_length - len(requested) - 1)

    def cell_lines(row):
        cells = [_wrap(text, w - 2, how) for text, w, how in zip(row, widths, justify)]
        return cells, max(len(c) for c in cells)

    def draw(row, edge, bottom_aligned):
        cells, height = cell_lines(row)
        out = []
        for i in range(height):
            parts = []
            for cell, w in zip(cells, widths):
                blank = height - len(cell)
                k = i - blank if bottom_aligned else i
                parts.append(" " + (cell[k] if 0 <= k < len(cell) else " " * (w - 2)) + " ")
            out.append(edge + edge.join(parts) + edge)
        return out

    def rule(left, fill, middle, right):
        return left + middle.join(fill * w for w in widths) + right

    lines = [rule("┏", "━", "┳", "┓")] + draw(header, "┃", True) + [rule("┡", "━", "╇", "┩")]
    for i, row in enumerate(rows):
        if i:
            lines.append(rule("├", "─", "┼", "┤"))
        lines += draw(row, "│", False)
    lines.append(rule("└", "─", "┴", "┘"))
    return lines


def _fit_widths(widths, available) -> list:
    """Shrink the columns evenly, or grow them in proportion, to a total of `available`."""
    total = sum(widths)
    if total > available:
        excess, remaining_ratio, out = total - available, len(widths), []
        for w in widths:
            # Python's round (half to even), as rich rounds
            cut = min(w, round(excess / remaining_ratio))
            out.append(w - cut)
            excess -= cut
            remaining_ratio -= 1
        return out
    if total < available:
        extra, remaining_ratio, out = available - total, total, []
        for w in widths:
            grow = math.ceil(w * extra / remaining_ratio) if remaining_ratio > 0 else extra
            out.append(w + grow)
            extra -= grow
            remaining_ratio -= w
        return out
    return list(widths)


def _wrap(text: str, width: int, justify: str) -> list:
    """Word-wrap `text` to `width`; a word longer than a line is cut with an ellipsis."""
    lines = []
    for raw in text.split("\n"):
        for line in _divide(raw, width):
            if len(line) > width:  # trailing spaces past the edge go first
                trailing = len(line) - len(line.rstrip())
                line = line[:len(line) - min(trailing, len(line) - width)]
            if justify == "left":
                line = _truncate(line, width).ljust(width)
            else:
                line = _truncate(line.rstrip(), width)
                left = width - len(line) if justify == "right" else (width - len(line)) // 2
                line = (" " * left + line).ljust(width)
            lines.append(_truncate(line, width))
    return lines


def _divide(text: str, width: int) -> list:
    """Split a line between words so each piece fits `width` where it can."""
    breaks, offset = [], 0
    for match in _WORD.finditer(text):
        start, word = match.start(), match.group()
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:  # it fits no line: it goes on its own line and gets cut
            if start:
                breaks.append(start)
            offset = len(word)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    bounds = [0] + breaks + [len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _truncate(text: str, width: int) -> str:
    return text[:width - 1] + "…" if len(text) > width else text
