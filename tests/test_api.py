"""The public Python API (nlp_coder/__init__.py, docs/api.md)."""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO

import nlp_coder
from nlp_coder.cli import main
from nlp_coder.embed import HashingEmbedder

TEXTS = ["She helped me fill in the forms for housing.", "She was warm and so kind to my kids.",
         "The bus was late again so I walked."]


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder, so that a store or output written by mistake would be seen."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NLP_CODER_DB", raising=False)


def test_every_exported_name_resolves_and_import_stays_light() -> None:
    for name in nlp_coder.__all__:
        assert getattr(nlp_coder, name) is not None, name
    assert set(nlp_coder.__all__) <= set(dir(nlp_coder))
    with pytest.raises(AttributeError):
        nlp_coder.no_such_name  # noqa: B018
    # `import nlp_coder` loads no model library (the command line's --help must stay instant).
    code = "import sys, nlp_coder; print(sorted(m for m in ('numpy', 'torch', 'spacy', 'sentence_transformers', " \
           "'onnxruntime', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_suggest_on_strings_needs_no_store_and_writes_nothing(tmp_path: Path, codebook_file: Path) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    result = nlp_coder.suggest([*TEXTS, "   "], codebook_file, model="hash-test")
    records = result.records()
    assert [r["text"] for r in records] == TEXTS
    assert [r["fragment_id"] for r in records] == ["1", "2", "3"]  # the blank fourth is skipped, with a word
    assert result.segmentation.warnings == ("corpus: text 4 is blank; skipped",)
    assert records[1]["codes"] == ["warmth"] and records[1]["status"] == "coded"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no store, no file


