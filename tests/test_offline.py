"""The tests' Hugging Face `datasets` is offline, with a temporary cache."""

import json
import os
import pathlib

import pytest

from tests.conftest import HF_CACHE


def test_datasets_is_offline_and_caches_in_a_temporary_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    assert datasets.config.HF_DATASETS_OFFLINE is True
    assert pathlib.Path(datasets.config.HF_DATASETS_CACHE) == pathlib.Path(HF_CACHE)
    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n".join(json.dumps({"text": t}) for t in ("a b", "c")))
    loaded = datasets.load_dataset("json", data_files=str(rows), split="train")
    assert loaded["text"] == ["a b", "c"]
    cached = loaded.cache_files[0]["filename"]
    assert os.path.commonpath([cached, HF_CACHE]) == HF_CACHE
    # A dataset of the Hub is not fetched: offline mode refuses at once.
    with pytest.raises(ConnectionError, match="OfflineModeIsEnabled"):
        datasets.load_dataset("seq2seq-tests/not-a-cached-dataset", split="train")
