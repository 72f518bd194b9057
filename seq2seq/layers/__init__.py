"""Recurrent layers written from the equations.

Cells compute one time step; `RNN` drives a cell over time; `SimpleRNN`,
`LSTM` and `GRU` are `RNN` with their cell built in; `Bidirectional` runs a
layer both ways; `CRF` scores and decodes tag paths. Weights use the names
and layout of Keras's built-in layers, so
`set_weights(keras_layer.get_weights())` works in both directions.
"""

from seq2seq.layers.attention import Attention, BahdanauAttention, LuongAttention
from seq2seq.layers.bidirectional import Bidirectional
from seq2seq.layers.cell_registry import (
    CellType,
    cell_names,
    get_cell_type,
    register_cell,
)
from seq2seq.layers.crf import CRF
from seq2seq.layers.gru import GRU, GRUCell
from seq2seq.layers.lstm import LSTM, LSTMCell
from seq2seq.layers.pooling import POOLING_MODES, SequencePooling
from seq2seq.layers.recurrent_cell import RecurrentCell
from seq2seq.layers.rnn import RNN, CellRNN, StackedRNNCells
from seq2seq.layers.simple_rnn import SimpleRNN, SimpleRNNCell

__all__ = [
    "Attention",
    "BahdanauAttention",
    "LuongAttention",
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "CRF",
    "CellType",
    "CellRNN",
    "GRUCell",
    "LSTMCell",
    "RecurrentCell",
    "SimpleRNN",
    "SimpleRNNCell",
    "POOLING_MODES",
    "SequencePooling",
    "StackedRNNCells",
    "cell_names",
    "get_cell_type",
    "register_cell",
]
