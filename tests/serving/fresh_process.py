"""Calls an export in a fresh process that imports only TensorFlow.

The process imports `tensorflow` (and `tensorflow_text` for exports whose
graph holds SentencePiece ops), never `seq2seq`, loads the SavedModel, calls
its `serving_default` signature on each batch of `text`, and prints every
output as JSON. So a test proves the export serves without this package, at
several batch sizes, including an empty batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    if sys.argv[3] == "text-ops":
        import tensorflow_text  # noqa: F401  (the SentencePiece ops)
    serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]

    def plain(value):
        if value.dtype == tf.string:
            return tf.nest.map_structure(
                lambda b: b.decode("utf-8", "replace"), value.numpy().tolist()
            )
        return value.numpy().tolist()

    results = []
    for batch in json.loads(sys.argv[2]):
        texts = tf.constant([bytes.fromhex(t) for t in batch], dtype=tf.string)
        outputs = serve(text=texts)
        result = {name: plain(value) for name, value in outputs.items()}
        result["dtypes"] = {name: value.dtype.name for name, value in outputs.items()}
        results.append(result)
    watched = ("seq2seq", "tensorflow_text")
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in watched)
    print(json.dumps({"results": results, "modules": loaded}))
    """
)


def serve_in_fresh_process(path, batches, text_ops=True) -> list[dict]:
    """Each batch's outputs from `serving_default`, run in a fresh process.

    Args:
        path: The SavedModel folder.
        batches: Lists of texts (`str`, or `bytes` that need not be UTF-8).
        text_ops: Whether the export needs tensorflow_text's ops (exports
            with a SentencePiece tokenizer); without, the process must not
            load tensorflow_text at all.

    Returns:
        One dict per batch: output name -> its value as nested lists (strings
        decoded as UTF-8, invalid bytes replaced), and `dtypes`: output name
        -> dtype name.
    """
    encoded = [
        [(t if isinstance(t, bytes) else t.encode("utf-8")).hex() for t in batch]
        for batch in batches
    ]
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            os.fspath(path),
            json.dumps(encoded),
            "text-ops" if text_ops else "plain",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert not [m for m in report["modules"] if m.startswith("seq2seq")]
    assert ("tensorflow_text" in report["modules"]) == text_ops
    return report["results"]
