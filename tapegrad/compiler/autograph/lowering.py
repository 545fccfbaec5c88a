"""The first passes: loop directives, then ``break``, ``continue`` and ``return`` lowered to flags.

A converted ``if`` or loop body becomes a nested function (transformer.py), where ``break``,
``continue`` and ``return`` cannot reach the loop or the function.  As TensorFlow's
break/continue/return converters, they become flag variables and guarded code::

    while x > 0:                    break_ = False
        if x > 5:                   while not break_ and x > 0:
            break          ->           if x > 5:
        x -= 1                              break_ = True
                                        if not break_:
                                            x -= 1

``for`` loops get ``not break_`` as their extra test (ag__.for_stmt stops when it is false);
a loop's ``else`` runs after it, guarded by ``not break_``.  Returns set ``do_return`` and
``retval_``; the function ends with ``return ag__.retval(retval_)``; the statements after
an ``if`` whose one branch returns move into the other branch (TF's collapse of the common
``if c: return a`` / ``return b``), so both branches of a traced cond set the return value.
"""
from __future__ import annotations

import ast

from .nodes import ag, and_, assign, call, const, located, name, not_

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


# -- directives: tf.autograph.experimental.set_loop_options -------------------------------------

_LOOP_OPTIONS = ("parallel_iterations", "swap_memory", "maximum_iterations", "shape_invariants")


def lower_directives(tree, is_directive) -> None:
    """Move each ``set_loop_options(...)`` call statement of a loop body (at any depth, not in a
    nested loop or def) onto the loop as ``ag_loop_options`` ({option: expression}), as TF's
    directives converter; `is_directive(func_expr)` says whether a call's function is it."""
    _Directives(is_directive).visit(tree)


class _Directives(ast.NodeTransformer):
    def __init__(self, is_directive):
        self.is_directive = is_directive
        self.loops: list = []

    def _loop(self, node):
        self.loops.append(node)
        try:
            return self.generic_visit(node)
        finally:
            self.loops.pop()

    visit_While = visit_For = _loop

    def visit_FunctionDef(self, node):
        saved, self.loops = self.loops, []
        try:
            self.generic_visit(node)
        finally:
            self.loops = saved
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def generic_visit(self, node):
        super().generic_visit(node)
        if getattr(node, "body", None) == [] and not isinstance(node, ast.Module):
            node.body = [located(ast.Pass(), node)]   # the block held only the directive
        return node

    def visit_Expr(self, node):
        value = node.value
        if self.loops and isinstance(value, ast.Call) and self.is_directive(value.func):
            options = getattr(self.loops[-1], "ag_loop_options", {})
            for option, arg in zip(_LOOP_OPTIONS, value.args):
                options[option] = arg
            for kw in value.keywords:
                if kw.arg is not None:
                    options[kw.arg] = kw.value
            self.loops[-1].ag_loop_options = options
            return None
        return node


# -- a block rewritten with a flag -----------------------------------------------------------

def _rewrite(stmts, visit, flag):
    """Rewrite a block: each statement by visit(s) -> (statements, may set the flag, surely sets
    it); the statements after one that may set it are guarded by ``if not flag`` (flag()), those
    after one that surely sets it are dropped (unreachable).  Returns (block, may, surely)."""
    out, may_any = [], False
    for k, s in enumerate(stmts):
        new, may, surely = visit(s)
        out.extend(new)
        if surely:
            return out, True, True
        if may:
            may_any = True
            rest, _, _ = _rewrite(stmts[k + 1:], visit, flag)
            if rest:
                out.append(located(ast.If(test=not_(name(flag())), body=rest, orelse=[]), stmts[k + 1]))
            return out, True, False
    return out, may_any, False


