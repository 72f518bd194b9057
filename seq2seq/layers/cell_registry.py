"""The cells every head and diagnostic knows by name, and how to add one.

One mapping, name -> `CellType` (cell class, layer class, gate names), read
by the encoder, the decoder cell, the heads' `cell_type=` arguments and
`seq2seq.diagnostics`. A cell of your own becomes usable by name everywhere
once registered:

    register_cell("mgu", MinimalGatedUnit, gate_names=("f", "n"))
    EncoderDecoder(..., cell_type="mgu")

`cell_names()` lists what is registered, so a command line can offer it as
choices at argument-parsing time (after importing the module that registers
a user cell).
"""

from __future__ import annotations

import dataclasses

from seq2seq.layers.gru import GRU, GRUCell
from seq2seq.layers.lstm import LSTM, LSTMCell
from seq2seq.layers.rnn import RNN
from seq2seq.layers.simple_rnn import SimpleRNN, SimpleRNNCell


@dataclasses.dataclass(frozen=True)
class CellType:
    """A registered cell: how to build it alone and inside a layer.

    Attributes:
        name: The name heads take as `cell_type`.
        cell_class: Builds one step: `cell_class(units, name=...)`.
        layer_class: Builds the cell's whole-sequence layer,
            `layer_class(units, return_sequences=..., return_state=...,
            name=...)`, e.g. `LSTM` with its fused path; None runs the cell
            in the generic `RNN` driver.
        gate_names: One name per block of `units` columns of the cell's
            `recurrent_kernel`, in column order (LSTM `i, f, c, o`); the
            diagnostics name the blocks `W_<gate>h` after them. None if the
            cell has no such weight.
    """

    name: str
    cell_class: type
    layer_class: type | None = None
    gate_names: tuple[str, ...] | None = None

    def make_cell(self, units, **kwargs):
        """One cell of `units` units."""
        return self.cell_class(units, **kwargs)

    def make_layer(self, units, **kwargs):
        """The cell's sequence layer; `kwargs` are `RNN`'s (and a `name`)."""
        if self.layer_class is not None:
            return self.layer_class(units, **kwargs)
        return RNN(self.cell_class(units, name="cell"), **kwargs)


_REGISTRY: dict[str, CellType] = {}


def register_cell(name, cell_class, layer_class=None, gate_names=None) -> CellType:
    """Makes `cell_class` usable by `name` in every head and in diagnostics.

    Registering the same name again with the same classes and gate names
    does nothing (a module may be imported twice); anything else under a
    taken name raises. Register before building or loading a model that
    uses the name: a saved model stores the name, not the class.

    Args:
        name: What `cell_type=` will accept, e.g. `"mgu"`.
        cell_class: A cell: `cell_class(units, name=...)` builds one with a
            `state_size` and `call(inputs, states)` (see the README's
            "Writing your own cell").
        layer_class: Optional whole-sequence layer (see `CellType`);
            default the generic `RNN` driver over the cell.
        gate_names: Optional names of the blocks of the cell's
            `recurrent_kernel`, in column order, e.g. `("f", "n")`.

    Returns:
        The registered `CellType`.

    Registering a built-in again, as it is, changes nothing:

    >>> register_cell("gru", GRUCell, GRU, gate_names=("z", "r", "n")).layer_class
    <class 'seq2seq.layers.gru.GRU'>
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string. Received: name={name!r}")
    if not callable(cell_class):
        raise ValueError(
            f"cell_class must be a cell class. Received: cell_class={cell_class!r}"
        )
    if gate_names is not None:
        gate_names = tuple(gate_names)
        if not gate_names or not all(isinstance(g, str) and g for g in gate_names):
            raise ValueError(
                "gate_names must be a non-empty sequence of names, one per block "
                f"of recurrent_kernel. Received: gate_names={gate_names!r}"
            )
    entry = CellType(name, cell_class, layer_class, gate_names)
    existing = _REGISTRY.get(name)
    if existing is not None and existing != entry:
        raise ValueError(
            f"cell type {name!r} is already registered as {existing}; choose "
            f"another name. Received: cell_class={cell_class!r}"
        )
    _REGISTRY[name] = entry
    return entry


def cell_names() -> tuple[str, ...]:
    """The registered cell type names, built-in ones first.

    >>> cell_names()[:3]
    ('lstm', 'gru', 'simple_rnn')
    >>> get_cell_type("gru").gate_names
    ('z', 'r', 'n')
    """
    return tuple(_REGISTRY)


def get_cell_type(name, argument="cell_type") -> CellType:
    """The `CellType` registered as `name`; raises naming the choices."""
    if name not in _REGISTRY:
        raise ValueError(
            f"{argument} must be one of {list(_REGISTRY)!r} (register a cell of "
            "your own with seq2seq.layers.register_cell). "
            f"Received: {argument}={name!r}"
        )
    return _REGISTRY[name]


def cell_type_of(cell) -> CellType | None:
    """The registered `CellType` of a cell object (its class or a base), or
    None."""
    for entry in _REGISTRY.values():
        if type(cell) is entry.cell_class:
            return entry
    for entry in _REGISTRY.values():
        if isinstance(entry.cell_class, type) and isinstance(cell, entry.cell_class):
            return entry
    return None


register_cell("lstm", LSTMCell, LSTM, gate_names=("i", "f", "c", "o"))
register_cell("gru", GRUCell, GRU, gate_names=("z", "r", "n"))
register_cell("simple_rnn", SimpleRNNCell, SimpleRNN, gate_names=("h",))
