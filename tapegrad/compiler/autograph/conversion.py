"""Converting functions: their source in, a new function of the converted code out, cached.

A function is converted once per process: its source is parsed (with the original file's
line numbers and columns), transformed (transformer.py) and compiled to a code object,
cached per code object (weakly, under a lock).  Converting a function object then makes a
``types.FunctionType`` of the converted code with that object's globals, defaults, name and
closure cells - plus a cell for ``ag__``, the helpers (helpers.py) - a microsecond's work,
so a closure made per call of its enclosing function converts with its own cells and the
cache holds no user object alive.  The code keeps the original file name and lines, so tracebacks and
tapegrad's ``user_site()`` point at the user's lines.  A method is compiled inside a class
of its class's name (private names mangle as they did) and keeps its ``__class__`` cell,
so ``super()`` works.

Not converted (returned as they are): functions marked ``do_not_convert``, functions of
modules that must not be (tapegrad, NumPy, the standard library, known libraries), classes,
builtins, generators, and functions whose source cannot be read (REPL, ``exec``) - those
with a warning, once, as TensorFlow's.
"""
from __future__ import annotations

import ast
import builtins
import functools
import inspect
import logging
import os
import sys
import threading
import types
import weakref

from . import context
from .analysis import Namer
from .nodes import located
from .operators import set_loop_options
from .py_builtins import OVERLOADS
from .transformer import transform

logger = logging.getLogger("tapegrad")

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep
# top-level modules whose functions are called, never converted (TF keeps such a list)
_DO_NOT_CONVERT = frozenset(sys.stdlib_module_names) | frozenset({
    "tapegrad", "numpy", "scipy", "tensorflow", "keras", "tf_keras", "jax", "jaxlib", "torch", "pandas",
    "matplotlib", "sklearn", "six", "absl", "wrapt", "pytest", "_pytest", "pluggy", "IPython", "ipykernel",
    "typing_extensions", "attr", "attrs", "tqdm", "PIL", "h5py", "google", "tensorboard", "graphviz",
    "numba", "cython", "setuptools", "pkg_resources", "importlib_metadata"})
_GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_FACTORY = "__autograph_factory"


class _Converted:
    """What converting one code object gave: the new code (None: keep the original), the converted
    source (for to_code), why it could not be converted (None if it could) and why it must not be
    (None if it may: a library's code, converted code itself)."""

    __slots__ = ("code", "excluded", "reason", "source")

    def __init__(self, code=None, source=None, reason=None, excluded=None):
        self.code, self.source, self.reason, self.excluded = code, source, reason, excluded


class _Cache:
    """The only process-wide state: what converting each code object gave, behind one lock (held
    while converting: each code converts once).  Keyed weakly by code, holding no user object:
    a function is made from the converted code on each call (with that function's own globals,
    defaults and closure cells, as TF instantiates its cached factories), so the cache keeps no
    closure, and no garbage, alive."""

    def __init__(self):
        self.lock = threading.RLock()
        self.codes = weakref.WeakKeyDictionary()


_cache = _Cache()
_GENERATED = _Converted(excluded="it is converted code")


# -- the public entry points -------------------------------------------------------------------------

def convert(fn):
    """`fn` with its control flow converted (AutoGraph), or `fn` itself when it cannot or must not be.

    Methods convert their function and stay bound; a callable object converts its ``__call__``.

    >>> import tapegrad as tf
    >>> from tapegrad.compiler.autograph import convert
    >>> def relu(x):
    ...     if x > 0:
    ...         return x
    ...     return 0.0
    >>> f = tf.function(relu)            # tf.function converts it when it traces
    >>> float(f(tf.constant(3.0))), float(f(tf.constant(-3.0))), f.experimental_get_tracing_count()
    (3.0, 0.0, 1)
    >>> convert(relu).__code__ is convert(relu).__code__   # converted once: the code is cached
    True
    """
    if type(fn) is types.FunctionType:
        return _converted_function(fn)
    if isinstance(fn, types.MethodType):
        func = fn.__func__
        conv = convert(func)
        return fn if conv is func else types.MethodType(conv, fn.__self__)
    if isinstance(fn, functools.partial):
        conv = convert(fn.func)
        return fn if conv is fn.func else functools.partial(conv, *fn.args, **fn.keywords)
    if isinstance(fn, type) or not callable(fn):
        return fn
    call = getattr(type(fn), "__call__", None)  # noqa: B004 - the class's function
    if type(call) is types.FunctionType:
        conv = _converted_function(call)
        if conv is not call:
            return types.MethodType(conv, fn)
    return fn


