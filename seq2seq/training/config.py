"""Recipe configuration: a dataclass, filled from a YAML file and flags.

Each field's `metadata["help"]` is its `--help` text. Precedence: defaults,
then `--config FILE.yaml`, then flags given on the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing

import yaml


class ConfigError(ValueError):
    """A bad option value: the message names the option and the value.

    Command-line programs report it in one line (`seq2seq.cli.run`).
    """


TRAINING_HELP = """\
Training is seq2seq.training.Trainer, shared by every recipe: --strategy
mirrored (with --num-cpu-devices 2 on a CPU) or multi-worker, --mixed-precision
true, --accumulate-steps K, --clip-norm, and --resume true to continue after a
crash or kill -9 from the last state in OUTPUT_DIR/state (written every
--checkpoint-every updates). Bad data or option values stop with one line,
"error: ...", and exit status 2."""


def option(default, help: str):
    """A config dataclass field with a default and its `--help` text."""
    return dataclasses.field(default=default, metadata={"help": help})


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _argument_type(field_type):
    origin = typing.get_origin(field_type)
    if origin in (typing.Union, types.UnionType):
        field_type = next(t for t in typing.get_args(field_type) if t is not type(None))
    if field_type is bool:
        return _parse_bool
    return field_type if field_type in (int, float, str) else str


def parse_config(config_class, argv=None, description=None):
    """An instance of `config_class` from `argv` (and `--config` YAML)."""
    hints = typing.get_type_hints(config_class)
    training = isinstance(config_class, type) and issubclass(
        config_class, TrainingConfig
    )
    parser = argparse.ArgumentParser(
        description=description,
        epilog=TRAINING_HELP if training else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="a YAML file of field: value pairs")
    # Read by `seq2seq.cli` before TensorFlow is imported; listed for --help.
    parser.add_argument(
        "--tf-logs",
        type=_parse_bool,
        default=False,
        metavar="TF_LOGS",
        help="show TensorFlow's start-up logs: CUDA, oneDNN, absl (default: False)",
    )
    # Imported by `seq2seq.cli.run` before `main` runs; listed for --help.
    parser.add_argument(
        "--import",
        dest="import_modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE (a module name or a .py file) first, e.g. one that "
        "registers a cell with seq2seq.layers.register_cell for --cell-type; "
        "repeatable",
    )
    for field in dataclasses.fields(config_class):
        default = field.default if field.default is not dataclasses.MISSING else None
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            dest=field.name,
            type=_argument_type(hints[field.name]),
            default=argparse.SUPPRESS,
            metavar=field.name.upper(),
            help=f"{field.metadata.get('help', '')} (default: {default})",
        )
    args = vars(parser.parse_args(argv))

    config_file = args.pop("config", None)
    args.pop("tf_logs")
    args.pop("import_modules")
    values = {}
    if config_file:
        try:
            with open(config_file, encoding="utf-8") as file:
                loaded = yaml.safe_load(file) or {}
        except (OSError, yaml.YAMLError) as error:
            parser.error(f"--config {config_file}: {error}")
        if not isinstance(loaded, dict):
            parser.error(f"{config_file}: expected field: value pairs")
        names = {f.name for f in dataclasses.fields(config_class)}
        unknown = sorted(set(loaded) - names)
        if unknown:
            parser.error(f"{config_file}: unknown field(s) {unknown}")
        values.update(loaded)
    values.update(args)
    return config_class(**values)


@dataclasses.dataclass
class TrainingConfig:
    """The options every recipe trains with; a recipe's `Config` subclasses it.

    A recipe changes a default by declaring the field again (dataclass fields
    keep their first position, so `--help` lists these first).
    """

    epochs: int = option(5, "training epochs (early stopping may end sooner)")
    patience: int = option(3, "epochs without validation improvement before stopping")
    clip_norm: float = option(
        1.0, "clip the gradients' global norm to this (0: no clipping)"
    )
    accumulate_steps: int = option(
        1, "batches whose gradients are pooled into one update (a k times larger batch)"
    )
    average_last: int = option(
        1,
        "end with the mean weights of the last N epochs' checkpoints "
        "(1: the best epoch's, as early stopping picked)",
    )
    strategy: str = option(
        "default", "default, mirrored (all local devices) or multi-worker (TF_CONFIG)"
    )
    num_cpu_devices: int = option(
        0, "split the CPU into N logical devices, for --strategy mirrored (0: don't)"
    )
    mixed_precision: bool = option(
        False, "mixed_bfloat16 on CPU, mixed_float16 with loss scaling on GPU"
    )
    jit_compile: bool = option(True, "compile the gradient computation with XLA")
    checkpoint_every: int = option(
        200, "updates between mid-epoch checkpoints (0: only at epoch ends)"
    )
    deterministic: bool = option(
        False, "deterministic TensorFlow ops, for bit-reproducible runs"
    )
    seed: int = option(
        0, "seed of initialisation, dropout, shuffling and generated or carved data"
    )
    output_dir: str = option("runs/train", "checkpoints, logs and results")
    resume: bool = option(
        False, "continue from OUTPUT_DIR/state (after a crash or kill -9)"
    )
