"""The embedding step on Dask (nlp_coder.embed.dask), in local mode with the hashing model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

from nlp_coder.embed.dask import DaskEmbedder, encode_chunk, load_dask_embedder  # noqa: E402
from nlp_coder.embed.models import load_embedder  # noqa: E402
from nlp_coder.errors import InputError  # noqa: E402
from nlp_coder.store import Store, cache_key, embed_cached, text_sha256  # noqa: E402  # noqa: E402

TEXTS = [
    "She helped me fill in the housing forms.",
    "He was so kind and gentle with us.",
    "The waiting room was warm and stuffy.",
    "I really liked her.",
    "They listened to my side of the story.",
    "It was awful and unfair.",
    "I really liked her.",  # a repeat: each occurrence gets its row
    "",
    "Nobody called me back for weeks and weeks after the first appointment.",
    "ok",
    "She gave me a warm hug when I cried.",
]


@pytest.fixture(scope="module")
def dask_embedder():
    """Two worker processes of a local cluster, started once for the module; chunks of 3 texts."""
    with load_dask_embedder("hash-test", "local", chunk_size=3, n_workers=2, threads_per_worker=1,
                            processes=True, timeout=30) as embedder:
        yield embedder


def test_same_vectors_as_local_in_input_order(dask_embedder):
    local = load_embedder("hash-test")
    vectors = dask_embedder.encode(TEXTS)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(TEXTS), 256)
    np.testing.assert_array_equal(vectors, local.encode(TEXTS))
    # Reversed input gives reversed rows: chunks are gathered in order, whichever worker ran them.
    np.testing.assert_array_equal(dask_embedder.encode(TEXTS[::-1]), vectors[::-1])


def test_both_workers_used_and_identity_from_the_registry(dask_embedder):
    local = load_embedder("hash-test")
    assert (dask_embedder.model_id, dask_embedder.weights_sha256, dask_embedder.dimensions) == (
        local.model_id, local.weights_sha256, local.dimensions)
    assert len(dask_embedder.client.scheduler_info()["workers"]) == 2
    assert dask_embedder.scheduler.startswith("tcp://127.0.0.1:")


def test_empty_list(dask_embedder):
    vectors = dask_embedder.encode([])
    assert vectors.shape == (0, 256)
    assert vectors.dtype == np.float32


def test_through_embed_cached_second_call_is_a_cache_hit(dask_embedder, tmp_path):
    local = load_embedder("hash-test")
    texts = [f"fragment {i}: {TEXTS[i % len(TEXTS)]}" for i in range(40)]
    with Store(tmp_path / "store.db") as store:
        calls = dask_embedder.calls
        vectors, new = embed_cached(store, dask_embedder, texts, batch_size=16)
        assert new == 40
        assert dask_embedder.calls - calls == 3  # batches of 16, 16 and 8 texts
        np.testing.assert_array_equal(vectors, local.encode(texts))
        encoded = dask_embedder.texts_encoded
        again, new = embed_cached(store, dask_embedder, texts, batch_size=16)
        assert new == 0
        assert dask_embedder.texts_encoded == encoded
        np.testing.assert_array_equal(again, vectors)
        # The cache key is that of a local run: the local embedder finds every vector cached.
        assert len(store.cached_vectors(cache_key(local.model_id, local.weights_sha256),
                                        [text_sha256(t) for t in texts])) == 40
        _, new = embed_cached(store, local, texts)
        assert new == 0


def test_threads_cluster_and_client_of_an_existing_scheduler():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0") as cluster:
        # By address, as on a real cluster.
        with load_dask_embedder("hash-test", cluster.scheduler_address, chunk_size=2, timeout=10) as embedder:
            np.testing.assert_array_equal(embedder.encode(TEXTS), load_embedder("hash-test").encode(TEXTS))
        # Or with a client made by the caller.
        with Client(cluster, set_as_default=False) as client:
            embedder = DaskEmbedder(client, "hash-test", chunk_size=100)
            np.testing.assert_array_equal(embedder.encode(TEXTS[:2]), load_embedder("hash-test").encode(TEXTS[:2]))


def test_unreachable_scheduler_is_one_input_error():
    with pytest.raises(InputError) as info:
        load_dask_embedder("hash-test", "tcp://127.0.0.1:1", timeout=0.5)
    message = str(info.value)
    assert message.startswith("--scheduler: cannot connect to the Dask scheduler at tcp://127.0.0.1:1")
    assert "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_malformed_address_is_an_input_error():
    with pytest.raises(InputError, match="'nonsense' is not a scheduler address"):
        load_dask_embedder("hash-test", "nonsense", timeout=0.5)


def test_scheduler_without_workers():
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0") as cluster:
        with pytest.raises(InputError, match="has no workers after 0.5 s"):
            load_dask_embedder("hash-test", cluster.scheduler_address, timeout=0.5)


def test_unknown_model_and_bad_chunk_size():
    with pytest.raises(InputError, match="unknown model 'nope'"):
        load_dask_embedder("nope", "tcp://127.0.0.1:1", timeout=0.5)
    with pytest.raises(InputError, match="chunk size must be at least 1"):
        DaskEmbedder(object(), "hash-test", chunk_size=0)


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    with pytest.raises(InputError, match=r"pip install 'nlp-coder\[dask\]'"):
        load_dask_embedder("hash-test", "local")


def test_command_line_does_not_import_dask():
    code = "import sys, nlp_coder.cli; sys.exit(1 if {'dask', 'distributed'} & set(sys.modules) else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_worker_refuses_other_weights():
    with pytest.raises(InputError, match="model 'hash-test' on worker .* has weights with SHA-256"):
        encode_chunk(["a text"], "hash-test", "0" * 64, 64, None)


def test_worker_whose_weights_fail_their_check_is_named(monkeypatch):
    from nlp_coder.embed import dask as module

    def tampered(model, batch_size, device):  # what loading the network raises for weights not the registry's
        raise InputError("model 'default': the weights in package x have SHA-256 000000000000..., not the expected")

    monkeypatch.setattr(module, "_worker_embedder", tampered)
    with pytest.raises(InputError, match="--scheduler: on worker .*: model 'default': the weights .* have SHA-256"):
        encode_chunk(["a text"], "default", "1" * 64, 64, None)


@pytest.mark.slow
def test_default_model_matches_local_encoding():
    """The real model on two worker processes agrees with a local run (float tolerance)."""
    texts = TEXTS * 5
    local = load_embedder("default").encode(texts)
    with load_dask_embedder("default", "local", chunk_size=16, n_workers=2, timeout=60) as embedder:
        vectors = embedder.encode(texts)
    assert vectors.shape == local.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, local, atol=1e-5)


def test_suggest_and_embed_take_a_scheduler(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    from click.testing import CliRunner

    from nlp_coder.cli import main

    db = tmp_path / "p.db"
    common = ["--model", "hash-test", "--spacy", "blank", "--db", str(db), "--scheduler", "local"]
    embedded = CliRunner().invoke(main, ["embed", str(transcript_file), *common])
    assert embedded.exit_code == 0, embedded.output
    assert "4 texts embedded" in embedded.output
    out = tmp_path / "out.jsonl"
    coded = CliRunner().invoke(main, ["suggest", str(transcript_file), "-c", str(codebook_file), "--out", str(out),
                                      *common])
    assert coded.exit_code == 0, coded.output
    assert "0 texts embedded" in coded.output and len(out.read_text(encoding="utf-8").splitlines()) == 4
    bad = CliRunner().invoke(main, ["embed", str(transcript_file), "--model", "hash-test", "--db", str(db),
                                    "--scheduler", "tcp://127.0.0.1:9"])
    assert bad.exit_code == 1 and bad.output.startswith("Error E") and len(bad.output.strip().splitlines()) == 1