def converted_call(f, args, kwargs):
    """``f(*args, **kwargs)`` from converted code: a user function is converted first (recursively,
    as TF); tapegrad, NumPy, builtins (some overloaded for traced tensors: len, range, enumerate,
    zip, ...), classes and do_not_convert functions are called as they are.

    >>> from tapegrad.compiler.autograph import converted_call
    >>> converted_call(max, (3, 7), None), converted_call(sorted, ([2, 1],), {"reverse": True})
    (7, [2, 1])
    """
    if kwargs is None:
        kwargs = {}
    kind = type(f)
    if kind is types.FunctionType:
        return _converted_function(f)(*args, **kwargs)
    if kind is types.MethodType:
        func = f.__func__
        if type(func) is types.FunctionType:
            conv = _converted_function(func)
            if conv is not func:
                return conv(f.__self__, *args, **kwargs)
        return f(*args, **kwargs)
    if kind is types.BuiltinFunctionType or kind is type:
        overload = OVERLOADS.get(f)
        if overload is not None:
            return overload(*args, **kwargs)
        return f(*args, **kwargs)
    if kind is functools.partial:
        return converted_call(f.func, f.args + tuple(args), {**f.keywords, **kwargs})
    if isinstance(f, type):
        return f(*args, **kwargs)
    call = getattr(kind, "__call__", None)  # noqa: B004 - the class's function
    if type(call) is types.FunctionType:
        conv = _converted_function(call)
        if conv is not call:
            return conv(f, *args, **kwargs)
    return f(*args, **kwargs)


def do_not_convert(func=None):
    """Decorator: AutoGraph never converts `func`, nor what it calls (usable with or without parentheses).

    >>> import tapegrad as tf
    >>> @tf.autograph.experimental.do_not_convert
    ... def as_is(x):
    ...     return x * 2
    >>> tf.autograph.to_code(as_is)
    Traceback (most recent call last):
    ...
    ValueError: as_is is not converted: it is marked do_not_convert
    """
    if func is None:
        return do_not_convert

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with context.disabled():
            return func(*args, **kwargs)

    wrapper.__ag_do_not_convert__ = True
    return wrapper


def to_code(entity, recursive=True, experimental_optional_features=None) -> str:
    """The converted source of a function (``tf.autograph.to_code``), as ``ast.unparse`` writes it.

    >>> import tapegrad as tf
    >>> def sign(x):
    ...     if x > 0:
    ...         s = 1.0
    ...     else:
    ...         s = -1.0
    ...     return s
    >>> print(tf.autograph.to_code(sign))   # doctest: +NORMALIZE_WHITESPACE
    def sign(x):
        def get_state():
            return (s,)
        def set_state(vars_):
            nonlocal s
            s, = vars_
        def if_body():
            nonlocal s
            s = 1.0
        def else_body():
            nonlocal s
            s = -1.0
        s = ag__.Undefined('s')
        ag__.if_stmt(x > 0, if_body, else_body, get_state, set_state, ('s',), 1)
        return ag__.ld(s)
    """
    fn = _function_of(entity)
    return _entry(fn, entity).source + "\n"


def to_graph(entity, recursive=True, experimental_optional_features=None):
    """The converted function (``tf.autograph.to_graph``); ValueError if it cannot be converted.

    Called outside a tf.function, it runs as Python (an eager tensor's ``if`` is a Python ``if``).

    >>> import tapegrad as tf
    >>> def halve_odd(n):
    ...     if n % 2 == 1:
    ...         n = n // 2
    ...     return n
    >>> g = tf.autograph.to_graph(halve_odd)
    >>> g(7), int(g(tf.constant(7)))
    (3, 3)
    """
    _entry(_function_of(entity), entity)
    return convert(entity)


def enabled_call(method):
    """`method` converted when the running trace converts code (Keras' ``Layer.__call__``: a
    subclass's ``call`` with Python control flow on tensors works under tf.function); else itself.

    >>> from tapegrad.compiler.autograph import enabled_call
    >>> enabled_call(print) is print   # no tf.function is tracing
    True
    """
    if context.enabled_in_trace():
        return convert(method)
    return method


# -- conversion -----------------------------------------------------------------------------------------

def _function_of(entity):
    fn = entity
    if isinstance(fn, types.MethodType):
        fn = fn.__func__
    python_function = getattr(type(fn), "python_function", None)
    if isinstance(python_function, property):   # a tf.function
        fn = fn.python_function
        if isinstance(fn, types.MethodType):
            fn = fn.__func__
    if isinstance(fn, functools.partial):
        fn = fn.func
    if type(fn) is not types.FunctionType and callable(fn) and not isinstance(fn, type):
        call = getattr(type(fn), "__call__", None)  # noqa: B004 - the class's function
        if type(call) is types.FunctionType:
            fn = call
    return fn