def _visit_compound(s, visit, flag):
    """If/With/Try: rewrite their blocks; (statements, may, surely)."""
    if isinstance(s, ast.If):
        s.body, may_b, surely_b = _rewrite(s.body, visit, flag)
        s.orelse, may_o, surely_o = _rewrite(s.orelse, visit, flag)
        s.body = s.body or [located(ast.Pass(), s)]
        return [s], may_b or may_o, surely_b and surely_o
    if isinstance(s, (ast.With, ast.AsyncWith)):
        s.body, may, surely = _rewrite(s.body, visit, flag)
        s.body = s.body or [located(ast.Pass(), s)]
        return [s], may, surely
    if isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
        may = False
        s.body, m, _ = _rewrite(s.body, visit, flag)
        may |= m
        for h in s.handlers:
            h.body, m, _ = _rewrite(h.body, visit, flag)
            h.body = h.body or [located(ast.Pass(), h)]
            may |= m
        s.orelse, m, _ = _rewrite(s.orelse, visit, flag)
        may |= m
        s.finalbody, m, _ = _rewrite(s.finalbody, visit, flag)
        may |= m
        s.body = s.body or [located(ast.Pass(), s)]
        return [s], may, False
    return [s], False, False


# -- break and continue ---------------------------------------------------------------------------

def lower_loops(tree, namer):
    """Lower break and continue in every loop of `tree`, and move loop ``else`` clauses after them."""
    return _Loops(namer).visit(tree)


class _Loops(ast.NodeTransformer):
    def __init__(self, namer):
        self.namer = namer

    def _flagged(self, body, kind, base):
        """`body` with the loop's own `kind` statements (ast.Break/ast.Continue) setting a flag."""
        flag = []

        def get():
            return flag[0]

        def visit(s):
            if isinstance(s, kind):
                if not flag:
                    flag.append(self.namer.new(base))
                return [located(assign(flag[0], const(True)), s)], True, True
            if isinstance(s, (ast.While, ast.For, ast.AsyncFor) + _SCOPES):
                return [s], False, False  # an inner loop's break is its own
            return _visit_compound(s, visit, get)

        new, _, _ = _rewrite(body, visit, get)
        return new or [located(ast.Pass(), body[0])], (flag[0] if flag else None)

    def _loop(self, node):
        node = self.generic_visit(node)  # inner loops first
        if isinstance(node, ast.AsyncFor):
            return node
        node.body, cont = self._flagged(node.body, ast.Continue, "continue_")
        if cont is not None:
            node.body.insert(0, located(assign(cont, const(False)), node.body[0]))
        node.body, brk = self._flagged(node.body, ast.Break, "break_")
        orelse, node.orelse = node.orelse, []
        before, after = [], []
        if brk is not None:
            before.append(located(assign(brk, const(False)), node))
            if isinstance(node, ast.While):
                node.test = located(and_(not_(name(brk)), node.test), node.test)
            else:
                node.ag_extra_test = located(not_(name(brk)), node)
            if orelse:
                after.append(located(ast.If(test=not_(name(brk)), body=orelse, orelse=[]), orelse[0]))
        else:
            after = orelse
        return before + [node] + after

    visit_While = visit_For = _loop


# -- return ---------------------------------------------------------------------------------------------

def lower_returns(fn_node, namer) -> bool:
    """Lower the returns of one function (not of the functions nested in it) if a return is inside
    an if or a loop; True if it did."""
    if not _returns_in_control_flow(fn_node.body):
        return False
    do_return, retval = namer.new("do_return"), namer.new("retval_")
    rewriter = _Returns(do_return, retval)
    docstring = fn_node.body[:1] if _is_docstring(fn_node.body[0]) else []
    statements = fn_node.body[len(docstring):]
    body, _, _ = rewriter.block(statements)
    first = statements[0]
    start = [located(assign(retval, call(ag("UndefinedReturnValue"))), first)]
    if rewriter.used:
        start.insert(0, located(assign(do_return, const(False)), first))
    else:   # nothing reads the flag (no guard, no loop test): its assignments go
        body = _Unassign(do_return).visit(ast.Module(body=body, type_ignores=[])).body
    fn_node.body = docstring + start + body + \
        [located(ast.Return(value=call(ag("retval"), [name(retval)])), fn_node.body[-1])]
    return True


