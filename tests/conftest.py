"""Shared test set-up: the TensorFlow backend, quiet logs, seeded randomness."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same seeds, so failures reproduce."""
    keras.utils.set_random_seed(1234)
    yield


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
    import sentencepiece

    folder = tmp_path_factory.mktemp("spm")
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES * 10) + "\n", encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(folder / "tiny"),
        vocab_size=32,
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return folder / "tiny.model"
