"""TensorFlow's error types (``tf.errors``), raised where TensorFlow raises them."""


class OpError(Exception):
    """Base of the errors an op raises while it runs (TensorFlow's ``OpError``)."""

    def __init__(self, message: str, node_def=None, op=None):
        super().__init__(message)
        self.message = message
        self.node_def = node_def
        self.op = op


class InvalidArgumentError(OpError, ValueError):
    """An op got an argument it cannot accept: mixed dtypes, bad shapes, out-of-range labels."""


class NotFoundError(OpError):
    pass


class OutOfRangeError(OpError):
    pass


class FailedPreconditionError(OpError):
    pass


class UnimplementedError(OpError):
    pass


class DataLossError(OpError):
    """Stored data is unreadable or damaged (a corrupt cache or checkpoint file)."""


class OperatorNotAllowedInGraphError(TypeError):
    """A symbolic tensor was used where a Python value is needed (``bool()``, iteration)."""