class _Unassign(ast.NodeTransformer):
    """Drop the assignments to one name (not in nested scopes)."""

    def __init__(self, target):
        self.target = target

    def visit_Assign(self, node):
        if (len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == self.target):
            return None
        return node

    def _scope(self, node):
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _scope

    def generic_visit(self, node):
        super().generic_visit(node)
        if getattr(node, "body", None) == [] and not isinstance(node, ast.Module):
            node.body = [located(ast.Pass(), node)]
        return node


def _is_docstring(s) -> bool:
    return isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)


def _returns_in_control_flow(body, inside=False) -> bool:
    for s in body:
        if isinstance(s, _SCOPES):
            continue
        if isinstance(s, ast.Return) and inside:
            return True
        nested = inside or isinstance(s, (ast.If, ast.While, ast.For))
        for field in ("body", "orelse", "finalbody"):
            if _returns_in_control_flow(getattr(s, field, None) or [], nested):
                return True
        for h in getattr(s, "handlers", None) or []:
            if _returns_in_control_flow(h.body, nested):
                return True
        for case in getattr(s, "cases", None) or []:
            if _returns_in_control_flow(case.body, nested):
                return True
    return False


def _surely_returns(block) -> bool:
    for s in block:
        if isinstance(s, ast.Return):
            return True
        if isinstance(s, ast.If) and _surely_returns(s.body) and _surely_returns(s.orelse):
            return True
        if isinstance(s, (ast.With, ast.AsyncWith)) and _surely_returns(s.body):
            return True
    return False


class _Returns:
    def __init__(self, do_return, retval):
        self.do_return, self.retval = do_return, retval
        self.used = False   # does anything read do_return (a guard, a loop's test)?

    def flag(self):
        self.used = True
        return self.do_return

    def block(self, stmts):
        stmts = self._collapse(list(stmts))
        return _rewrite(stmts, self.visit, self.flag)

    def _collapse(self, stmts):
        """`if c: return a` followed by more: the rest becomes the if's else (or body) instead."""
        for k, s in enumerate(stmts):
            rest = stmts[k + 1:]
            if isinstance(s, ast.If) and rest:
                if _surely_returns(s.body) and not _surely_returns(s.orelse):
                    s.orelse = s.orelse + rest
                    return stmts[:k + 1]
                if _surely_returns(s.orelse) and not _surely_returns(s.body):
                    s.body = s.body + rest
                    return stmts[:k + 1]
        return stmts

    def visit(self, s):
        if isinstance(s, ast.Return):
            value = s.value if s.value is not None else const(None)
            return [located(assign(self.do_return, const(True)), s),
                    located(assign(self.retval, value), s)], True, True
        if isinstance(s, _SCOPES):
            return [s], False, False
        if isinstance(s, ast.If):
            s.body, may_b, surely_b = self.block(s.body)
            s.orelse, may_o, surely_o = self.block(s.orelse)
            s.body = s.body or [located(ast.Pass(), s)]
            return [s], may_b or may_o, surely_b and surely_o
        if isinstance(s, (ast.While, ast.For)):
            s.body, may, _ = self.block(s.body)
            s.body = s.body or [located(ast.Pass(), s)]
            if may:
                self.used = True
                test = not_(name(self.do_return))
                if isinstance(s, ast.While):
                    s.test = located(and_(test, s.test), s.test)
                else:
                    extra = getattr(s, "ag_extra_test", None)
                    s.ag_extra_test = located(test if extra is None else and_(test, extra), s)
            return [s], may, False
        if isinstance(s, (ast.With, ast.AsyncWith, ast.Try)) or type(s).__name__ == "TryStar":
            blocks = [("body", s)] + [("body", h) for h in getattr(s, "handlers", [])] + \
                [("orelse", s), ("finalbody", s)]
            may = surely = False
            for field, owner in blocks:
                if not hasattr(owner, field):
                    continue
                new, m, sure = self.block(getattr(owner, field))
                if field == "body" and owner is s:
                    surely = sure and isinstance(s, (ast.With, ast.AsyncWith))
                setattr(owner, field, new or ([located(ast.Pass(), s)] if field == "body" else []))
                may |= m
            return [s], may, surely
        return [s], False, False
