"""The user's own source, read with ``ast`` as tracebacks read it: the call that asked why a gradient is
None (its target and sources as written), the assignments in its scope, and the lines that rebind a
variable or compute a value before the tape began - what ``why.py`` quotes back to the user.
"""
from __future__ import annotations

import ast
import copy
import linecache
from typing import NamedTuple

from ..core.source import site_line


class Assign(NamedTuple):
    """One assignment statement of the user's source, for one name it assigns (see `CallSite`)."""
    line: int
    text: str
    value: ast.AST | None   # the value this name gets (its element, for `a, b = x, y`)
    node: ast.stmt
    uses: tuple             # the names and dotted attributes that value reads, in source order
    name: str = ""


class CallSite:
    """The user's call (gradient, explain, why_none) at a site, read from the source with ast.

    >>> text = "v = tf.Variable(1.0)\\nv = v + 1.0\\nwith tape:\\n    y = v * v\\ntape.explain(y, v)"
    >>> tree = ast.parse(text)
    >>> call = CallSite(None, tree, tree.body[3].value, tree)
    >>> call.target_name, call.sources_text, call.rebinding("v").text, call.last_assignment("y").line
    ('y', 'v', 'v = v + 1.0', 4)
    """

    _METHODS = {"gradient": 0, "explain": 0, "jacobian": 0, "why_none": 1}  # -> index of the target arg

    def __init__(self, code=None, tree=None, call=None, scope=None):
        self.code, self.tree, self.node, self.scope = code, tree, call, scope
        self.target_name = self.sources_text = None
        self._sources = None
        self._by_name = None
        if call is not None:
            first = self._METHODS[_callee(call)]
            args = list(call.args)
            kw = {k.arg: k.value for k in call.keywords}
            target = args[first] if len(args) > first else kw.get("target")
            sources = args[first + 1] if len(args) > first + 1 else kw.get("sources", kw.get("source"))
            self.target_name = ast.unparse(target) if target is not None else None
            self.sources_text = ast.unparse(sources) if sources is not None else None
            self._sources = sources

    @classmethod
    def find(cls, site) -> CallSite:
        """The call at `site`; cached, since a training loop asks at the same line every step."""
        if site is None:
            return cls()
        tree = _parse(site[0].co_filename)
        hit = _call_sites.get(site)
        if hit is None or hit.tree is not tree:
            if len(_call_sites) > 256:
                _call_sites.clear()
            hit = _call_sites[site] = cls._find(site, tree)
        return hit

    @classmethod
    def _find(cls, site, tree) -> CallSite:
        code = site[0]
        line = site_line(site)
        if tree is None or line is None:
            return cls(code)
        best = scope = None
        for node, parents in _walk(tree):
            if isinstance(node, ast.Call) and _callee(node) in cls._METHODS and \
                    node.lineno <= line <= (node.end_lineno or node.lineno):
                if best is None or node.lineno >= best.lineno:
                    best = node
                    scope = next((p for p in reversed(parents)
                                  if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef))), tree)
        return cls(code, tree, best, scope)

    def source_names(self, n: int) -> list[str]:
        node = self._sources
        if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) == n and \
                not any(isinstance(e, ast.Starred) for e in node.elts):
            return [ast.unparse(e) for e in node.elts]
        if node is not None and n == 1:
            return [ast.unparse(node)]
        text = self.sources_text or "sources"
        return [f"{text}[{i}]" for i in range(n)]

    def _assignments(self, name: str | None) -> list:
        """Every assignment to `name` in the call's scope, in line order (indexed once per call site)."""
        if self._by_name is None:
            by: dict = {}
            for node, _ in _walk(self.scope, into_functions=False) if self.scope is not None else ():
                if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                    for target, value in _pairs(node):
                        key = ast.unparse(target)
                        by.setdefault(key, []).append(Assign(node.lineno, ast.unparse(node), value, node,
                                                              _uses(node, value), key))
            for found in by.values():
                found.sort(key=lambda a: a.line)
            self._by_name = by
        return self._by_name.get(name, []) if name else []

    def last_assignment(self, name: str | None, upto: int | None = None) -> Assign | None:
        """The last assignment to `name` at or before line `upto` (default: the call's line)."""
        if upto is None:
            upto = self.node.lineno if self.node is not None else 1 << 30
        before = [a for a in self._assignments(name) if a.line <= upto]
        return before[-1] if before else None

    def assignment_line(self, name: str | None) -> int | None:
        """The line of the last assignment to `name` before the call (None when unknown)."""
        a = self.last_assignment(name)
        return a.line if a is not None else None

    def made_variable(self, name: str, upto: int) -> bool:
        """Whether `name`, as of line `upto`, was last assigned a `tf.Variable(...)`."""
        a = self.last_assignment(name, upto)
        return a is not None and _creates_variable(a.value)

    def rebinding(self, name: str) -> Assign | None:
        """The statement that rebinds a variable's name to a computed tensor: the last one before the
        call, else (a loop's `w = w - lr * g` below it) the first one after."""
        found = self._assignments(name)
        made = [a.line for a in found if _creates_variable(a.value)]
        # after a tf.Variable(...) of that name; or, as the name's first assignment here, from itself
        # (`v = v + 1.0` of a parameter): `x = x * 2` of a tf.constant is no variable's rebinding
        rebinds = [a for a in found if a.value is not None and not _creates_variable(a.value) and
                   (any(m < a.line for m in made) or (a is found[0] and name in a.uses))]
        before = [a for a in rebinds if self.node is None or a.line <= self.node.lineno]
        return before[-1] if before else rebinds[0] if rebinds else None

    def feeding(self, target: str, source: str, start: int) -> Assign | None:
        """The assignment of a value that `target` uses (directly or through other names) and that was
        computed from `source` before line `start`, where the tape began: a part the tape never saw."""
        if self.node is None:
            return None
        todo, seen = [(target, self.node.lineno)], set()
        while todo and len(seen) < 200:
            name, upto = todo.pop()
            a = self.last_assignment(name, upto)
            if a is None or (name, a.line) in seen:
                continue
            seen.add((name, a.line))
            if a.line >= start:
                todo.extend((n, a.line - 1) for n in reversed(a.uses) if n != source)  # first use first
            elif name != target and self._reads(a, source):
                return a
        return None

    def _reads(self, a: Assign, source: str) -> bool:
        """Whether the statement `a` computes from `source`, directly or through earlier assignments."""
        todo, seen = [a], set()
        while todo and len(seen) < 200:
            a = todo.pop()
            if source in a.uses:
                return True
            seen.add((a.name, a.line))
            for n in a.uses:
                b = self.last_assignment(n, a.line - 1)
                if b is not None and (n, b.line) not in seen:
                    todo.append(b)
        return False

    def with_block(self, tape_site) -> tuple | None:
        """(first, last) line of the `with` statement that opened the tape."""
        if self.tree is None or tape_site is None or tape_site[0] is not self.code:
            return None
        line = site_line(tape_site)
        for node, _ in _walk(self.tree):
            if isinstance(node, (ast.With, ast.AsyncWith)) and node.lineno == line:
                return node.lineno, node.end_lineno or node.lineno
        return None

    def site_at(self, line: int):
        """A site for `line` of the call's code (what format_site shows), or None."""
        if self.code is not None:
            for start, _, ln in self.code.co_lines():
                if ln == line:
                    return self.code, start
        return None


