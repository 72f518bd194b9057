"""Runs a recurrent layer in both directions and merges the two."""

from __future__ import annotations

import keras
import tensorflow as tf

from seq2seq import validation
from seq2seq.layers import masking
from seq2seq.layers.rnn import RNN

MERGE_MODES = ("concat", "sum", "ave", "mul", None)


def as_list_of_shapes(shape, return_state):
    """`[output_shape, *state_shapes]` from an RNN's `compute_output_shape`."""
    return list(shape) if return_state else [shape]


def _check_rnn(argument, value):
    # Only our RNN reverses the valid prefix; Keras's go_backwards flips the
    # padding too, which the re-alignment in `call` would undo wrongly.
    if not isinstance(value, RNN):
        raise ValueError(
            f"{argument} must be a seq2seq.layers.RNN layer (RNN, LSTM, GRU, "
            f"SimpleRNN). Received: {argument}={value!r}"
        )


def _renamed_copy(layer, prefix, **overrides):
    config = keras.saving.serialize_keras_object(layer)
    name = layer.name.removeprefix("forward_").removeprefix("backward_")
    config["config"].update(name=f"{prefix}_{name}", **overrides)
    return keras.saving.deserialize_keras_object(config)


@keras.saving.register_keras_serializable(package="seq2seq")
class Bidirectional(keras.layers.Layer):
    """A bidirectional wrapper for `RNN` layers.

    The forward copy of `layer` reads each sequence from the first step to the
    last; the backward copy reads each sequence's valid part from its last
    valid step to its first, so padding stays padding, and its outputs are put
    back in input order before merging. Weights are the forward layer's then
    the backward layer's, as in `keras.layers.Bidirectional`.

    Masks: the mask is given to both directions; with `return_sequences`,
    padded steps output zeros in both and the mask is passed on.

    Args:
        layer: A `seq2seq.layers.RNN` layer (`LSTM`, `GRU`, ...) reading
            forwards. It is copied from its config, so its weights are not
            shared.
        merge_mode: How the directions' outputs are combined: `"concat"`,
            `"sum"`, `"ave"`, `"mul"`, or None for a list of both.
        backward_layer: Optional `RNN` layer for the backward direction, with
            `go_backwards=True` and the same `return_*` flags as `layer`.
        **kwargs: Base `keras.layers.Layer` arguments.

    Call arguments:
        sequences: `[batch, time, features]`.
        initial_state: Optional list: the forward states then the backward
            states.
        mask: Optional boolean `[batch, time]`.
        training: Whether dropout is applied.

    Returns:
        The merged output (two outputs with `merge_mode=None`); with
        `return_state`, followed by the forward then the backward final
        states.

    >>> from seq2seq.layers import LSTM
    >>> layer = Bidirectional(LSTM(8, return_sequences=True), merge_mode="sum")
    >>> layer(np.zeros((2, 5, 3))).shape
    TensorShape([2, 5, 8])
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        validation.one_of("merge_mode", merge_mode, MERGE_MODES)
        _check_rnn("layer", layer)
        if backward_layer is not None:
            _check_rnn("backward_layer", backward_layer)
        if layer.go_backwards:
            raise ValueError(
                "layer must read forwards; Bidirectional makes the backward copy. "
                f"Received: layer.go_backwards={layer.go_backwards}"
            )
        super().__init__(**kwargs)
        self.merge_mode = merge_mode
        self.forward_layer = _renamed_copy(layer, "forward")
        if backward_layer is None:
            backward_layer = _renamed_copy(layer, "backward", go_backwards=True)
        self.backward_layer = backward_layer
        for attr in ("return_sequences", "return_state"):
            forward, backward = (getattr(x, attr) for x in (layer, backward_layer))
            if forward != backward:
                raise ValueError(
                    f"backward_layer must have the same {attr} as layer. "
                    f"Received: layer.{attr}={forward}, "
                    f"backward_layer.{attr}={backward}"
                )
        if not backward_layer.go_backwards:
            raise ValueError(
                "backward_layer must have go_backwards=True. "
                f"Received: backward_layer.go_backwards={backward_layer.go_backwards}"
            )
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for direction in (self.forward_layer, self.backward_layer):
            direction.zero_output_for_mask = self.return_sequences
        self.supports_masking = True

    def _state_counts(self) -> list[int]:
        """How many states the forward and the backward layer each have."""
        return [len(d.state_size) for d in (self.forward_layer, self.backward_layer)]

    @property
    def layer(self):
        """The forward layer: what `layer` was copied into."""
        return self.forward_layer

    def build(self, sequences_shape, initial_state_shape=None):
        for direction in (self.forward_layer, self.backward_layer):
            if not direction.built:
                direction.build(sequences_shape)

    def _merge(self, forward, backward):
        if self.merge_mode == "concat":
            return tf.concat([forward, backward], axis=-1)
        if self.merge_mode == "sum":
            return forward + backward
        if self.merge_mode == "ave":
            return (forward + backward) / 2
        if self.merge_mode == "mul":
            return forward * backward
        return [forward, backward]

    def call(self, sequences, initial_state=None, mask=None, training=None):
        forward_state = backward_state = None
        if initial_state is not None:
            initial_state = list(initial_state)
            counts = self._state_counts()
            if len(initial_state) != sum(counts):
                raise ValueError(
                    f"initial_state must hold {counts[0]} forward then {counts[1]} "
                    f"backward state(s). Received: {len(initial_state)} state(s)"
                )
            half = counts[0]
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        forward = self.forward_layer(
            sequences, initial_state=forward_state, mask=mask, training=training
        )
        backward = self.backward_layer(
            sequences, initial_state=backward_state, mask=mask, training=training
        )
        states = ()
        if self.return_state:
            states = tuple(forward[1:]) + tuple(backward[1:])
            forward, backward = forward[0], backward[0]
        if self.return_sequences:
            # The backward layer returns its outputs in the order it computed
            # them; reversing the valid prefix again restores input order.
            lengths = masking.sequence_lengths(mask)
            backward = masking.reverse_valid_steps(backward, lengths)
        output = self._merge(forward, backward)
        if not self.return_state:
            return output
        if self.merge_mode is None:
            return (*output, *states)
        return (output, *states)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        directions = [
            as_list_of_shapes(
                d.compute_output_shape(sequences_shape), self.return_state
            )
            for d in (self.forward_layer, self.backward_layer)
        ]
        (forward, *forward_states), (backward, *backward_states) = directions
        if self.merge_mode == "concat":
            outputs = [(*forward[:-1], forward[-1] + backward[-1])]
        elif self.merge_mode is None:
            outputs = [forward, backward]
        else:
            outputs = [forward]
        if not self.return_state:
            return outputs[0] if len(outputs) == 1 else outputs
        return (*outputs, *forward_states, *backward_states)

    def compute_mask(self, sequences, mask=None):
        output_mask = mask if self.return_sequences else None
        outputs = [output_mask] * (2 if self.merge_mode is None else 1)
        if self.return_state:
            num_states = sum(self._state_counts())
            return outputs + [None] * num_states
        return outputs[0] if len(outputs) == 1 else outputs

    def get_config(self):
        config = super().get_config()
        # The forward copy stands for `layer`; from_config copies it again
        # under the same name.
        config["layer"] = keras.saving.serialize_keras_object(self.forward_layer)
        config["merge_mode"] = self.merge_mode
        config["backward_layer"] = keras.saving.serialize_keras_object(
            self.backward_layer
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("layer", "backward_layer"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
