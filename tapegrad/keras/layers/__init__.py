"""Keras layers (``tf.keras.layers``).

Images are NHWC (``data_format="channels_last"``) only.
"""
from .activation_layers import LeakyReLU, ReLU, Softmax  # noqa: F401
from .base import Layer  # noqa: F401
from .convolutional import Conv2D, Conv2DTranspose, DepthwiseConv2D  # noqa: F401
from .convolutional_variants import Conv1D, Conv1DTranspose, SeparableConv1D, SeparableConv2D  # noqa: F401
from .core import Activation, Dense, Embedding  # noqa: F401
from .input_spec import InputSpec  # noqa: F401
from .merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract  # noqa: F401
from .merging import (Dot, add, average, concatenate, dot, maximum, minimum, multiply,  # noqa: F401
                      subtract)
from .normalization import BatchNormalization, LayerNormalization  # noqa: F401
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D,  # noqa: F401
                      GlobalMaxPool2D, GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)
from .pooling import (AveragePooling1D, AvgPool1D, GlobalAveragePooling1D, GlobalAvgPool1D,  # noqa: F401
                      GlobalMaxPool1D, GlobalMaxPooling1D, MaxPool1D, MaxPooling1D)
from .preprocessing import CategoryEncoding, Discretization, Normalization, Rescaling  # noqa: F401
from .index_lookup import IntegerLookup, StringLookup  # noqa: F401
from .text_vectorization import TextVectorization  # noqa: F401
from .regularization import Dropout  # noqa: F401
from .image_preprocessing import (CenterCrop, RandomBrightness, RandomContrast, RandomCrop,  # noqa: F401
                                  RandomFlip, RandomRotation, RandomTranslation, RandomZoom, Resizing)
from .reshaping import Flatten, Reshape, UpSampling2D, ZeroPadding2D  # noqa: F401
from .core import Lambda, Masking  # noqa: F401
from .attention import Attention, MultiHeadAttention  # noqa: F401
from .rnn import (GRU, LSTM, RNN, Bidirectional, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell,  # noqa: F401
                  StackedRNNCells, TimeDistributed)

Convolution2D = Conv2D
Convolution2DTranspose = Conv2DTranspose
Convolution1D = Conv1D
Convolution1DTranspose = Conv1DTranspose
SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D


def __getattr__(name):
    """Input and InputLayer live with the functional model; loading them here lazily avoids a cycle."""
    if name in ("Input", "InputLayer"):
        from ..models import functional
        value = getattr(functional, name)
        globals()[name] = value
        return value
    from ..._compat import missing
    raise missing("tf.keras.layers", name)


def __dir__():
    return sorted(set(globals()) | {"Input", "InputLayer"})
