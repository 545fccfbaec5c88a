"""Recurrent layers (Keras 3): the RNN layer and its cells, SimpleRNN, LSTM, GRU, and the wrappers
Bidirectional and TimeDistributed."""
from .cells import DropoutRNNCell, GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells  # noqa: F401
from .layers import GRU, LSTM, SimpleRNN  # noqa: F401
from .rnn import RNN  # noqa: F401
from .wrappers import Bidirectional, TimeDistributed  # noqa: F401
