"""Turn a traced Graph into straight-line Python source that calls the op kernels directly.

One statement per node, each with the user's line it came from as a comment; values are
deleted after their last use so memory is freed as early as in eager mode; variables are
read by reference at the point of use; an elementwise op whose input dies at it writes its
result into that input's buffer (``out=``, see inplace.py).  The source is registered with
linecache, so a traceback through compiled code shows the generated lines.

    def train_step(images, labels):
        conv2d = _k0(images, model_conv2d_kernel._value)    # quickstart.py:31
        ...
"""
from __future__ import annotations

import functools
import itertools
import keyword
import linecache
import re

from ..core.source import generated
from . import inplace
from .graph import GuardFailed, _where as where
from .passes import options

_serial = itertools.count()


def _identifier(name: str, taken: set) -> str:
    base = re.sub(r"\W", "_", name) or "v"
    if base[0].isdigit() or keyword.iskeyword(base):
        base = "v_" + base
    candidate, n = base, 1
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate)
    return candidate


def generate(graph, checker=None):
    """(source, globals, name, {line: user site}) of a function mapping input arrays to output arrays.

    With `checker` (tf.debugging.enable_check_numerics' variant), ``checker(node index, output,
    *inputs)`` follows each op statement, and no op writes into its inputs.
    """
    taken = {"np", "_check"}
    env: dict = {}
    local: dict = {}
    args = [local.setdefault(i, _identifier(graph.names[i], taken)) for i in graph.inputs]
    var_names = {}
    for vid in graph.variable_args:  # variables passed to the function: parameters after the arrays
        args.append(var_names.setdefault(vid, _identifier("var_" + graph.names[vid], taken)))
    for vid, var in graph.variables.items():
        if vid not in var_names:
            env[var_names.setdefault(vid, _identifier("var_" + graph.names[vid], taken))] = var
    # warnings raised by kernels called from the generated code are tapegrad's, as the ops' own
    env["__name__"] = "tapegrad.function.compiled"
    for cid, value in graph.constants.items():
        name = _identifier(graph.names[cid], taken)
        env[name] = value
        local[cid] = name  # constants read like locals

    last_use: dict = {}
    for n, node in enumerate(graph.nodes):
        for i in node.in_ids:
            last_use[i] = n
    outputs = set(graph.outputs)

    def ref(i) -> str:
        if i in var_names:
            return f"{var_names[i]}._value"
        return local[i]

    def call_ref(i) -> str:  # a staged call or Branch gets a variable parameter itself
        return var_names[i] if i in graph.variable_args else ref(i)

    reuse = inplace.plan(graph) if options.inplace and checker is None else {}  # a check reads the inputs
    fn_name = _identifier(graph.name, taken)
    lines = [f"def {fn_name}({', '.join(args)}):"]
    env["_check"] = checker
    sites = {}  # generated line -> the user's site of the node on it
    for n, node in enumerate(graph.nodes):
        sites[len(lines) + 1] = node.site
        outs = [local.setdefault(o, _identifier(graph.names[o], taken)) for o in node.out_ids]
        if node.guard is not None:
            check = _identifier("_guard", taken)
            env[check] = node.guard
            env["_GuardFailed"] = GuardFailed
            text = f"if not {check}({ref(node.in_ids[0])}): raise _GuardFailed"
        else:
            into = reuse.get(n)
            if into is not None:
                label, fn = inplace.kernel(node.op.name)
                kernel = _identifier(label, taken)
                env[kernel] = fn
                target = ref(into.into)
                if into.checks:
                    target += f" if {' and '.join(f'{ref(i)}.flags.c_contiguous' for i in into.checks)} else None"
                call = f"{kernel}({', '.join(ref(i) for i in node.in_ids)}, out={target})"
            else:
                if node.op is not None:
                    kernel = _identifier("_" + node.op.name, taken)
                    env[kernel] = functools.partial(node.op.impl, **node.params) if node.params else node.op.impl
                else:
                    kernel = _identifier("_call_" + node.call.name.split(".")[-1], taken)
                    env[kernel] = node.call
                call = f"{kernel}({', '.join((ref if node.op is not None else call_ref)(i) for i in node.in_ids)})"
            if node.op is not None:
                text = f"{outs[0]} = {call}"
            elif outs:
                text = f"{', '.join(outs)}, = {call}"
            else:
                text = call
        lines.append(f"    {text}  # {where(node.site)}")
        if checker is not None and node.op is not None:
            lines.append(f"    _check({n}, {outs[0]}{''.join(', ' + ref(i) for i in node.in_ids)})")
        dead = sorted({local[i] for i in node.in_ids if last_use.get(i) == n and i not in outputs
                       and i in local and i not in graph.constants and i not in graph.inputs})
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    lines.append(f"    return ({''.join(ref(i) + ', ' for i in graph.outputs)})")
    return "\n".join(lines) + "\n", env, fn_name, sites


def compile_graph(graph, checker=None):
    """The compiled function (arrays in, tuple of arrays out) and its source; `checker`: see generate."""
    source, env, fn_name, sites = generate(graph, checker)
    filename = f"<tf.function {graph.name} #{next(_serial)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    generated[filename] = {line: site for line, site in sites.items() if site is not None}
    exec(compile(source, filename, "exec"), env)  # noqa: S102 - our own generated source
    return env[fn_name], source
