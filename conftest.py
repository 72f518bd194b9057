"""What every docstring example may use, for `pytest --doctest-modules`.

The examples in `seq2seq/` run with the names of their own module plus `np`,
`tf` and `keras`, in a temporary working directory (so the plotting examples
write their files there).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402


@pytest.fixture(autouse=True)
def _doctest_setup(request, doctest_namespace):
    if isinstance(request.node, pytest.DoctestItem):
        doctest_namespace.update(np=np, tf=tf, keras=keras)
        request.getfixturevalue("monkeypatch").chdir(
            request.getfixturevalue("tmp_path")
        )
        keras.utils.set_random_seed(0)
    yield
