"""Bounded shapes: the compiled translator sees a fixed set of shapes only,
and padding to them changes no translation; the warm-up records reach each."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from seq2seq import serving
from seq2seq.models import EncoderDecoder
from seq2seq.text import SentencePieceTokenizer

BATCH_SIZES = (1, 2, 4, 8)
LENGTHS = (16, 32, 40)


def test_length_buckets_double_up_to_the_maximum():
    assert serving.length_buckets(256) == (16, 32, 64, 128, 256)
    assert serving.length_buckets(16) == (16,)
    assert serving.length_buckets(17) == (16, 17)
    with pytest.raises(ValueError, match="max_length must be >= 1. Received: 0"):
        serving.length_buckets(0)


def test_run_in_buckets_calls_only_the_bucket_shapes():
    def fn(ids):
        # Each row says the shape fn was called with, and returns its ids.
        code = tf.shape(ids)[0] * 1000 + tf.shape(ids)[1]
        return tf.fill([tf.shape(ids)[0]], code), ids

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def bucketed(ids):
        signature = (tf.TensorSpec([None], tf.int32), tf.TensorSpec(None, tf.int32))
        return serving.run_in_buckets(fn, ids, BATCH_SIZES, LENGTHS, signature)

    rng = np.random.default_rng(0)
    seen = set()
    for batch in range(0, 21):
        for time in (1, 15, 16, 17, 33, 40):
            ids = rng.integers(1, 50, size=(batch, time)).astype(np.int32)
            codes, returned = (t.numpy() for t in bucketed(ids))
            assert codes.shape == (batch,) and returned.shape[0] == batch
            # The rows come back in order, padded with zeros on the right only.
            np.testing.assert_array_equal(returned[:, :time], ids)
            assert not returned[:, time:].any()
            seen.update(codes.tolist())
            if batch == 0:
                assert returned.shape[1] in LENGTHS
    allowed = {size * 1000 + length for size in BATCH_SIZES for length in LENGTHS}
    assert seen <= allowed
    # batch 0..20 and these lengths reach every bucket: 12 programs, no more.
    assert seen == allowed


@pytest.fixture(scope="module")
def translator(spm_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bounded")
    shutil.copy(spm_model, folder / "tiny.model")
    tokenizer = SentencePieceTokenizer(folder / "tiny.model")
    size = tokenizer.vocabulary_size()
    model = EncoderDecoder(size, size, embedding_size=8, units=8, share_embeddings=True)
    model((tf.ones([1, 1], tf.int32),) * 2)
    options = dict(beam_size=3, max_length=12, max_source_length=32)
    return model, tokenizer, options


def test_padded_search_equals_the_unpadded_search(translator):
    model, tokenizer, options = translator
    bounded = serving.Translator(model, tokenizer, batch_sizes=(4,), **options)
    assert bounded.source_lengths == (16, 32) and bounded.num_programs == 2
    texts = [
        "the cat sat on the mat",
        "",
        "a dog ran in the park " * 3,  # more than 16 pieces
        "日本語",
        "two men play football",
        "a man is reading a book in the street " * 4,  # cut to 32 pieces
    ]
    # The reference: the search on exactly the batch, no padding, no XLA.
    search = tf.function(
        lambda ids: model.translate(
            ids,
            tokenizer.bos_id,
            tokenizer.eos_id,
            max_length=12,
            beam_size=3,
            length_penalty_alpha=0.6,
            max_length_ratio=2.0,
        ),
        input_signature=[tf.TensorSpec([None, None], tf.int32)],
    )
    for batch in ([texts[0]], texts[:3], texts, texts[2:3] * 9, []):
        served = bounded.serve(tf.constant(batch, tf.string))
        text = tf.constant(batch, tf.string)
        ids, truncated = serving.source_ids(tokenizer, text, 32)
        width = max([1, *(int(t) for t in tf.reduce_sum(tf.sign(ids), 1))])
        decoded, lengths, scores = search(ids[:, :width])
        expected = tokenizer.detokenize(
            serving.strip_to_ragged(decoded, lengths, tokenizer.eos_id)
        )
        assert served["translations"].numpy().tolist() == expected.numpy().tolist()
        np.testing.assert_allclose(served["scores"], scores, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(served["source_truncated"], truncated)
    assert served["translations"].shape == (0,)


def test_warmup_requests_reach_every_compiled_shape(translator, tmp_path):
    model, tokenizer, options = translator
    path = serving.export_translator(
        model, tokenizer, tmp_path / "export", batch_sizes=(1, 4), **options
    )
    batches = serving.read_warmup_requests(path)
    assert len(batches) == 2 * 2  # batch sizes (1, 4) by lengths (16, 32)
    shapes = set()
    for batch in batches:
        pieces = tokenizer(tf.constant(batch)).row_lengths().numpy()
        assert len(set(pieces)) == 1
        length = 16 if pieces[0] <= 16 else 32
        shapes.add((len(batch), length))
    assert shapes == {(1, 16), (1, 32), (4, 16), (4, 32)}
    # The longest is longer than max_source_length, so truncation is warm too.
    assert max(tokenizer(tf.constant(batches[-1])).row_lengths()) > 32