def _entry(fn, entity) -> _Converted:
    """The conversion of `fn`, or ValueError saying why there is none."""
    label = getattr(entity, "__name__", None) or repr(entity)
    if type(fn) is not types.FunctionType:
        raise ValueError(f"{label} is not converted: it is not a Python function ({type(entity).__name__})")
    entry = _code_entry(fn)
    if entry.excluded is not None:
        raise ValueError(f"{label} is not converted: {entry.excluded}")
    if entry.reason is not None:
        raise ValueError(f"{label} could not be converted: {entry.reason}")
    return entry


def _converted_function(fn):
    """fn converted (a new function of the cached converted code), or fn itself."""
    if getattr(fn, "__ag_do_not_convert__", False):
        return fn
    code = _code_entry(fn).code
    return fn if code is None else _instantiate(fn, code)


def _code_entry(fn) -> _Converted:
    code = fn.__code__
    with _cache.lock:
        entry = _cache.codes.get(code)
        if entry is None:
            excluded = _excluded(fn)
            if excluded is not None:
                logger.debug("AutoGraph: not converting %s: %s", fn, excluded)
                entry = _Converted(excluded=excluded)
            else:
                entry = _transform(fn)
                if entry.reason is not None:
                    logger.warning("AutoGraph could not transform %s and will run it as-is.\nCause: %s\n"
                                   "To silence this warning, decorate the function with "
                                   "@tf.autograph.experimental.do_not_convert", fn, entry.reason)
            _cache.codes[code] = entry
        return entry


def _excluded(fn):
    """Why `fn` must not be converted, or None."""
    if getattr(fn, "__ag_do_not_convert__", False):
        return "it is marked do_not_convert"
    code = fn.__code__
    if code.co_flags & _GENERATOR_FLAGS:
        return "generators and coroutines are not converted"
    filename = code.co_filename
    if filename.startswith("<"):   # a doctest's or exec's code: the module name says nothing of it
        return None
    module = getattr(fn, "__module__", None)
    if isinstance(module, str) and module.partition(".")[0] in _DO_NOT_CONVERT:
        return f"module {module} is not converted"
    if os.path.abspath(filename).startswith(_PACKAGE_DIR):
        return "tapegrad's own code is not converted"
    return None


def _transform(fn) -> _Converted:
    try:
        node = _parse(fn)
    except (OSError, TypeError, SyntaxError, ValueError) as e:
        return _Converted(reason="could not get source code" if isinstance(e, OSError) else str(e))
    code = fn.__code__
    first_arg = None
    if "__class__" in code.co_freevars and code.co_argcount:
        first_arg = code.co_varnames[0]
    try:
        node = transform(node, Namer(node), _directive_test(fn), first_arg)
        source = ast.unparse(node)
        if not any(isinstance(n, ast.Name) and n.id == "ag__" for n in ast.walk(node)):
            return _Converted(source=source)  # nothing to convert: the original runs
        return _Converted(_compile(fn, node), source)
    except Exception as e:  # noqa: BLE001 - a construct the converter does not handle: run it as-is, as TF
        return _Converted(reason=f"{type(e).__name__}: {e}")


def _parse(fn):
    """The function's FunctionDef (decorators stripped) or Lambda, at its lines and columns in its file."""
    code = fn.__code__
    lines, lnum = inspect.findsource(fn)
    if code.co_name == "<lambda>":
        return _find_lambda(fn, lines)
    block = inspect.getblock(lines[lnum:])
    text = "".join(block)
    if block[0][:1].isspace():   # indented: parse it inside an `if` so columns stay the file's
        node = ast.parse("if 1:\n" + text).body[0].body[0]
        ast.increment_lineno(node, lnum - 1)
    else:
        node = ast.parse(text).body[0]
        ast.increment_lineno(node, lnum)
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name != code.co_name:
        raise ValueError(f"the source found for {fn} is not its definition (was the file changed?)")
    node.decorator_list = []
    return node


def _find_lambda(fn, lines):
    code = fn.__code__
    tree = ast.parse("".join(lines))
    params = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount +
                                   bool(code.co_flags & inspect.CO_VARARGS) +
                                   bool(code.co_flags & inspect.CO_VARKEYWORDS)])
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == code.co_firstlineno
             and _lambda_params(n.args) == params]
    if len(found) > 1:   # several lambdas with these parameters on the line: the code's columns tell
        cols = {p[2] for p in code.co_positions() if p[0] == code.co_firstlineno and p[2] is not None}
        found = [n for n in found
                 if any(n.body.col_offset <= c < (n.body.end_col_offset or 1 << 30) for c in cols)
                 and not any(isinstance(m, ast.Lambda) and m is not n for m in ast.walk(n))] or found
    if len(found) != 1:
        raise ValueError(f"could not identify the source of {fn}: {len(found)} lambdas with its parameters "
                         f"on line {code.co_firstlineno}")
    return found[0]