def _callee(call: ast.Call) -> str | None:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _creates_variable(value) -> bool:
    return isinstance(value, ast.Call) and _callee(value) == "Variable"


def _pairs(node):
    """(target, value) of each name an assignment binds; `a, b = x, y` pairs a with x and b with y."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    for target in targets:
        value = node.value
        if isinstance(target, (ast.Tuple, ast.List)):
            paired = isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts)
            for i, t in enumerate(target.elts):
                yield t, value.elts[i] if paired else value
        else:
            yield target, value


def _uses(node, value) -> tuple:
    reads = [n for n in ast.walk(value) if isinstance(n, (ast.Name, ast.Attribute))
             and isinstance(n.ctx, ast.Load)] if value is not None else []
    if isinstance(node, ast.AugAssign):  # `h += 1` reads h too
        reads.append(node.target)
    return tuple(dict.fromkeys(ast.unparse(n) for n in sorted(reads, key=lambda n: (n.lineno, n.col_offset))))


# what makes a tensor from Python values, not from other tensors (`computed_before_tape` excludes them)
_MAKERS = {"constant", "convert_to_tensor", "Variable", "zeros", "ones", "fill", "zeros_like", "ones_like",
           "eye", "range", "linspace", "normal", "uniform", "truncated_normal", "array", "asarray"}


def computed(value) -> bool:
    """Whether a value is computed from other values (an expression, a call), not made from literals.

    >>> computed(ast.parse("v * 3.0").body[0].value), computed(ast.parse("tf.constant(3.0)").body[0].value)
    (True, False)
    """
    if isinstance(value, ast.Call):
        return _callee(value) not in _MAKERS
    return isinstance(value, (ast.BinOp, ast.UnaryOp, ast.Subscript))


def origins(value) -> list[str]:
    """The local names a value is computed from (`v` in `v * 3.0`; not `tf` in `tf.exp(v)`).

    >>> origins(ast.parse("tf.exp(v) * w").body[0].value)
    ['v', 'w']
    """
    bases = {id(n.value) for n in ast.walk(value) if isinstance(n, ast.Attribute)}
    calls = {id(n.func) for n in ast.walk(value) if isinstance(n, ast.Call)}
    names = [n for n in ast.walk(value) if isinstance(n, ast.Name) and id(n) not in bases | calls]
    return list(dict.fromkeys(n.id for n in sorted(names, key=lambda n: (n.lineno, n.col_offset))))


def in_place(name: str, node) -> str:
    """The in-place update a rebinding meant: `v.assign_add(1.0)` for `v = v + 1.0`.

    >>> [in_place("w", ast.parse(s).body[0]) for s in ("w = w - lr * g", "w *= 0.5", "w = tf.exp(w)")]
    ['w.assign_sub(lr * g)', 'w.assign(w * 0.5)', 'w.assign(tf.exp(w))']
    """
    value = ast.BinOp(node.target, node.op, node.value) if isinstance(node, ast.AugAssign) else node.value
    if isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Sub)):
        if ast.unparse(value.left) == name:
            how = "add" if isinstance(value.op, ast.Add) else "sub"
            return f"{name}.assign_{how}({ast.unparse(value.right)})"
        if isinstance(value.op, ast.Add) and ast.unparse(value.right) == name:
            return f"{name}.assign_add({ast.unparse(value.left)})"
    return f"{name}.assign({ast.unparse(value)})"


def as_float(value) -> str | None:
    """The creation call made float: `tf.constant(3.0)` for `tf.constant(3)`; None when not a literal.

    >>> made = ("tf.constant([1, 2])", "tf.Variable(3, dtype=tf.int32)", "tf.argmax(x)")
    >>> [as_float(ast.parse(s).body[0].value) for s in made]
    ['tf.constant([1.0, 2.0])', 'tf.Variable(3.0, dtype=tf.float32)', None]
    """
    if not isinstance(value, ast.Call) or len(value.args) != 1:  # a second positional may be the dtype
        return None
    value = copy.deepcopy(value)
    ints = [n for n in ast.walk(value.args[0]) if isinstance(n, ast.Constant) and type(n.value) is int]
    dtype = next((k for k in value.keywords if k.arg == "dtype"), None)
    if not ints and dtype is None:
        return None
    for n in ints:
        n.value = float(n.value)
    if dtype is not None:  # `dtype=tf.int32` -> `dtype=tf.float32`, in the module the user calls it from
        module = value.func.value if isinstance(value.func, ast.Attribute) else None
        dtype.value = ast.Attribute(module, "float32", ast.Load()) if module is not None else \
            ast.Constant("float32")
    return ast.unparse(value)


def _walk(node, into_functions=True, parents=()):
    """ast.walk with each node's ancestors; optionally not into nested function bodies."""
    yield node, parents
    for child in ast.iter_child_nodes(node):
        if not into_functions and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                                     ast.ClassDef)):
            continue
        yield from _walk(child, into_functions, parents + (node,))


_parsed: dict = {}
_call_sites: dict = {}


def _parse(filename: str):
    """The file's ast (cached by its text); None when the source is not available."""
    lines = linecache.getlines(filename)
    if not lines:
        return None
    text = "".join(lines)
    hit = _parsed.get(filename)
    if hit is not None and hit[0] == text:
        return hit[1]
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    if len(_parsed) > 64:
        _parsed.clear()
    _parsed[filename] = (text, tree)
    return tree
