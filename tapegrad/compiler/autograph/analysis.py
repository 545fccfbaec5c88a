"""Static analysis of a function's AST: the names statements read and bind, liveness, fresh names.

The symbols are plain names (TF's "basic" symbols): ``self.x = v`` reads ``self`` and binds
nothing, so an attribute is never a cond output or loop variable.  Liveness is computed on
the structured AST (no CFG is needed: by the time it runs, ``break``, ``continue`` and
nested ``return`` have been lowered to flags, transformer.py), backwards, with a fixpoint
for loops.  Each ``if``/``while``/``for`` is annotated with ``ag_live_in`` and
``ag_live_out``: the names whose value may be read later (TF's LIVE_VARS_IN/OUT).
"""
from __future__ import annotations

import ast

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_LOOPS = (ast.While, ast.For)


# -- what a statement or an expression binds -------------------------------------------------------

def bound_names(nodes) -> set:
    """The names bound in the current scope by these statements (or this one), anywhere inside
    them but not inside nested scopes (a nested def binds its own name only)."""
    binder = _Binder()
    for node in nodes if isinstance(nodes, list) else [nodes]:
        binder.visit(node)
    return binder.names


class _Binder(ast.NodeVisitor):
    def __init__(self):
        self.names: set = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.names.add(node.id)

    def _scope(self, node):
        self.names.add(node.name)
        for d in node.decorator_list:
            self.visit(d)

    def visit_FunctionDef(self, node):
        self._scope(node)
        for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(d)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._scope(node)
        for b in node.bases + [k.value for k in node.keywords]:
            self.visit(b)

    def visit_Lambda(self, node):
        for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(d)

    def _comprehension(self, node):
        # its targets are its own; a walrus inside binds in the enclosing function
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr):
                self.visit(sub.target)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_ExceptHandler(self, node):
        if node.name:
            self.names.add(node.name)
        self.generic_visit(node)

    def visit_Import(self, node):
        for alias in node.names:
            self.names.add((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_MatchAs(self, node):
        if node.name:
            self.names.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node):
        if node.name:
            self.names.add(node.name)

    def visit_MatchMapping(self, node):
        if node.rest:
            self.names.add(node.rest)
        self.generic_visit(node)


def declared(body: list, kind) -> set:
    """Names a function body declares ``global`` (kind=ast.Global) or ``nonlocal``."""
    out: set = set()
    for node in _walk_scope(body):
        if isinstance(node, kind):
            out.update(node.names)
    return out


def _walk_scope(body):
    """Every node of a function body, not descending into nested scopes."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _SCOPES):
            continue
        stack.extend(ast.iter_child_nodes(node))


def arguments(args: ast.arguments) -> set:
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    return names


# -- what is read ---------------------------------------------------------------------------

def reads(node) -> set:
    """The names an expression (or the expressions of a statement) reads; a nested lambda,
    comprehension or def reads its free names."""
    visitor = _Reads()
    for n in node if isinstance(node, list) else [node]:
        visitor.visit(n)
    return visitor.names


class _Reads(ast.NodeVisitor):
    def __init__(self):
        self.names: set = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Load, ast.Del)):
            self.names.add(node.id)

    def _inner(self, parts, local):
        inner = _Reads()
        for p in parts:
            inner.visit(p)
        self.names.update(inner.names - local)

    def _defaults(self, args):
        for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(d)

    def visit_Lambda(self, node):
        self._defaults(node.args)
        self._inner([node.body], arguments(node.args))

    def visit_FunctionDef(self, node):
        self._defaults(node.args)
        for d in node.decorator_list:
            self.visit(d)
        own = declared(node.body, ast.Global) | declared(node.body, ast.Nonlocal)
        local = (arguments(node.args) | bound_names(node.body)) - own
        self._inner(node.body, local)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for p in node.bases + [k.value for k in node.keywords] + node.decorator_list:
            self.visit(p)
        self._inner(node.body, bound_names(node.body))

    def _comprehension(self, node):
        targets: set = set()
        for gen in node.generators:
            targets |= bound_names(gen.target)
        parts = [g for g in node.generators] + ([node.key, node.value] if isinstance(node, ast.DictComp)
                                                 else [node.elt])
        self._inner(parts, targets)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


# -- liveness --------------------------------------------------------------------------------

def annotate_liveness(body: list, exit_live=frozenset()) -> frozenset:
    """Annotate each if/while/for of a function body (not of nested defs) with ag_live_in and
    ag_live_out; `exit_live`: names live when the function returns (its globals, nonlocals)."""
    return _block(body, frozenset(exit_live), frozenset(exit_live))


def _block(stmts, live, exit_live):
    for s in reversed(stmts):
        live = _stmt(s, live, exit_live)
    return live


def _stmt(s, live_out, exit_live):
    if isinstance(s, ast.If):
        live_in = frozenset(reads(s.test)) | _block(s.body, live_out, exit_live) | \
            _block(s.orelse, live_out, exit_live)
    elif isinstance(s, ast.While):
        after = _block(s.orelse, live_out, exit_live)
        head = frozenset()
        while True:
            new = frozenset(reads(s.test)) | _block(s.body, head, exit_live) | after
            if new == head:
                break
            head = new
        live_in = head
    elif isinstance(s, (ast.For, ast.AsyncFor)):
        after = _block(s.orelse, live_out, exit_live)
        targets = bound_names(s.target)
        target_reads = frozenset(reads(s.target))
        extra = getattr(s, "ag_extra_test", None)
        extra_reads = frozenset(reads(extra)) if extra is not None else frozenset()
        head = frozenset()
        while True:
            new = extra_reads | ((_block(s.body, head, exit_live) - targets) | target_reads) | after
            if new == head:
                break
            head = new
        live_in = frozenset(reads(s.iter)) | head
    elif isinstance(s, (ast.With, ast.AsyncWith)):
        bound = bound_names([item.optional_vars for item in s.items if item.optional_vars is not None])
        live_in = frozenset(reads([item.context_expr for item in s.items])) | \
            (_block(s.body, live_out, exit_live) - bound)
    elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
        final_in = _block(s.finalbody, live_out, exit_live) if s.finalbody else live_out
        handlers = frozenset()
        for h in s.handlers:
            handlers |= (_block(h.body, final_in, exit_live) - {h.name}) | \
                (frozenset(reads(h.type)) if h.type is not None else frozenset())
        body_in = _block(s.body, _block(s.orelse, final_in, exit_live) | handlers, exit_live)
        live_in = body_in | handlers | (final_in if s.finalbody else frozenset())
    elif isinstance(s, ast.Match):
        live_in = frozenset(reads(s.subject)) | live_out
        for case in s.cases:
            live_in |= (_block(case.body, live_out, exit_live) - bound_names(case.pattern)) | \
                frozenset(reads(case.guard) if case.guard is not None else ())
    elif isinstance(s, (ast.Return, ast.Raise)):
        live_in = frozenset(reads(s)) | exit_live
    elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        live_in = (live_out - {s.name}) | frozenset(reads(s))
    elif isinstance(s, (ast.Break, ast.Continue)):
        live_in = live_out  # lowered before this runs; kept conservative
    else:
        kills = bound_names(s) if isinstance(s, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Import,
                                                 ast.ImportFrom, ast.Delete)) else set()
        if isinstance(s, ast.AnnAssign) and s.value is None:
            kills = set()
        uses = reads(s)
        if isinstance(s, ast.AugAssign) and isinstance(s.target, ast.Name):
            uses.add(s.target.id)
        live_in = (live_out - kills) | frozenset(uses)
    if isinstance(s, (ast.If, ast.While, ast.For)):
        s.ag_live_in, s.ag_live_out = live_in, live_out
    return live_in


# -- fresh names -----------------------------------------------------------------------------

class Namer:
    """Fresh names for generated code: the base name, else base_1, base_2, ... (TF's style),
    never a name the function's source uses."""

    def __init__(self, tree):
        used = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                used.add(node.id)
            elif isinstance(node, ast.arg):
                used.add(node.arg)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                used.add(node.name)
            elif isinstance(node, ast.alias):
                used.add((node.asname or node.name).split(".")[0])
        self.used = used

    def new(self, base: str) -> str:
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name
