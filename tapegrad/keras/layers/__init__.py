"""Keras layers (``tf.keras.layers``).

Images are NHWC (``data_format="channels_last"``) only.
"""
from .activation_layers import LeakyReLU, ReLU, Softmax  # noqa: F401
from .base import Layer  # noqa: F401
from .convolutional import Conv2D, Conv2DTranspose, DepthwiseConv2D  # noqa: F401
from .core import Activation, Dense, Embedding  # noqa: F401
from .input_spec import InputSpec  # noqa: F401
from .merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract  # noqa: F401
from .normalization import BatchNormalization, LayerNormalization  # noqa: F401
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D,  # noqa: F401
                      GlobalMaxPool2D, GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)
from .regularization import Dropout  # noqa: F401
from .reshaping import Flatten, Reshape, UpSampling2D, ZeroPadding2D  # noqa: F401

Convolution2D = Conv2D
Convolution2DTranspose = Conv2DTranspose


def __getattr__(name):
    """Input and InputLayer live with the functional model; loading them here lazily avoids a cycle."""
    if name in ("Input", "InputLayer"):
        from ..models import functional
        value = getattr(functional, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tapegrad.keras.layers' has no attribute {name!r}")
