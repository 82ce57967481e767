"""Property-based tests of the Python API: whatever a notebook passes, only NlpCoderError escapes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_CODEBOOK
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nlp_coder
from nlp_coder.embed import HashingEmbedder

SETTINGS = settings(derandomize=True, deadline=None, max_examples=60,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> nlp_coder.Codebook:
    path = tmp_path_factory.mktemp("book") / "codebook.yaml"
    path.write_text(SMALL_CODEBOOK, encoding="utf-8")
    return nlp_coder.load_codebook(path)


texts = st.lists(st.text(max_size=80), max_size=6)
numbers = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5))
anything = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=10), st.binary(max_size=10),
                     st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                          max_size=2))


@SETTINGS
@given(corpus=texts, threshold=numbers, margin=numbers, top_k=st.integers(-2, 5), suggestions=st.integers(-2, 5),
       method=st.sampled_from([None, "centroid", "topk", "other"]))
def test_suggest_on_any_strings_and_options_codes_or_refuses(book: nlp_coder.Codebook, corpus: list[str],
                                                              threshold: object, margin: object, top_k: int,
                                                              suggestions: int, method: str | None) -> None:
    try:
        result = nlp_coder.suggest(corpus, book, model="hash-test", embedder=HashingEmbedder(), method=method,
                                   threshold=threshold, margin=margin, top_k=top_k,  # type: ignore[arg-type]
                                   suggestions=suggestions)
    except nlp_coder.NlpCoderError as error:
        assert error.code in nlp_coder.ERROR_CODES and "\n" not in str(error)
        return
    # Accepted: every option was valid, and every non-blank string is one fragment, kept in order.
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in (threshold, margin) if v is not None)
    records = result.records()
    assert [r["text"] for r in records] == [t.replace("\r\n", "\n").replace("\r", "\n").strip()
                                            for t in corpus if t.strip()]
    assert all(r["status"] in ("coded", "overlap", "uncoded") for r in records)


@SETTINGS
@given(corpus=anything, codebook=anything)
def test_wrong_kinds_of_argument_are_one_clear_error(book: nlp_coder.Codebook, corpus: object,
                                                     codebook: object) -> None:
    for args in ((corpus, book), (["She was kind."], codebook)):
        with pytest.raises(nlp_coder.NlpCoderError):
            nlp_coder.suggest(*args, model="hash-test", embedder=HashingEmbedder())  # type: ignore[arg-type]


@SETTINGS
@given(rows=st.integers(0, 4), dims=st.integers(0, 300), fill=st.sampled_from([0.0, 1.0, math.nan, math.inf]))
def test_given_vectors_of_any_shape_are_used_or_refused(book: nlp_coder.Codebook, rows: int, dims: int,
                                                        fill: float) -> None:
    corpus = ["She was kind.", "He listened.", "The bus was late."]
    try:
        result = nlp_coder.suggest(corpus, book, model="hash-test", embedder=HashingEmbedder(),
                                   embeddings=np.full((rows, dims), fill))
    except nlp_coder.NlpCoderError as error:
        assert error.code == "E130"
        return
    assert (rows, dims) == (3, 256) and math.isfinite(fill) and len(result.records()) == 3


@SETTINGS
@given(vectors=st.one_of(anything, st.lists(st.lists(st.floats(), min_size=1, max_size=3), max_size=3)),
       threshold=numbers)
def test_the_matcher_takes_vectors_or_refuses_them(book: nlp_coder.Codebook, vectors: object,
                                                  threshold: object) -> None:
    matcher = nlp_coder.build_matcher(nlp_coder.resolve_settings(book, "hash-test")).fit(book, HashingEmbedder())
    try:
        matcher.predict(vectors)  # type: ignore[arg-type]
    except nlp_coder.NlpCoderError as error:
        assert error.code == "E130"


def test_a_path_that_is_a_folder_of_nothing_is_refused(tmp_path: Path, book: nlp_coder.Codebook) -> None:
    with pytest.raises(nlp_coder.NlpCoderError) as caught:
        nlp_coder.suggest(tmp_path, book, model="hash-test", embedder=HashingEmbedder())
    assert caught.value.code == "E106"


@SETTINGS
@given(distance=numbers, size=st.integers(-2, 5), include=st.sampled_from([None, "uncoded", "low", "all", "x"]))
def test_discover_takes_its_options_or_refuses_them(book: nlp_coder.Codebook, distance: object, size: int,
                                                    include: str | None) -> None:
    corpus = ["She was kind to us.", "He listened to me.", "The bus was late.", "The train was late."] * 2
    try:
        found = nlp_coder.discover(corpus, book, model="hash-test", embedder=HashingEmbedder(),
                                   distance_threshold=distance, min_cluster_size=size,  # type: ignore[arg-type]
                                   include=include)
    except nlp_coder.NlpCoderError as error:
        assert error.code == "E130"
        return
    assert isinstance(distance, (int, float)) and math.isfinite(distance) and distance > 0 and size >= 2
    assert found.candidates <= len(corpus)


@SETTINGS
@given(bootstrap=st.integers(-2, 3), seed=st.integers(-3, 3), compare=st.sampled_from([None, "nope"]))
def test_sensitivity_takes_its_options_or_refuses_them(book: nlp_coder.Codebook, bootstrap: int, seed: int,
                                                       compare: str | None) -> None:
    corpus = ["She was kind to us.", "He listened to me.", "The bus was late."]
    try:
        report = nlp_coder.sensitivity(corpus, book, model="hash-test", embedder=HashingEmbedder(),
                                       bootstrap=bootstrap, seed=seed, compare_model=compare)
    except nlp_coder.NlpCoderError as error:
        assert error.code == "E130"
        return
    assert bootstrap >= 0 and seed >= 0 and compare is None and report.fragments == 3


@SETTINGS
@given(gold=anything, k=st.integers(-2, 3), repeat=st.integers(-1, 3),
       methods=st.lists(st.sampled_from(["suggest", "topk", "knn", "nope", "all"]), max_size=2))
def test_evaluate_takes_its_arguments_or_refuses_them(book: nlp_coder.Codebook, gold: object, k: int, repeat: int,
                                                      methods: list[str]) -> None:
    records = [nlp_coder.GoldFragment(str(i), t, c, document=f"d{i % 2}") for i, (t, c) in enumerate([
        ("She helped me fill in the forms.", ("support",)), ("She was warm and kind.", ("warmth",)),
        ("He listened to me.", ("listening",)), ("The bus was late.", ())])]
    for given_gold in (gold, records):
        try:
            nlp_coder.evaluate(given_gold, book, model="hash-test", embedder=HashingEmbedder(),  # type: ignore[arg-type]
                               exemplars_from_gold=k, repeat=repeat, methods=methods)
        except nlp_coder.NlpCoderError as error:
            assert error.code.startswith("E1")
