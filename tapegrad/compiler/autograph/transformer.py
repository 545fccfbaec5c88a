"""AutoGraph's source transformation: a function's AST in, the converted AST out.

The passes, in TensorFlow's order: loop directives, break/continue, return (lowering.py);
``assert``; calls (``f(x)`` -> ``ag__.converted_call(f, (x,), None)``, so that functions
called from converted code are converted too); control flow; conditional expressions;
``and``/``or``/``not``; loads of possibly undefined names (``ag__.ld``).

Control flow follows TF's scheme.  The names a statement modifies that are live into or
out of it (analysis.py) are its *state*; ``get_state``/``set_state`` closures read and
write them, the blocks become nested functions declaring them ``nonlocal``, and a runtime
operator (operators.py) runs them as Python or stages tf.cond / tf.while_loop::

    if x > 0:                   def get_state():
        y = x                       return (y,)
    else:               ->      def set_state(vars_):
        y = -x                      nonlocal y
                                    (y,) = vars_
                                def if_body():
                                    nonlocal y
                                    y = x
                                def else_body():
                                    nonlocal y
                                    y = -x
                                y = ag__.Undefined('y')
                                ag__.if_stmt(x > 0, if_body, else_body, get_state, set_state, ('y',), 1)

A state name not bound before the statement starts as ``ag__.Undefined(name)``; the
runtime raises TF's errors when such a value reaches a traced cond or loop.
"""
from __future__ import annotations

import ast

from . import analysis
from .analysis import bound_names
from .lowering import lower_directives, lower_loops, lower_returns
from .nodes import ag, assign, call, const, function, lambda_, located, name, names_tuple, strings

# calls left as they are: they read the caller's frame, or run at trace time as Python (print)
_FRAME_BUILTINS = frozenset({"super", "locals", "globals", "vars", "dir", "eval", "exec", "print"})


def transform(node, namer, is_directive=lambda func: False, first_arg=None):
    """The converted copy of a FunctionDef or Lambda node (the node is changed in place).

    `first_arg`: for a method whose code has a ``__class__`` cell, the name of its first
    parameter: zero-argument ``super()`` becomes ``super(__class__, first_arg)``, which also
    works inside the generated nested functions.
    """
    for n in ast.walk(node):   # the user's text of each conditional expression, for its errors
        if isinstance(n, ast.IfExp):
            n.ag_text = ast.unparse(n)
    if isinstance(node, ast.Lambda):
        node = _Calls(None).visit(node)
        node = _IfExps().visit(node)
        return _Logical().visit(node)
    lower_directives(node, is_directive)
    lower_loops(node, namer)
    for fn in _functions(node):
        lower_returns(fn, namer)
    node = _Asserts().visit(node)
    node = _Calls(first_arg).visit(node)
    convert_function(node, namer)
    node = _IfExps().visit(node)
    node = _Logical().visit(node)
    for fn in _functions(node):
        _load_undefined(fn)
    return node


def _functions(node):
    """The user's FunctionDefs in `node` (itself first), not those in nested classes."""
    stack = [node]
    while stack:
        n = stack.pop()
        if (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                and getattr(n, "ag_generated", None) is None):
            yield n
        for child in ast.iter_child_nodes(n):
            if not isinstance(child, ast.ClassDef):
                stack.append(child)


# -- expressions -----------------------------------------------------------------------------

class _Asserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        self.generic_visit(node)
        msg = node.msg if node.msg is not None else const(None)
        return located(ast.Expr(value=call(ag("assert_stmt"), [node.test, lambda_(msg)])), node)


class _Calls(ast.NodeTransformer):
    """``f(a, *b, k=c, **d)`` -> ``ag__.converted_call(f, (a, *b), {'k': c, **d})``."""

    def __init__(self, first_arg):
        self.first_arg = first_arg
        self.depth = 0

    def visit_FunctionDef(self, node):
        self.depth += 1
        try:
            self.generic_visit(node)
        finally:
            self.depth -= 1
        return node

    visit_AsyncFunctionDef = visit_Lambda = visit_FunctionDef

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Name) and func.id in _FRAME_BUILTINS:
            if (func.id == "super" and not node.args and not node.keywords and self.first_arg
                    and self.depth <= 1):
                node.args = [located(name("__class__"), node), located(name(self.first_arg), node)]
            return node
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "ag__":
            return node
        args = ast.Tuple(elts=node.args, ctx=ast.Load())
        if node.keywords:
            kwargs = ast.Dict(keys=[None if k.arg is None else const(k.arg) for k in node.keywords],
                              values=[k.value for k in node.keywords])
        else:
            kwargs = const(None)
        return located(call(ag("converted_call"), [func, args, kwargs]), node)


