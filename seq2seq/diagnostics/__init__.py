"""See inside a network: gradient flow through time and attention maps.

- `hidden_state_gradients`: ‖∂L/∂h(k)‖ at every step k of a recurrent layer,
  through the recurrence (`probe_states` is the mechanism);
- `spectral_radius`: of W_hh, or of each gate's block of it;
- `gradient_norms`: the global gradient norm before and after clipping;
- `attention_weights`, `plot_attention`: an `EncoderDecoder`'s attention under
  teacher forcing, and its heat map;
- `plot_gradient_flow`: ‖∂L/∂h(k)‖ against k on a log scale.

Plots need matplotlib, imported only when a plotting function is called.
"""

from seq2seq.diagnostics.attention_maps import attention_weights, plot_attention
from seq2seq.diagnostics.gradient_flow import (
    GradientNorms,
    gradient_norms,
    hidden_state_gradients,
    plot_gradient_flow,
    probe_states,
    spectral_radius,
)

__all__ = [
    "GradientNorms",
    "attention_weights",
    "gradient_norms",
    "hidden_state_gradients",
    "plot_attention",
    "plot_gradient_flow",
    "probe_states",
    "spectral_radius",
]
