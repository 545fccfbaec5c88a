"""Small AST builders for the code AutoGraph generates (TF's templates, written as functions)."""
from __future__ import annotations

import ast


def name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Store() if store else ast.Load())


def const(value) -> ast.Constant:
    return ast.Constant(value=value)


def ag(attr: str) -> ast.Attribute:
    """``ag__.attr``: a helper of the converted code's runtime (helpers.py)."""
    return ast.Attribute(value=name("ag__"), attr=attr, ctx=ast.Load())


def call(func, args=(), keywords=()) -> ast.Call:
    return ast.Call(func=func, args=list(args), keywords=list(keywords))


def assign(target: str, value) -> ast.Assign:
    return ast.Assign(targets=[name(target, store=True)], value=value)


def not_(expr) -> ast.UnaryOp:
    return ast.UnaryOp(op=ast.Not(), operand=expr)


def and_(a, b) -> ast.BoolOp:
    return ast.BoolOp(op=ast.And(), values=[a, b])


def names_tuple(names, store: bool = False) -> ast.Tuple:
    return ast.Tuple(elts=[name(n, store) for n in names], ctx=ast.Store() if store else ast.Load())


def strings(names) -> ast.Tuple:
    return ast.Tuple(elts=[const(n) for n in names], ctx=ast.Load())


def no_arguments(params=()) -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[ast.arg(arg=p) for p in params], vararg=None, kwonlyargs=[],
                         kw_defaults=[], kwarg=None, defaults=[])


def lambda_(body) -> ast.Lambda:
    return ast.Lambda(args=no_arguments(), body=body)


def function(fname: str, params, body, generated: str = "body") -> ast.FunctionDef:
    """A generated nested function; ``ag_generated`` tells the later passes what it is."""
    node = ast.FunctionDef(name=fname, args=no_arguments(params), body=list(body) or [ast.Pass()],
                           decorator_list=[], returns=None, type_comment=None)
    if hasattr(ast.FunctionDef, "type_params") or "type_params" in ast.FunctionDef._fields:
        node.type_params = []
    node.ag_generated = generated
    return node


def located(node, like):
    """`node` (a statement, an expression or a list of them) at `like`'s place in the user's source:
    tracebacks and tapegrad's user_site() show the user's line for generated code."""
    if isinstance(node, list):
        return [located(n, like) for n in node]
    if getattr(node, "lineno", None) is None and getattr(like, "lineno", None) is not None:
        node.lineno, node.col_offset, node.end_lineno, node.end_col_offset = _span(like)
    ast.fix_missing_locations(node)
    return node


def _span(like):
    """One line of `like`: its first line, to the end of its header (an if's test, a for's iterable)
    when that ends there.  Generated code spans one line: a multi-line span would make Python put
    a generated call (``ag__.if_stmt(...)``) at the end of the user's block in tracebacks."""
    line, col = like.lineno, like.col_offset
    head = (like.test if isinstance(like, (ast.If, ast.While))
            else like.iter if isinstance(like, ast.For) else like)
    if getattr(head, "end_lineno", None) == line:
        return line, col, line, head.end_col_offset
    if getattr(like, "end_lineno", None) == line:
        return line, col, line, like.end_col_offset
    return line, col, line, col
