"""Training state on disk: written atomically, read back whole or not at all.

A state file is one `.npz` archive holding every variable's value (the
model's weights, its dropout seed generators, the optimizer's slots and step)
and a JSON record of where training stands (epoch, batch, update, early
stopping, history). It is written to a temporary file, flushed to disk and
renamed over the old one (`os.replace` is atomic on POSIX), with the
previous state kept as `previous.npz`, so a kill at any moment leaves a
complete latest state, or at worst the previous one.

Keras's `BackupAndRestore` does not serve here: it writes in place, and on
resume restarts the interrupted epoch from its first batch.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

LATEST = "latest.npz"
PREVIOUS = "previous.npz"
STAGED = "staged.npz"
_METADATA = "__metadata__"


class StateError(RuntimeError):
    """A state file is missing, unreadable or does not fit the model."""


def _fsync_directory(folder):
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write(path, write):
    """Call `write(file)` on a temporary file, then rename it to `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    _fsync_directory(folder)


def unique_variables(*groups):
    """The variables of `groups` in order, each once."""
    seen, result = set(), []
    for group in groups:
        for variable in group:
            if id(variable) not in seen:
                seen.add(id(variable))
                result.append(variable)
    return result


def save_state(folder, variables, metadata):
    """Write `variables` and the JSON-able `metadata` as `folder/latest.npz`.

    The old latest becomes `previous.npz`. Returns the path written.
    """
    arrays = {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
    record = {
        **metadata,
        "variables": [[v.path, list(v.shape)] for v in variables],
    }
    arrays[_METADATA] = np.frombuffer(json.dumps(record).encode(), np.uint8)
    latest = os.path.join(folder, LATEST)
    staged = os.path.join(folder, STAGED)
    atomic_write(staged, lambda file: np.savez(file, **arrays))
    if os.path.exists(latest):
        os.replace(latest, os.path.join(folder, PREVIOUS))
    os.replace(staged, latest)
    _fsync_directory(folder)
    return latest


def read_state(path):
    """`(arrays, metadata)` from one state file; `StateError` if unreadable."""
    try:
        with np.load(path) as archive:
            arrays = {name: archive[name] for name in archive.files}
        metadata = json.loads(arrays.pop(_METADATA).tobytes().decode())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise StateError(f"{path}: not a readable training state ({error})") from None
    return arrays, metadata


def latest_state(folder):
    """`(path, arrays, metadata)` of the newest readable state, or None.

    Candidates are `latest.npz`, `previous.npz` and `staged.npz` (complete,
    but not yet renamed when a kill came between the two renames); the one
    furthest into training wins. Unreadable files are skipped, saying why.
    """
    best = None
    for name in (LATEST, STAGED, PREVIOUS):
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            continue
        try:
            arrays, metadata = read_state(path)
        except StateError as error:
            print(f"skipping {error}")
            continue
        if best is None or metadata.get("update", 0) > best[2].get("update", 0):
            best = (path, arrays, metadata)
    return best


def restore_variables(path, variables, arrays, metadata):
    """Assign the saved values to `variables`, checking that they match."""
    saved = metadata["variables"]
    if len(saved) != len(variables):
        raise StateError(
            f"{path}: holds {len(saved)} variables, the model and optimizer "
            f"have {len(variables)}; was it written by a different configuration?"
        )
    for i, (variable, (name, shape)) in enumerate(zip(variables, saved, strict=True)):
        if list(variable.shape) != shape:
            raise StateError(
                f"{path}: variable {i} ({name}) has shape {shape}, but "
                f"{variable.path} has shape {list(variable.shape)}"
            )
    for i, variable in enumerate(variables):
        variable.assign(arrays[f"v{i:05d}"])