class _IfExps(ast.NodeTransformer):
    def visit_IfExp(self, node):
        text = getattr(node, "ag_text", None) or ast.unparse(node)
        self.generic_visit(node)
        return located(call(ag("if_exp"), [node.test, lambda_(node.body), lambda_(node.orelse), const(text)]),
                       node)


class _Logical(ast.NodeTransformer):
    """``a and b`` -> ``ag__.and_(lambda: a, lambda: b)`` (lazy, as Python); ``not a`` -> ``ag__.not_(a)``."""

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        helper = "and_" if isinstance(node.op, ast.And) else "or_"
        result = node.values[-1]
        for value in reversed(node.values[:-1]):
            result = located(call(ag(helper), [lambda_(value), lambda_(result)]), node)
        return result

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not):
            return located(call(ag("not_"), [node.operand]), node)
        return node


# -- control flow ---------------------------------------------------------------------------------

class _Function:
    """What the control-flow pass knows of the function being converted."""

    def __init__(self, node, namer):
        self.namer = namer
        self.globals = analysis.declared(node.body, ast.Global)
        self.nonlocals = analysis.declared(node.body, ast.Nonlocal)
        self.declared = self.globals | self.nonlocals
        self.undefined: set = set()   # names given an ag__.Undefined initial value


def convert_function(node, namer) -> None:
    """Convert the control flow of one user function (and, recursively, of the functions in it)."""
    info = _Function(node, namer)
    analysis.annotate_liveness(node.body, exit_live=info.declared)
    defined = analysis.arguments(node.args) | info.declared
    node.body = convert_block(node.body, info, defined) or [located(ast.Pass(), node)]
    node.ag_undefined = info.undefined


def convert_block(stmts, info, defined: set) -> list:
    """The statements with each if/while/for converted; `defined`: the names that may be bound in
    the current (generated or user) function at this point - updated as the block goes."""
    out = []
    for s in stmts:
        if isinstance(s, ast.If):
            out += _convert_if(s, info, defined)
        elif isinstance(s, ast.While):
            out += _convert_while(s, info, defined)
        elif isinstance(s, ast.For):
            out += _convert_for(s, info, defined)
        else:
            if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
                convert_function(s, info.namer)
            elif isinstance(s, (ast.With, ast.AsyncWith)):
                defined |= bound_names([i.optional_vars for i in s.items if i.optional_vars is not None])
                s.body = convert_block(s.body, info, defined) or [located(ast.Pass(), s)]
            elif isinstance(s, ast.AsyncFor):
                defined |= bound_names(s.target)
                s.body = convert_block(s.body, info, defined) or [located(ast.Pass(), s)]
                s.orelse = convert_block(s.orelse, info, defined)
            elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
                s.body = convert_block(s.body, info, defined) or [located(ast.Pass(), s)]
                for h in s.handlers:
                    if h.name:
                        defined.add(h.name)
                    h.body = convert_block(h.body, info, defined) or [located(ast.Pass(), h)]
                s.orelse = convert_block(s.orelse, info, defined)
                s.finalbody = convert_block(s.finalbody, info, defined)
            elif isinstance(s, ast.Match):
                for case in s.cases:
                    defined |= bound_names(case.pattern)
                    case.body = convert_block(case.body, info, defined) or [located(ast.Pass(), case)]
            out.append(s)
            defined |= bound_names(s)
    return out


def _state(node, modified) -> list:
    live_in, live_out = node.ag_live_in, node.ag_live_out
    return sorted(v for v in modified if v in live_in or v in live_out)


def _declarations(state, info) -> list:
    decls = []
    globals_ = [v for v in state if v in info.globals]
    others = [v for v in state if v not in info.globals]
    if globals_:
        decls.append(ast.Global(names=globals_))
    if others:
        decls.append(ast.Nonlocal(names=others))
    return decls


def _state_functions(state, info):
    """get_state() returns the state names' values; set_state(vars_) assigns them."""
    get_name, set_name, param = info.namer.new("get_state"), info.namer.new("set_state"), "vars_"
    getter = function(get_name, [], [ast.Return(value=names_tuple(state))], generated="state")
    if state:
        setter_body = _declarations(state, info) + [ast.Assign(targets=[names_tuple(state, store=True)],
                                                              value=name(param))]
    else:
        setter_body = [ast.Pass()]
    setter = function(set_name, [param], setter_body, generated="state")
    return getter, setter


def _initial(state, info, defined) -> list:
    """``x = ag__.Undefined('x')`` for each state name that may not be bound yet."""
    undefined = [v for v in state if v not in defined and v not in info.declared]
    info.undefined.update(undefined)
    return [assign(v, call(ag("Undefined"), [const(v)])) for v in undefined]


