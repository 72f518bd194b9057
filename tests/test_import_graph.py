"""The package's floors: no module imports one from a higher floor.

Each module's imports are read with `ast` (top-level and inside functions),
so the check needs no import of the package. Modules of one floor do not
import each other either (layers and text are independent; so are data and
decoding); within its own subpackage a module imports freely.
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "seq2seq"

FLOORS = {
    # the bottom: imports nothing from the package
    "validation": 0,
    "tagging_schemes": 0,
    # cells, the RNN driver, attention, CRF; tokenizers and featurizers
    "layers": 1,
    "text": 1,
    # tf.data loaders; search loops that know only a `step` callable
    "data": 2,
    "decoding": 2,
    # the heads, assembled from layers (and text's featurizer constants)
    "models": 3,
    # what runs models: training, evaluation, export, diagnostics
    "training": 4,
    "serving": 4,
    "diagnostics": 4,
    # scoring decodes through the export's own translator
    "evaluation": 5,
    # the programs' entry: quiet start, one-line errors for data and options
    "cli": 6,
}


def unit_of(module: str) -> str:
    """`seq2seq.layers.crf` -> `layers`; `seq2seq.validation` -> `validation`."""
    return module.split(".")[1]


def imported_units(source: str) -> set[str]:
    """The package units a module's source imports."""
    units = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module == "seq2seq":  # from seq2seq import layers, validation
                names = [f"seq2seq.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        else:
            continue
        units.update(unit_of(n) for n in names if n.startswith("seq2seq."))
    return units


def violations(unit: str, source: str) -> list[str]:
    """The imports of a module of `unit` that break the floors."""
    return sorted(
        f"{unit} (floor {FLOORS[unit]}) imports {other} (floor {FLOORS[other]})"
        for other in imported_units(source)
        if other != unit and FLOORS[other] >= FLOORS[unit]
    )


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if relative.parts == ("seq2seq", "__init__"):
            continue  # the package root may import what it re-exports
        yield ".".join(relative.parts), path


def test_every_unit_has_a_floor():
    units = {unit_of(name) for name, _ in modules()}
    assert units <= set(FLOORS), f"give these a floor: {units - set(FLOORS)}"


def test_no_module_imports_a_higher_or_equal_floor():
    found = {
        name: violations(unit_of(name), path.read_text(encoding="utf-8"))
        for name, path in modules()
    }
    assert len(found) > 40  # every module of the package was read
    assert {name: v for name, v in found.items() if v} == {}


def test_the_bottom_floor_imports_nothing_from_the_package():
    for name in ("validation", "tagging_schemes"):
        source = (PACKAGE / f"{name}.py").read_text(encoding="utf-8")
        assert imported_units(source) == set(), name


def test_the_check_catches_upward_and_sideways_imports():
    crf_before = "import keras\nfrom seq2seq.data.conll import SCHEMES, split_tag\n"
    assert violations("layers", crf_before) == [
        "layers (floor 1) imports data (floor 2)"
    ]
    features_before = "def f():\n    from seq2seq.layers import validation\n"
    assert violations("text", features_before) == [
        "text (floor 1) imports layers (floor 1)"
    ]
    assert violations("models", "from seq2seq import layers, validation\n") == []
    assert violations("layers", "import seq2seq.training.trainer\n") == [
        "layers (floor 1) imports training (floor 4)"
    ]
