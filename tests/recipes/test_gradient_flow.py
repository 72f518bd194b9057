"""recipes/gradient_flow.py on tiny settings: the plot and the table's story."""

import math

import pytest


@pytest.fixture
def gradient_flow(load_recipe):
    return load_recipe("recipes/gradient_flow.py")


TINY = [
    "--steps",
    "16",
    "--units",
    "8",
    "--train-steps",
    "5",
    "--batch-size",
    "16",
    "--probe-examples",
    "32",
    "--eval-examples",
    "32",
    "--sgd-steps",
    "1",
    "--jit-compile",
    "false",
    "--cells",
    "SimpleRNN,LSTM",
]


def test_recipe_plots_and_measures_the_flow(gradient_flow, tmp_path, capsys):
    table = gradient_flow.main([*TINY, "--output-dir", str(tmp_path)])
    png = tmp_path / "gradient_flow.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "|dL/dh(0)|" in printed and "without / with clipping" in printed

    rows = {(row["cell"], row["phase"]): row for row in table}
    assert set(rows) == {
        (cell, phase)
        for cell in ("SimpleRNN", "LSTM")
        for phase in ("init", "scaled", "trained")
    }
    for row in table:
        assert row["norms"].shape == (16,)
        assert row["ratio"] == pytest.approx(row["grad_first"] / row["grad_last"])
        assert row["clipped_norm"] == pytest.approx(min(row["global_norm"], 1.0))
    # Keras's initialisation: an orthogonal W_hh (radius 1) keeps a nearly
    # linear vanilla RNN's gradient, while the LSTM's forget gate, about
    # sigmoid(1) = 0.73, shrinks its gradient at every step.
    init, lstm = rows["SimpleRNN", "init"], rows["LSTM", "init"]
    assert init["spectral_radius"]["W_hh"] == pytest.approx(1.0, rel=1e-5)
    assert init["ratio"] > 10 * lstm["ratio"]
    # W_hh x 3: the vanilla RNN's gradient explodes; clipping caps it.
    scaled = rows["SimpleRNN", "scaled"]
    assert scaled["spectral_radius"]["W_hh"] == pytest.approx(3.0, rel=1e-5)
    assert scaled["ratio"] > 10 and scaled["global_norm"] > 10
    assert scaled["clipped_norm"] == pytest.approx(1.0)
    free, clipped = scaled["sgd_unclipped"], scaled["sgd_clipped"]
    assert clipped["update_norm"] <= 0.1 * 1.0 * 1.0001  # learning rate x clip_norm
    assert free["update_norm"] > 10 * clipped["update_norm"]
    assert math.isfinite(clipped["loss"])


def test_help_explains_every_option(gradient_flow, capsys):
    with pytest.raises(SystemExit):
        gradient_flow.main(["--help"])
    printed = capsys.readouterr().out
    for flag in ("--steps", "--train-steps", "--units", "--scale", "--clip-norm"):
        assert flag in printed
    assert "why vanilla RNNs forget" in printed and "--gate-bias" in printed
    with pytest.raises(ValueError, match="cells must be among"):
        gradient_flow.main(["--cells", "Transformer"])