def _convert_if(node, info, defined) -> list:
    modified = bound_names(node.body) | bound_names(node.orelse)
    state = _state(node, modified)
    outputs = [v for v in state if v in node.ag_live_out]
    state = outputs + [v for v in state if v not in node.ag_live_out]  # outputs first, as TF
    inits = _initial(state, info, defined)
    getter, setter = _state_functions(state, info)
    body_name, else_name = info.namer.new("if_body"), info.namer.new("else_body")
    inner = set(state) | info.declared
    body = convert_block(node.body, info, set(inner))
    orelse = convert_block(node.orelse, info, set(inner))
    decls = _declarations(state, info)
    if_body = function(body_name, [], decls + body)
    else_body = function(else_name, [], decls + orelse)
    stmt = ast.Expr(value=call(ag("if_stmt"), [node.test, name(if_body.name), name(else_body.name),
                                               name(getter.name), name(setter.name), strings(state),
                                               const(len(outputs))]))
    defined.update(state)
    return located([getter, setter, if_body, else_body] + inits + [stmt], node)


def _options(node, extra=()) -> ast.Dict:
    options = dict(extra)
    options.update(getattr(node, "ag_loop_options", {}))
    return ast.Dict(keys=[const(k) for k in options], values=list(options.values()))


def _convert_while(node, info, defined) -> list:
    state = _state(node, bound_names(node.body) | bound_names(node.test))
    inits = _initial(state, info, defined)
    getter, setter = _state_functions(state, info)
    body_name, test_name = info.namer.new("loop_body"), info.namer.new("loop_test")
    body = convert_block(node.body, info, set(state) | info.declared)
    decls = _declarations(state, info)
    loop_body = function(body_name, [], decls + body)
    test_decls = _declarations([v for v in state if v in bound_names(node.test)], info)
    loop_test = function(test_name, [], test_decls + [ast.Return(value=node.test)])
    stmt = ast.Expr(value=call(ag("while_stmt"), [name(loop_test.name), name(loop_body.name),
                                                  name(getter.name), name(setter.name), strings(state),
                                                  _options(node)]))
    defined.update(state)
    return located([getter, setter, loop_body, loop_test] + inits + [stmt], node)


def _convert_for(node, info, defined) -> list:
    state = _state(node, bound_names(node.body) | bound_names(node.target))
    inits = _initial(state, info, defined)
    getter, setter = _state_functions(state, info)
    body_name, iterate = info.namer.new("loop_body"), info.namer.new("itr")
    extra = getattr(node, "ag_extra_test", None)
    extra_name = info.namer.new("extra_test") if extra is not None else None
    target = located(ast.Assign(targets=[node.target], value=name(iterate)), node.target)
    body = convert_block([target] + node.body, info, set(state) | info.declared)
    decls = _declarations(state, info)
    loop_body = function(body_name, [iterate], decls + body)
    parts = [getter, setter, loop_body]
    if extra is not None:
        extra_test = function(extra_name, [], [ast.Return(value=extra)])
        parts.append(extra_test)
        extra_ref = name(extra_test.name)
    else:
        extra_ref = const(None)
    options = _options(node, {"iterate_names": const(ast.unparse(node.target))})
    stmt = ast.Expr(value=call(ag("for_stmt"), [node.iter, extra_ref, name(loop_body.name), name(getter.name),
                                                name(setter.name), strings(state), options]))
    defined.update(state)
    return located(parts + inits + [stmt], node)


# -- loads of names that may be undefined ------------------------------------------------------------

def _load_undefined(fn) -> None:
    """Wrap reads of the names given an Undefined initial value in ``ag__.ld`` (TF's variables
    converter): reading one that is still undefined raises UnboundLocalError, as Python would."""
    names = getattr(fn, "ag_undefined", None)
    if names:
        loads = _Loads(names)
        fn.body = [loads.visit(s) for s in fn.body]
        fn.body = [s for item in fn.body for s in (item if isinstance(item, list) else [item])]


class _Loads(ast.NodeTransformer):
    def __init__(self, names):
        self.names = names

    def visit_FunctionDef(self, node):
        kind = getattr(node, "ag_generated", None)
        if kind == "body":
            self.generic_visit(node)
        return node  # a state function reads the raw values; a nested user function is its own

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        return node

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.names:
            return located(call(ag("ld"), [name(node.id)]), node)
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        if isinstance(node.target, ast.Name) and node.target.id in self.names:
            return [located(ast.Expr(value=call(ag("ld"), [name(node.target.id)])), node), node]
        return node