def _lambda_params(args) -> list:
    names = [a.arg for a in args.posonlyargs + args.args]
    names += [a.arg for a in args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return names


def _directive_test(fn):
    """Whether a call's function expression is set_loop_options, resolved in fn's namespace."""
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    missing = object()

    def resolve(expr):
        attrs = []
        while isinstance(expr, ast.Attribute):
            attrs.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name):
            return missing
        if expr.id in cells:
            try:
                obj = cells[expr.id].cell_contents
            except ValueError:
                return missing
        else:
            obj = fn.__globals__.get(expr.id, getattr(builtins, expr.id, missing))
        for attr in reversed(attrs):
            if obj is missing:
                return missing
            if isinstance(obj, (types.ModuleType, type)):
                obj = getattr(obj, attr, missing)
            else:
                obj = inspect.getattr_static(obj, attr, missing)
        return obj

    return lambda expr: resolve(expr) is set_loop_options


def _class_name(fn):
    parts = fn.__qualname__.split(".")
    return parts[-2] if len(parts) >= 2 and parts[-2] != "<locals>" else None


def _compile(fn, node):
    """The code object of the converted `node`, compiled inside a factory whose parameters are the
    original's free variables (and ``ag__``), so that they stay free variables of the new code."""
    code = fn.__code__
    class_name = _class_name(fn)
    params = ["ag__"] + [v for v in code.co_freevars if not (v == "__class__" and class_name)]
    target = node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else \
        located(ast.Assign(targets=[ast.Name(id="_ag_lambda", ctx=ast.Store())], value=node), node)
    if class_name is not None:
        target = located(ast.ClassDef(name=class_name, bases=[], keywords=[], body=[target],
                                      decorator_list=[]), node)
        if "type_params" in ast.ClassDef._fields:
            target.type_params = []
    # The def (or class) binds its name in the factory; declared global there, the name inside the
    # converted body (a recursive call, a class's own name) stays the global it is in the original.
    bound = [n for n in (getattr(target, "name", None),) if n and n not in params]
    header = [located(ast.Global(names=bound), node)] if bound else []
    factory = ast.FunctionDef(name=_FACTORY, args=ast.arguments(
        posonlyargs=[], args=[ast.arg(arg=p) for p in params], vararg=None, kwonlyargs=[], kw_defaults=[],
        kwarg=None, defaults=[]), body=[*header, target, ast.Return(value=ast.Constant(value=None))],
        decorator_list=[], returns=None, type_comment=None)
    if "type_params" in ast.FunctionDef._fields:
        factory.type_params = []
    located(factory, node)
    module = ast.Module(body=[factory], type_ignores=[])
    compiled = compile(module, code.co_filename, "exec", dont_inherit=True)
    found = _find_code(compiled, code.co_name)
    if found is None:
        raise RuntimeError(f"the converted code of {fn} was not found")
    stack = [found]
    while stack:   # a def or lambda of converted code (called from it) is converted already
        c = stack.pop()
        _cache.codes[c] = _GENERATED
        stack += [k for k in c.co_consts if isinstance(k, types.CodeType)]
    return found


def _find_code(code, name):
    """The shallowest code object named `name` among `code`'s constants (breadth first)."""
    level = [c for c in code.co_consts if isinstance(c, types.CodeType)]
    while level:
        for c in level:
            if c.co_name == name:
                return c
        level = [k for c in level for k in c.co_consts if isinstance(k, types.CodeType)]
    return None


def _instantiate(fn, code):
    """A function of the converted code with fn's globals, defaults, name and closure cells."""
    from . import helpers
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    closure = []
    for var in code.co_freevars:
        if var == "ag__":
            closure.append(types.CellType(helpers))
        elif var in cells:
            closure.append(cells[var])
        else:
            logger.warning("AutoGraph could not transform %s and will run it as-is.\n"
                           "Cause: no closure cell for %r", fn, var)
            return fn
    new = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, tuple(closure) or None)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__qualname__ = fn.__qualname__
    new.__module__ = fn.__module__
    new.__doc__ = fn.__doc__
    new.__annotations__ = fn.__annotations__
    new.__dict__.update(fn.__dict__)
    return new
