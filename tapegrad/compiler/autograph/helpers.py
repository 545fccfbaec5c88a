"""``ag__``: the names converted code calls (TF's ``ag__`` module)."""
from .conversion import converted_call  # noqa: F401
from .operators import and_, assert_stmt, for_stmt, if_exp, if_stmt, not_, or_, while_stmt  # noqa: F401
from .variables import Undefined, UndefinedReturnValue, ld, retval  # noqa: F401
