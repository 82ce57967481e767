"""The fast path: the static (model2vec) embedder, the cascade, --device, and resuming after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SMALL_CODEBOOK

from nlp_coder.codebook import parse_codebook
from nlp_coder.embed import models as embed_module
from nlp_coder.embed.models import (
    HashingEmbedder,
    ModelSpec,
    StaticEmbedder,
    load_embedder,
    load_registry,
    normalise,
    resolve_device,
)
from nlp_coder.errors import InputError, ModelNotInstalledError
from nlp_coder.match.cascade import CascadeOptions, select_uncertain, uncertainty
from nlp_coder.match.matcher import CodebookMatcher, build_matcher
from nlp_coder.records import MatchSettings
from nlp_coder.run import SuggestOptions, suggest
from nlp_coder.store import Store

# -- the cascade -----------------------------------------------------------------------------------


def _pair() -> tuple[HashingEmbedder, HashingEmbedder]:
    """A "full" and a "fast" model that disagree: hashed features of different sizes."""
    return HashingEmbedder(256, "hash-test"), HashingEmbedder(16, "hash-fast")


def _decisions(result) -> list[tuple[str, tuple[str, ...]]]:  # type: ignore[no-untyped-def]
    return [(r.decision.status, r.decision.codes) for r in result.results]


def _run(tmp_path: Path, transcript_file: Path, codebook_file: Path, name: str, cascade: float | None,
         full: HashingEmbedder, fast: HashingEmbedder | None = None, band: float | None = None):  # type: ignore[no-untyped-def]
    options = SuggestOptions(model="hash-test", threshold=0.2, cascade=cascade, cascade_band=band)
    return suggest(transcript_file, codebook_file, tmp_path / f"{name}.db", options=options, embedder=full,
                   fast_embedder=fast)


def test_cascade_share_zero_is_the_fast_model_and_share_one_the_full_model(
        tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    full, fast = _pair()
    only_full = _run(tmp_path, transcript_file, codebook_file, "full", None, HashingEmbedder(256, "hash-test"))
    only_fast = _run(tmp_path, transcript_file, codebook_file, "fast", None, HashingEmbedder(16, "hash-fast"))
    none = _run(tmp_path, transcript_file, codebook_file, "c0", 0.0, full, fast)
    assert none.cascade is not None and none.cascade.rescored == 0
    assert full.texts_encoded == 0  # the full model is never asked when nothing is re-scored
    assert _decisions(none) == _decisions(only_fast)
    full, fast = _pair()
    every = _run(tmp_path, transcript_file, codebook_file, "c1", 1.0, full, fast)
    assert every.cascade is not None and every.cascade.rescored == len(every.results)
    assert _decisions(every) == _decisions(only_full)
    assert [r.decision.suggestions for r in every.results] == [r.decision.suggestions for r in only_full.results]


def test_cascade_rescores_at_most_its_share_and_records_it(tmp_path: Path, transcript_file: Path,
                                                           codebook_file: Path) -> None:
    full, fast = _pair()
    result = _run(tmp_path, transcript_file, codebook_file, "half", 0.5, full, fast)
    n = len(result.results)
    assert result.cascade is not None
    assert result.cascade.rescored == n // 2 and result.cascade.share <= 0.5
    # The full model embedded only the re-scored fragments (plus the codebook's texts).
    assert full.texts_encoded <= n // 2 + 30
    parameters = dict(result.manifest.parameters)
    assert parameters["cascade_share"] == 0.5 and parameters["cascade_fast_model"] == "hash-fast"
    with Store(tmp_path / "half.db") as store:
        assert store.runs()[-1][3] == "finished"
    # A re-run embeds nothing: both models' vectors come from the cache.
    full2, fast2 = _pair()
    again = _run(tmp_path, transcript_file, codebook_file, "half", 0.5, full2, fast2)
    assert full2.texts_encoded == 0 and fast2.texts_encoded == 0
    assert _decisions(again) == _decisions(result)


def test_the_cascade_learns_a_map_from_the_fast_model_to_the_full_one() -> None:
    from nlp_coder.match.cascade import MIN_PAIRS, CascadeOptions, cascade_predict, map_vectors
    from nlp_coder.match.matcher import codebook_texts
    from nlp_coder.records import Fragment

    rng = np.random.default_rng(0)
    full_model = HashingEmbedder(64, "hash-test")
    mix = rng.normal(size=(64, 64))  # the "fast" space: an invertible linear image of the full one

    def fast_encode(texts):  # type: ignore[no-untyped-def]
        return full_model.encode(texts) @ mix

    pairs = normalise(rng.normal(size=(200, 64)))
    mapped = map_vectors(pairs @ mix, pairs, pairs[:5] @ mix)  # unit vectors, within the ridge's shrinkage
    assert np.allclose(np.linalg.norm(mapped, axis=1), 1.0) and (np.sum(mapped * pairs[:5], axis=1) > 0.98).all()

    book = parse_codebook(SMALL_CODEBOOK)
    words = "housing forms kind warm listened late bus walked school plan money ring".split()
    texts = [" ".join(rng.choice(words, size=4)) + f" {i}" for i in range(300)]
    fragments = [Fragment(f"f{i}", "d", None, 0, 0, len(t), t) for i, t in enumerate(texts)]
    settings = MatchSettings(threshold=0.2, margin=0.02)
    book_texts = codebook_texts(book)
    seen: list[int] = []

    def full_encode(chosen, codebook):  # type: ignore[no-untyped-def]
        seen.append(len(chosen))
        return full_model.encode(chosen), full_model.encode(codebook)

    decided, report, matcher, vectors = cascade_predict(
        fragments, book, settings, fast_vectors=fast_encode(texts),
        fast_codebook_vectors=dict(zip(book_texts, fast_encode(book_texts))), full_encode=full_encode,
        fast_model="hash-fast", full_model="hash-test", options=CascadeOptions(share=0.3))
    # Two stages of 45: the least certain under the fast model, then under the map.
    assert seen == [45, 45] and report.rescored == 90 and report.mapped == 210 and 90 + len(book_texts) >= MIN_PAIRS
    full = build_matcher(settings).fit(book, full_model.encode).predict(full_model.encode(texts), fragments)
    # The fast space is a linear image of the full one: through the map (a ridge regression, so
    # not quite exact) nearly every fragment gets the full model's decision.
    same = [(r.decision.status, r.decision.codes) == (f.decision.status, f.decision.codes)
            for r, f in zip(decided.results(), full)]
    assert sum(same) >= 0.95 * len(same)
    assert np.sum(vectors * full_model.encode(texts), axis=1).mean() > 0.95 and matcher.codebook_ is book


def test_default_runs_have_no_cascade_parameters(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    result = _run(tmp_path, transcript_file, codebook_file, "plain", None, HashingEmbedder())
    assert result.cascade is None
    assert not any(key.startswith("cascade") for key, _ in result.manifest.parameters)


def test_cascade_band_and_share_are_checked(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    full, fast = _pair()
    with pytest.raises(InputError, match="outside"):
        _run(tmp_path, transcript_file, codebook_file, "bad", 1.5, full, fast)
    banded = _run(tmp_path, transcript_file, codebook_file, "band", 1.0, full, fast, band=0.0)
    assert banded.cascade is not None and banded.cascade.rescored == 0


def test_select_uncertain_takes_the_least_certain_in_fragment_order() -> None:
    values = np.array([0.5, 0.01, 0.3, 0.01, 0.2])
    assert select_uncertain(values, CascadeOptions(share=0.4)).tolist() == [1, 3]
    assert select_uncertain(values, CascadeOptions(share=0.6)).tolist() == [1, 3, 4]
    assert select_uncertain(values, CascadeOptions(share=1.0, band=0.25)).tolist() == [1, 3, 4]
    assert select_uncertain(values, CascadeOptions(share=0.0)).tolist() == []


def test_the_second_stage_takes_the_least_certain_decisions_through_the_map() -> None:
    from nlp_coder.match.cascade import select_in_two_stages

    n, dims = 20, 8
    values = np.arange(n) / n  # fragment 0 is the least certain under the fast model
    calls: list[list[int]] = []

    def full_vectors_of(rows):  # type: ignore[no-untyped-def]
        calls.append(rows.tolist())
        return np.repeat(rows[:, None], dims, axis=1).astype(np.float32)  # row i is all i: order shows

    learned: list[tuple[list[int], list[int]]] = []

    def reversed_order(rows, vectors, todo):  # type: ignore[no-untyped-def]
        # Learned from the first stage; the estimated decisions are the least certain for the
        # last fragments: the opposite order.
        assert vectors[:, 0].tolist() == rows.tolist()
        learned.append((rows.tolist(), todo.tolist()))
        return -todo.astype(float)

    chosen, vectors = select_in_two_stages(values, CascadeOptions(share=0.4), full_vectors_of, reversed_order, 70)
    assert calls == [[0, 1, 2, 3], [16, 17, 18, 19]] and learned == [([0, 1, 2, 3], list(range(4, 20)))]
    assert chosen.tolist() == [0, 1, 2, 3, 16, 17, 18, 19] and vectors[:, 0].tolist() == chosen.tolist()

    calls.clear()  # the band keeps both stages to fragments below it
    chosen, _ = select_in_two_stages(values, CascadeOptions(share=0.4, band=0.5), full_vectors_of, reversed_order, 70)
    assert chosen.tolist() == [0, 1, 2, 3, 6, 7, 8, 9]

    calls.clear()  # too few pairs to learn from: the whole budget by the fast model
    chosen, vectors = select_in_two_stages(values, CascadeOptions(share=0.4), full_vectors_of, reversed_order, 10)
    assert chosen.tolist() == list(range(8)) and calls == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert vectors[:, 0].tolist() == list(range(8))

    calls.clear()  # nothing to re-score: the full model is never called
    chosen, vectors = select_in_two_stages(values, CascadeOptions(share=0.0), full_vectors_of, reversed_order, 70)
    assert chosen.size == 0 and calls == []


def test_the_estimate_corrects_the_map_by_shared_tokens() -> None:
    from nlp_coder.match.cascade import FullEstimate, unit_bags, word_bags

    rng = np.random.default_rng(3)
    # A "fast" space that is a linear image of the full one, except for one word whose texts
    # the map gets wrong: those share a direction of their own in the full space.
    words = "housing forms kind warm listened late bus walked school plan money ring".split()
    texts = [" ".join(rng.choice(words, size=4)) + f" w{i}" for i in range(200)]
    odd = np.array(["ring" in t.split() for t in texts])
    full = rng.normal(size=(len(texts), 32))
    fast = full @ rng.normal(size=(32, 32))
    full[odd] += 6.0 * np.eye(32)[0]  # invisible to the fast model
    full = normalise(full)
    bags = unit_bags(word_bags(texts))
    train, test = np.arange(0, 150), np.arange(150, 200)
    assert unit_bags(word_bags(["a b b"])).toarray().max() == pytest.approx(1 / np.sqrt(2))  # binary, unit length
    estimate = FullEstimate(fast[train], full[train], bags[train])
    corrected = estimate(fast[test], bags[test])
    mapped_only = estimate.mapped(fast[test])
    assert np.allclose(np.linalg.norm(corrected, axis=1), 1.0, atol=1e-5)
    on_odd = odd[test]
    # The texts with the odd word come closer to their full vectors; the others stay as close.
    gain = np.sum(corrected * full[test], axis=1) - np.sum(mapped_only * full[test], axis=1)
    assert gain[on_odd].mean() > 0.1 and gain[~on_odd].mean() > -0.01


def test_uncertainty_is_the_smaller_of_lead_and_distance_to_threshold(codebook_file: Path) -> None:
    from nlp_coder.codebook import load_codebook

    book = load_codebook(codebook_file)
    matcher = CodebookMatcher.from_settings(
        MatchSettings(threshold=0.3, margin=0.02)).fit(book, HashingEmbedder().encode)
    scored = matcher.score(HashingEmbedder().encode(["She was warm and kind.", "The bus was late."]))
    values = uncertainty(matcher, scored)
    assert values.shape == (2,) and np.all(values >= 0)
    main = [j for j, cv in enumerate(matcher.code_vectors_) if cv.code.facet is None and cv.code.codable]
    row = np.sort(scored.score[0, main])[::-1]
    assert values[0] <= min(row[0] - row[1], abs(row[0] - 0.3)) + 1e-6


def test_cli_suggest_with_cascade_and_device(tmp_path: Path, transcript_file: Path, codebook_file: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from nlp_coder.cli import main

    real = load_embedder

    def fake_load(name: str = "default", **kwargs):  # type: ignore[no-untyped-def]
        return HashingEmbedder(16, "hash-fast") if name == "fast" else real(name, **kwargs)

    monkeypatch.setattr("nlp_coder.run.load_embedder", fake_load)
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["suggest", str(transcript_file), "--codebook", str(codebook_file),
                                       "--model", "hash-test", "--db", str(tmp_path / "p.db"), "--out", str(out),
                                       "--cascade", "0.5", "--device", "auto"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "cascade: hash-fast scored" in result.output
    assert len(out.read_text().splitlines()) == 4


# -- devices -------------------------------------------------------------------------------------


def test_resolve_device() -> None:
    import torch

    assert resolve_device(None) == "cpu" and resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(InputError, match="unknown device"):
        resolve_device("tpu")


def test_the_default_device_is_found_only_when_the_model_loads(tmp_path: Path) -> None:
    import subprocess
    import sys

    # Loading the default model on sentence-transformers (its ONNX export not built; auto device)
    # looks for no GPU until it embeds: no torch import.
    code = ("import sys; from nlp_coder.embed import models as embed; embed.onnx_export = lambda spec: None; "
            "e = embed.load_embedder('default'); "
            "assert 'torch' not in sys.modules; print(e.device); assert 'torch' in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import torch

    assert done.stdout.strip() == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):  # asked for explicitly: fails at once
            load_embedder("default", device="cuda")


def test_the_default_weights_are_hashed_only_when_the_network_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    from nlp_coder.embed import models as embed_module

    hashed: list[Path] = []
    monkeypatch.setattr(embed_module, "file_sha256", lambda path: hashed.append(path) or "0" * 64)
    monkeypatch.setattr(embed_module, "onnx_export", lambda spec: None)  # on sentence-transformers
    embedder = load_embedder("default")  # a run whose vectors are all cached reads no weights
    assert hashed == [] and embedder.weights_sha256 == load_registry().model("default").weights_sha256
    # Weights that are not the registry's are refused before the network is loaded from them.
    with pytest.raises(InputError, match="have SHA-256 000000000000"):
        embedder.encode(["The bus was late."])
    assert [p.name for p in hashed] == ["model.safetensors"]


def test_length_batches_keep_like_lengths_together() -> None:
    from nlp_coder.embed.models import length_batches

    texts = ["x" * n for n in [40, 5, 700, 41, 42, 6, 2000, 39, 650]]
    batches = length_batches(texts, 64)
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))  # every text once
    lengths = [[len(texts[i]) for i in b] for b in batches]
    assert lengths == sorted(lengths) and all(b == sorted(b) for b in lengths)  # shortest first
    # Short texts go together; the long ones (counted up to what the model reads) do not pad them.
    assert lengths == [[5, 6, 39, 40, 41, 42], [650, 700, 2000]]
    assert [len(b) for b in length_batches(["same"] * 150, 64)] == [64, 64, 22]  # at most the batch size
    assert length_batches([], 64) == []


# -- the static embedder -------------------------------------------------------------------------


def _tiny_static_model(folder: Path) -> None:
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    vocab = {"[UNK]": 0, "warm": 1, "kind": 2, "bus": 3}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    folder.mkdir(parents=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    matrix = np.array([[0, 0, 1], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float16)
    save_file({"embeddings": matrix}, str(folder / "model.safetensors"))


def _static_spec(**extra: object) -> ModelSpec:
    return ModelSpec(name="tiny-static", kind="static", dimensions=3, languages=("en",), threshold=0.3, margin=0.02,
                     path="tiny", build="make fast-model", **extra)  # type: ignore[arg-type]


def test_static_embedder_means_token_vectors(tmp_path: Path) -> None:
    _tiny_static_model(tmp_path / "tiny")
    model = StaticEmbedder(_static_spec(), tmp_path / "tiny", "sha")
    vectors = model.encode(["warm kind", "bus", ""])
    assert vectors.shape == (3, 3) and vectors.dtype == np.float32
    expected = np.array([2, 1, 0], dtype=np.float32) / np.sqrt(5)
    assert np.allclose(vectors[0], expected, atol=1e-6)
    assert np.allclose(vectors[1], [0, 1, 0])
    assert np.allclose(vectors[2], 0)  # no token: a zero vector, never NaN
    assert model.encode([]).shape == (0, 3)


def test_static_model_missing_or_tampered_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nlp_coder.embed.registry.MODELS_DIR", tmp_path)
    spec = _static_spec()
    assert not spec.installed
    with pytest.raises(ModelNotInstalledError, match="make fast-model"):
        embed_module.static_folder(spec)
    _tiny_static_model(tmp_path / "tiny")
    assert spec.installed
    with pytest.raises(InputError, match="not the expected"):
        embed_module._checked_sha256(_static_spec(weights_sha256="0" * 64), tmp_path / "tiny")
    # Through the registry: loading reads nothing (a cached run never needs the vectors); the
    # first encode checks the weights before it reads them.
    tampered = _static_spec(weights_sha256="0" * 64)
    monkeypatch.setattr(embed_module, "load_registry", lambda: type("R", (), {"model": lambda _, name: tampered})())
    hashed: list[Path] = []
    real_sha256 = embed_module.file_sha256
    monkeypatch.setattr(embed_module, "file_sha256", lambda path: hashed.append(path) or real_sha256(path))
    model = embed_module.load_embedder("tiny-static")
    assert hashed == [] and model.weights_sha256 == "0" * 64
    with pytest.raises(InputError, match="not the expected"):
        model.encode(["warm kind"])
    assert [p.name for p in hashed] == ["model.safetensors"]


def test_the_registry_has_the_fast_model() -> None:
    spec = embed_module.load_registry().model("fast")
    assert spec.kind == "static" and spec.path and spec.weights_sha256 and "make fast-model" in spec.build


@pytest.mark.slow
def test_the_built_fast_model_loads_and_matches_sentence_transformers() -> None:
    fast = load_embedder("fast")
    texts = ["She was warm and kind to my kids.", "He was so kind and gentle with us.", "The bus was late again."]
    vectors = fast.encode(texts)
    assert vectors.shape == (3, fast.dimensions)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(embed_module.static_folder(embed_module.load_registry().model("fast"))),
                                    device="cpu", local_files_only=True)
    assert np.allclose(vectors, reference.encode(texts, normalize_embeddings=True), atol=1e-3)


# -- resuming after kill -9 ----------------------------------------------------------------------

_STALLING_RUN = textwrap.dedent("""
    import sys, threading
    from nlp_coder.embed.models import HashingEmbedder
    from nlp_coder.run import SuggestOptions, suggest
    from nlp_coder.segment import SegmentOptions

    class Stalling(HashingEmbedder):
        \"""Embeds the codebook and the first ``batches`` batches of fragments, then never returns:
        the run stands still with those batches committed until it is killed.\"""

        def __init__(self, batches):
            super().__init__()
            self.batches = batches

        def encode(self, texts):
            if any("sentence number" in t for t in texts):  # a batch of fragments, not the codebook's
                if self.batches == 0:
                    threading.Event().wait()
                self.batches -= 1
            return super().encode(texts)

    corpus, codebook, db, batches = sys.argv[1:]
    suggest(corpus, codebook, db, options=SuggestOptions(model="hash-test", batch_size=10),
            segment_options=SegmentOptions(pipeline="blank"), embedder=Stalling(int(batches)), chunk_size=20)
""")