def test_records_are_the_jsonl_of_the_command_line(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    out = tmp_path / "out.jsonl"
    run = CliRunner().invoke(main, ["suggest", str(transcript_file), "-c", str(codebook_file), "--model", "hash-test",
                                    "--out", str(out), "--db", str(tmp_path / "cli.db"), "--quiet"])
    assert run.exit_code == 0, run.output
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    from_api = nlp_coder.suggest(transcript_file, codebook_file, model="hash-test").records()
    assert from_api == lines and len(lines) >= 3


def test_to_frame_has_a_row_per_fragment(codebook_file: Path) -> None:
    pytest.importorskip("pandas")
    frame = nlp_coder.suggest(TEXTS, codebook_file, model="hash-test").to_frame()
    assert list(frame["text"]) == TEXTS
    assert frame.loc[1, "top_code"] == "warmth" and frame.loc[1, "top_score"] > 0.3


def test_given_vectors_are_used_and_only_the_codebook_is_embedded(codebook_file: Path) -> None:
    own = HashingEmbedder()
    fresh = HashingEmbedder()
    expected = nlp_coder.suggest(TEXTS, codebook_file, model="hash-test", embedder=own).records()
    book_texts = nlp_coder.codebook_texts(nlp_coder.load_codebook(codebook_file))
    result = nlp_coder.suggest(TEXTS, codebook_file, model="hash-test", embedder=fresh,
                               embeddings=HashingEmbedder().encode(TEXTS))
    assert result.records() == expected
    assert fresh.texts_encoded == len(book_texts)  # the fragments' vectors were not computed again
    assert result.manifest.model == "hash-test+given"  # the run says its vectors were given
    # Vectors that are not these texts' change the decisions: they really are used.
    shuffled = HashingEmbedder().encode(TEXTS[1:] + TEXTS[:1])
    moved = nlp_coder.suggest(TEXTS, codebook_file, model="hash-test", embedder=HashingEmbedder(),
                              embeddings=shuffled).records()
    assert [r["codes"] for r in moved] != [r["codes"] for r in expected]


@pytest.mark.parametrize("embeddings", [np.zeros((2, 256)), np.zeros((3, 12)), np.full((3, 256), np.nan)])
def test_given_vectors_of_the_wrong_shape_are_refused(codebook_file: Path, embeddings: np.ndarray) -> None:
    with pytest.raises(nlp_coder.NlpCoderError) as caught:
        nlp_coder.suggest(TEXTS, codebook_file, model="hash-test", embedder=HashingEmbedder(), embeddings=embeddings)
    assert caught.value.code == "E130"


@pytest.mark.parametrize(("corpus", "code"), [("no-such-folder", "E101"), ([1, 2], "E130"), (["", " "], "E106"),
                                              ({"a": "text"}, "E130")])
def test_bad_corpora_are_one_clear_error(codebook_file: Path, corpus: object, code: str) -> None:
    with pytest.raises(nlp_coder.NlpCoderError) as caught:
        nlp_coder.suggest(corpus, codebook_file, model="hash-test")  # type: ignore[arg-type]
    assert caught.value.code == code and "\n" not in str(caught.value)


def test_a_store_when_asked_for_caches_and_records(tmp_path: Path, codebook_file: Path) -> None:
    embedder = HashingEmbedder()
    first = nlp_coder.suggest(TEXTS, codebook_file, model="hash-test", store=tmp_path / "project.db",
                              embedder=embedder)
    again = nlp_coder.suggest(TEXTS, codebook_file, model="hash-test", store=tmp_path / "project.db",
                              embedder=embedder)
    assert (first.embedded, again.embedded, again.cached) == (len(TEXTS), 0, len(TEXTS))
    assert again.run_id == first.run_id + 1
    with nlp_coder.Store(tmp_path / "project.db") as store:
        assert [(run[1], run[3]) for run in store.runs()] == [("suggest", "finished")] * 2


def test_matcher_follows_the_estimator_contract(codebook_file: Path) -> None:
    book = nlp_coder.load_codebook(codebook_file)
    embedder = HashingEmbedder()
    settings = nlp_coder.resolve_settings(book, "hash-test")
    matcher = nlp_coder.build_matcher(settings)
    assert matcher.get_params()["threshold"] == settings.threshold
    assert matcher.fit(book, embedder) is matcher
    calls = embedder.calls
    vectors = embedder.encode(TEXTS)
    before = [r.decision.status for r in matcher.predict(vectors)]
    assert matcher.set_params(threshold=0.99) is matcher
    after = [r.decision.status for r in matcher.predict(vectors)]
    assert after == ["uncoded"] * 3 and before != after
    assert embedder.calls == calls + 1  # only the fragments: no refit, no re-embedding
    assert matcher.settings.threshold == 0.99 and dict(matcher.settings.origin)["threshold"] == "option"
    # The codebook's vectors can be given as a mapping or an array in codebook_texts order.
    texts = nlp_coder.codebook_texts(book)
    by_text = dict(zip(texts, embedder.encode(texts)))
    for given in (by_text, np.stack([by_text[t] for t in texts])):
        again = nlp_coder.build_matcher(settings).fit(book, given)
        assert np.array_equal(again.decision_function(vectors), nlp_coder.build_matcher(settings).fit(
            book, embedder).decision_function(vectors))
    with pytest.raises(ValueError, match="invalid parameter"):
        matcher.set_params(treshold=0.5)
    with pytest.raises(nlp_coder.NlpCoderError):
        matcher.predict(np.zeros((2, 7)))  # vectors of another model


def test_evaluate_discover_and_sensitivity_work_in_memory(tmp_path: Path, codebook_file: Path) -> None:
    gold = [nlp_coder.GoldFragment(str(i), text, codes) for i, (text, codes) in enumerate([
        ("She helped me fill in the housing forms.", ("support",)), ("She was warm and kind.", ("warmth",)),
        ("He listened carefully to me.", ("listening",)), ("The weather was grey.", ())])]
    report = nlp_coder.evaluate(gold, codebook_file, model="hash-test", embedder=HashingEmbedder())
    assert report.methods[0].method == "centroid-def" and report.n == 4
    texts = TEXTS * 3 + ["The train was cancelled and the train was late.", "The train was late again today."] * 3
    found = nlp_coder.discover(texts, codebook_file, model="hash-test", embedder=HashingEmbedder(),
                               include="all", min_cluster_size=2)
    assert found.candidates == len(texts)
    moved = nlp_coder.sensitivity(texts, codebook_file, model="hash-test", embedder=HashingEmbedder(), bootstrap=2)
    assert moved.fragments == len(texts)
    assert not list(tmp_path.glob("**/*.db"))


@pytest.mark.slow
def test_the_api_page_runs_as_written(tmp_path: Path) -> None:
    """docs/api.md's examples, run as doctests with the real default model."""
    for name in ("corpus", "codebooks"):
        os.symlink(REPO / name, tmp_path / name)
    failures, tried = doctest.testfile(str(REPO / "docs" / "api.md"), module_relative=False,
                                       optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried >= 10 and failures == 0


def test_a_run_that_records_nothing_leaves_no_new_store(tmp_path: Path, codebook_file: Path,
                                                        transcript_file: Path) -> None:
    store = tmp_path / "new" / "project.db"
    with pytest.raises(nlp_coder.NlpCoderError) as caught:
        nlp_coder.suggest(transcript_file, codebook_file, model="hash-test", store=store,
                          segment=nlp_coder.SegmentOptions(speakers=("Nobody",), pipeline="blank"))
    assert caught.value.code == "E106"
    assert not store.exists() and not list(store.parent.glob("project.db*"))
    # A store that was there before is left as it was.
    nlp_coder.suggest(transcript_file, codebook_file, model="hash-test", store=store)
    with pytest.raises(nlp_coder.NlpCoderError):
        nlp_coder.suggest(transcript_file, codebook_file, model="hash-test", store=store,
                          segment=nlp_coder.SegmentOptions(speakers=("Nobody",), pipeline="blank"))
    with nlp_coder.Store(store) as kept:
        assert [run[3] for run in kept.runs()] == ["finished"]


def test_json_output_keeps_the_runs_notes(tmp_path: Path, codebook_file: Path, transcript_file: Path) -> None:
    out = tmp_path / "out.json"
    run = CliRunner().invoke(main, ["suggest", str(transcript_file), "-c", str(codebook_file), "--model", "hash-test",
                                    "--threshold", "auto", "--out", str(out), "--db", str(tmp_path / "p.db"), "-q"])
    assert run.exit_code == 0, run.output
    notes = json.loads(out.read_text(encoding="utf-8"))["summary"]["notes"]
    assert len(notes) == 1 and "--threshold auto" in notes[0]
