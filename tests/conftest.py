"""Shared test set-up: the TensorFlow backend, quiet logs, seeded randomness.

Hugging Face loaders stay offline: `datasets` reads these variables when it
is first imported (after this file), so a test never downloads, and its
cache is a temporary folder, removed at exit.
"""

import atexit
import importlib.util
import os
import pathlib
import shutil
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
HF_CACHE = tempfile.mkdtemp(prefix="seq2seq-tests-hf-")
os.environ["HF_DATASETS_CACHE"] = HF_CACHE
atexit.register(shutil.rmtree, HF_CACHE, ignore_errors=True)

import keras  # noqa: E402 (the environment above comes first)
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same seeds, so failures reproduce."""
    keras.utils.set_random_seed(1234)
    yield


ROOT = pathlib.Path(__file__).parents[1]


@pytest.fixture(scope="session")
def load_recipe():
    """Imports a script of the repository by its path: `load_recipe("recipes/ner.py")`.

    The scripts (recipes/, tokenizers/) are not a package; each is loaded once
    per session, under the name `<stem>_script`.
    """
    loaded = {}

    def load(path):
        if path not in loaded:
            name = f"{pathlib.Path(path).stem}_script"
            spec = importlib.util.spec_from_file_location(name, ROOT / path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses look their module up
            spec.loader.exec_module(module)
            loaded[path] = module
        return loaded[path]

    return load


@pytest.fixture
def rng():
    return np.random.default_rng(0)


SENTENCES = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "two men play football",
    "a man is reading a book",
    "the women sing in the street",
    "a girl rides a red bike",
]


@pytest.fixture(scope="session")
def spm_model(tmp_path_factory):
    """A 32-piece SentencePiece model trained on a few sentences: its path."""
    from seq2seq.text import train_sentencepiece

    folder = tmp_path_factory.mktemp("spm")
    train_sentencepiece(SENTENCES * 10, str(folder / "tiny"), 32, "unigram", 1.0)
    return folder / "tiny.model"