def _wait_for_rows(db: Path, table: str, rows: int, child: subprocess.Popen, errors: Path,
                   timeout: float = 120.0) -> None:
    """Wait until ``table`` of the store ``db``, read through a read-only connection, holds
    ``rows`` committed rows; fail if the child exits first or ``timeout`` seconds pass."""
    import contextlib
    import sqlite3
    import time

    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        if child.poll() is not None:
            pytest.fail(f"the run exited ({child.returncode}) with {count} of {rows} rows in {table}:\n"
                        f"{errors.read_text(encoding='utf-8', errors='replace')}")
        try:
            with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as con:
                count = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        except sqlite3.OperationalError:  # not created yet
            count = 0
        if count >= rows:
            assert count == rows, f"{count} rows in {table}: the run went on past the batch it stalls on"
            return
        time.sleep(0.05)
    pytest.fail(f"after {timeout:.0f} s the store holds {count} of the {rows} rows expected in {table}:\n"
                f"{errors.read_text(encoding='utf-8', errors='replace')}")


class _Recording(HashingEmbedder):
    """A hashing embedder that keeps every text it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts):  # type: ignore[no-untyped-def]
        self.texts.extend(texts)
        return super().encode(texts)


def test_suggest_after_kill_9_re_embeds_no_finished_batch(tmp_path: Path, codebook_file: Path) -> None:
    import contextlib
    import sqlite3

    from nlp_coder.segment import SegmentOptions
    from nlp_coder.store import text_sha256

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for d in range(10):  # 10 documents of 20 fragments: a chunk each (chunk_size=20), 2 batches of 10
        (corpus / f"interview-{d:02}.txt").write_text(
            "".join(f"Mother: This is sentence number {d * 20 + i} about the housing forms and the kids.\n"
                    for i in range(20)), encoding="utf-8")
    db = tmp_path / "p.db"
    errors = tmp_path / "run.err"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with errors.open("w", encoding="utf-8") as err:
        # The run stalls on its 7th batch of fragments: 3 chunks are embedded, decided and stored.
        child = subprocess.Popen([sys.executable, "-c", _STALLING_RUN, str(corpus), str(codebook_file), str(db), "6"],
                                 stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=REPO)
    try:
        _wait_for_rows(db, "suggestions", 60, child, errors)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with Store(db) as store:
        [(_, command, _, status, _)] = store.runs()
        assert (command, status) == ("suggest", "running")  # killed: never marked finished or failed
        assert store.count("suggestions") == 60
    with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as con:
        kept = {sha for (sha,) in con.execute("SELECT text_sha256 FROM embeddings")}
    fragments = {f"This is sentence number {n} about the housing forms and the kids." for n in range(200)}
    assert len(kept - {text_sha256(t) for t in fragments}) > 0  # the codebook's texts
    assert len(kept & {text_sha256(t) for t in fragments}) == 60  # the fragments of the 3 stored chunks

    recording = _Recording()
    result = suggest(corpus, codebook_file, db, options=SuggestOptions(model="hash-test", batch_size=10),
                     segment_options=SegmentOptions(pipeline="blank"), embedder=recording, chunk_size=20)
    again = {text_sha256(t) for t in recording.texts}
    assert not again & kept, "texts whose vectors the killed run had committed were embedded again"
    assert len(recording.texts) == len(again) == 140 == result.embedded
    assert {r.fragment.text for r in result.results} == fragments
    with Store(db) as store:
        assert store.count("embeddings") == len(kept) + 140
        assert [status for *_, status, _ in store.runs()] == ["running", "finished"]


TRICKY = ["She was warm, and KIND!", "", "   ", "snake_case 3.14 $5 #tag @me ~`x`|y|", "don't stop-gap",
          "tab\there\r\nnew line", "bell\x07 and \x0b vertical", "Über café naïve", "中文 mixed text",
          "x" * 120, "unwarmed kindness", "(laughs) yeah... [pause]"]


def _bert_tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer
    from tokenizers.models import WordPiece
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    words = ["[UNK]", "she", "was", "warm", "and", "kind", "!", ",", "un", "##warm", "##ed", "##ness", "x", "##x",
             "3", ".", "14", "$", "5", "#", "tag", "@", "me", "_", "case", "snake", "don", "'", "t", "-", "gap",
             "cafe", "nai", "##ve", "uber", "(", ")", "[", "]", "yeah", "laugh", "##s", "pause", "中", "文"]
    tokenizer = Tokenizer(WordPiece({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.normalizer = BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = BertPreTokenizer()
    return tokenizer


def test_word_piece_ids_are_the_tokenizers_own() -> None:
    from nlp_coder.embed.models import WordPieceIds, load_registry, model_folder

    tokenizers = [_bert_tokenizer()]
    try:  # the default model's real vocabulary too, when its package is installed
        from tokenizers import Tokenizer

        packaged = Tokenizer.from_file(str(model_folder(load_registry().model("default")) / "tokenizer.json"))
        assert not WordPieceIds(packaged)._ascii  # it pads and truncates: the library's way only
        packaged.no_padding()
        packaged.no_truncation()
        tokenizers.append(packaged)
    except ModelNotInstalledError:
        pass
    for tokenizer in tokenizers:
        ids = WordPieceIds(tokenizer)
        assert ids._ascii  # a BERT-style tokenizer takes the fast path
        expected = [e.ids for e in tokenizer.encode_batch(TRICKY, add_special_tokens=False)]
        assert ids(TRICKY) == expected
        assert ids(TRICKY) == expected  # again, with every word remembered


@pytest.mark.parametrize("pairs", [40, 600])  # fewer pairs than dimensions, and more
def test_the_cascade_map_is_scikit_learns_ridge_regression(pairs: int) -> None:
    from sklearn.linear_model import Ridge

    from nlp_coder.match.cascade import RIDGE_ALPHA, _fit_map

    rng = np.random.default_rng(pairs)
    fast, full = rng.normal(size=(pairs, 64)), rng.normal(size=(pairs, 48)) + 0.5
    fast[:, 0] += 3.0  # an off-centre input: the intercept matters
    others = rng.normal(size=(7, 64))
    expected = Ridge(alpha=RIDGE_ALPHA).fit(fast, full).predict(others)
    assert np.allclose(_fit_map(fast, full).predict(others), expected, atol=1e-8)
