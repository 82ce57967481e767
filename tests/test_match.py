from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SMALL_CODEBOOK
from subprocess_run import run_python, same_in_two_processes

from nlp_coder.codebook import load_codebook, parse_codebook
from nlp_coder.errors import InputError
from nlp_coder.match.matcher import CodebookMatcher, codebook_texts, definition_text
from nlp_coder.records import Fragment, MatchSettings


def _fragments(*texts: str) -> list[Fragment]:
    return [Fragment(id=f"d#{i}", document="d", speaker="P", turn=i, start=0, end=len(t), text=t)
            for i, t in enumerate(texts)]


class TableEmbedder:
    """Vectors looked up from a table, to place texts exactly where a test needs them."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def encode(self, texts):
        rows = np.array([self.table[t] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


BOOK = parse_codebook(
    "codes:\n"
    "  - id: a\n    name: A\n    examples: [ea1, ea2]\n    counterexamples: [na]\n"
    "  - id: group\n    name: Group\n    codable: false\n    definition: dg\n"
    "  - id: b\n    name: B\n    parent: group\n    examples: [eb1]\n"
    "  - id: c\n    name: C\n    parent: group\n    definition: dc\n"
)
TABLE = {
    "ea1": [1, 0, 0, 0], "ea2": [0.9, 0.1, 0, 0], "na": [1, 0, 0, 0.3],
    "eb1": [0, 1, 0, 0], "Group. dg": [0, 0, 0, 1], "C. dc": [0, 0, 1, 0],
}


def _matcher(threshold: float = 0.5, margin: float = 0.05, **kwargs) -> CodebookMatcher:
    settings = MatchSettings(threshold=threshold, margin=margin, definition_weight=0.0, **kwargs)
    return CodebookMatcher.from_settings(settings).fit(BOOK, TableEmbedder(TABLE).encode)


def _vec(*values: float) -> np.ndarray:
    v = np.array([values], dtype=np.float32)
    return v / np.linalg.norm(v)


def test_coded_overlap_uncoded() -> None:
    matcher = _matcher()
    vectors = np.vstack([_vec(0, 1, 0, 0), _vec(0, 1, 1, 0), _vec(0, 0, 0, 1)])
    results = matcher.predict(vectors, _fragments("x", "y", "z"))
    coded, overlap, uncoded = (r.decision for r in results)
    assert (coded.status, coded.codes) == ("coded", ("b",))
    assert (overlap.status, set(overlap.codes)) == ("overlap", {"b", "c"})
    assert (uncoded.status, uncoded.codes) == ("uncoded", ())
    assert uncoded.suggestions and not any(s.above_threshold for s in uncoded.suggestions)


def test_reason_is_the_nearest_exemplar_and_scores_are_top_k_means() -> None:
    matcher = _matcher(top_k=2)
    [result] = matcher.predict(_vec(1, 0, 0, 0), _fragments("x"))
    best = result.decision.suggestions[0]
    assert best.code == "a" and best.exemplar == "ea1" and best.exemplar_similarity == pytest.approx(1.0)
    expected = (1.0 + 0.9 / np.linalg.norm([0.9, 0.1])) / 2
    assert best.score == pytest.approx(expected, abs=1e-4)


def test_counterexample_penalises_text_nearer_to_it() -> None:
    matcher = _matcher(threshold=0.0)
    near_counter = _vec(1, 0, 0, 1)
    [with_penalty] = matcher.predict(near_counter, _fragments("x"))
    no_counter = CodebookMatcher.from_settings(
        MatchSettings(0.0, 0.05, definition_weight=0.0, counterexample_weight=0.0)).fit(
        BOOK, TableEmbedder(TABLE).encode)
    [without] = no_counter.predict(near_counter, _fragments("x"))
    score = {s.code: s.score for s in with_penalty.decision.suggestions}["a"]
    plain = {s.code: s.score for s in without.decision.suggestions}["a"]
    assert score < plain


def test_containers_roll_up_and_never_compete_with_their_children() -> None:
    matcher = _matcher(threshold=0.3)
    scores = matcher.decision_function(_vec(0, 1, 0.2, 0))
    index = {c: j for j, c in enumerate(matcher.codes_)}
    assert scores[0, index["group"]] == pytest.approx(max(scores[0, index["b"]], scores[0, index["c"]]))
    [result] = matcher.predict(_vec(0, 1, 0.2, 0), _fragments("x"))
    assert "group" not in [s.code for s in result.decision.suggestions]


def test_per_code_threshold_overrides_the_global_one() -> None:
    book = parse_codebook("codes:\n  - id: a\n    examples: [ea1]\n    threshold: 0.99\n"
                          "  - id: b\n    examples: [eb1]\n")
    matcher = CodebookMatcher.from_settings(
        MatchSettings(0.5, 0.05, definition_weight=0.0)).fit(book, TableEmbedder(TABLE).encode)
    [r] = matcher.predict(_vec(1, 0.3, 0, 0), _fragments("x"))
    assert r.decision.status == "uncoded"
    assert r.decision.suggestions[0].code == "a" and not r.decision.suggestions[0].above_threshold


def test_definition_weight_blends_definition_similarity(embedder) -> None:
    book = parse_codebook(SMALL_CODEBOOK)
    texts = ["She helped me fill in the housing forms and arranged childcare."]
    vectors = embedder.encode(texts)
    by_weight = {}
    for weight in (0.0, 1.0):
        matcher = CodebookMatcher.from_settings(
        MatchSettings(0.1, 0.03, definition_weight=weight)).fit(book, embedder.encode)
        [r] = matcher.predict(vectors, _fragments(*texts))
        by_weight[weight] = next(s for s in r.decision.suggestions if s.code == "support")
    assert by_weight[1.0].score == pytest.approx(by_weight[1.0].definition_similarity, abs=1e-4)
    assert by_weight[0.0].score != by_weight[1.0].score


def test_facets_are_decided_independently(embedder) -> None:
    book = parse_codebook(SMALL_CODEBOOK)
    matcher = CodebookMatcher.from_settings(
        MatchSettings(0.2, 0.03)).fit(book, embedder.encode)
    texts = ["She helped me fill in the housing forms, I was happy and grateful."]
    [r] = matcher.predict(embedder.encode(texts), _fragments(*texts))
    assert r.decision.codes == ("support",)
    facets = dict(r.facets)
    assert facets["valence"].codes == ("positive",)
    assert {s.code for s in facets["valence"].suggestions} == {"positive", "negative"}


def test_codebook_texts_are_distinct_and_complete() -> None:
    texts = codebook_texts(BOOK)
    assert len(texts) == len(set(texts)) == 6
    assert definition_text(BOOK.code("c")) in texts


_PREDICT = """
    from conftest import SMALL_CODEBOOK
    from nlp_coder.codebook import parse_codebook
    from nlp_coder.embed import HashingEmbedder
    from nlp_coder.match.matcher import build_matcher
    from nlp_coder.records import Fragment, MatchSettings

    embedder = HashingEmbedder()
    book = parse_codebook(SMALL_CODEBOOK)
    said = ["she was warm and kind to my kids", "she helped me fill in the housing forms",
            "she really listened and was kind", "the bus was late again", "I was happy and grateful"]
    texts = [f"{said[i % len(said)]} on visit {i}" for i in range(50)]
    fragments = [Fragment(f"d#{i}", "d", "P", i, 0, len(t), t) for i, t in enumerate(texts)]
    for method in ("topk", "centroid"):
        matcher = build_matcher(MatchSettings(0.2, 0.03, method=method)).fit(book, embedder.encode)
        for result in matcher.predict(embedder.encode(texts), fragments):
            print(method, repr(result))
"""


def test_the_hash_seed_reaches_the_fresh_interpreters() -> None:
    first, second = run_python("print(hash('nlp_coder'), sorted({'a', 'b'}) == ['a', 'b'])")
    assert first != second and first.endswith(b" True\n")


def test_predict_is_deterministic_across_processes() -> None:
    """Every result, scores and reasons included, is the same in two processes with different
    string hashing (and so different set and dict-of-set orders)."""
    out = same_in_two_processes(_PREDICT).decode()
    assert out.count("FragmentResult(") == 100
    assert all(f"status='{status}'" in out for status in ("coded", "uncoded"))


def test_the_method_chooses_the_matcher_its_weight_and_threshold(tmp_path, codebook_file, transcript_file,
                                                                  embedder) -> None:
    from dataclasses import replace

    from nlp_coder.embed.models import load_registry
    from nlp_coder.match.matcher import MATCHERS, CentroidMatcher, build_matcher
    from nlp_coder.match.settings import DEFAULT_METHOD
    from nlp_coder.match.settings import SCORING_METHODS as METHODS
    from nlp_coder.run import SuggestOptions, match_settings, suggest

    assert set(MATCHERS) == set(METHODS) and DEFAULT_METHOD in METHODS
    book = load_codebook(codebook_file)
    centroid = match_settings(book, SuggestOptions(model="default", method="centroid"))
    assert isinstance(build_matcher(centroid), CentroidMatcher) and centroid.definition_weight == 0.5
    assert centroid.threshold == load_registry().model("default").threshold_for("centroid")
    assert match_settings(book, SuggestOptions(method="centroid", definition_weight=0.1)).definition_weight == 0.1
    spec = replace(load_registry().model("default"), method_thresholds=(("centroid", 0.42),))
    assert spec.threshold_for("centroid") == 0.42 and spec.threshold_for("topk") == spec.threshold
    with pytest.raises(InputError, match="unknown method"):
        match_settings(book, SuggestOptions(method="nearest"))
    # Without --method, a model's own method applies (the fast model's is topk), else the default.
    assert match_settings(book, SuggestOptions(model="default")).method == DEFAULT_METHOD
    assert load_registry().model("fast").method == "topk"
    fast = match_settings(book, SuggestOptions(model="fast"))
    assert fast.method == "topk" and fast.definition_weight == 0.25
    assert match_settings(book, SuggestOptions(model="fast", method="centroid")).method == "centroid"
    runs = {}
    for method in METHODS:
        result = suggest(transcript_file, codebook_file, tmp_path / "p.db", embedder=embedder,
                         options=SuggestOptions(model="hash-test", method=method, threshold=0.0))
        assert dict(result.manifest.parameters)["method"] == method
        assert type(result.matcher) is MATCHERS[method]
        runs[method] = [s.score for r in result.results for s in r.decision.suggestions]
    assert runs["topk"] != runs["centroid"]


def _decided(embedder, threshold: float = 0.1, margin: float = 0.05):  # type: ignore[no-untyped-def]
    book = parse_codebook(SMALL_CODEBOOK)
    texts = ["She helped me with the forms and was kind.", "He listened and was warm with the kids.",
             "The bus was late.", "I was happy, she listened to my side.", "It was awful and unfair."]
    fragments = [Fragment(f"d{i % 2}#{i}", f"d{i % 2}", "P", i, 0, len(t), t,
                          attributes={"site": "north", "age": str(30 + i)} if i % 2 else {})
                 for i, t in enumerate(texts)]
    matcher = CodebookMatcher.from_settings(
        MatchSettings(threshold=threshold, margin=margin)).fit(book, embedder.encode)
    return book, matcher.decide(embedder.encode(texts), fragments)


def test_decisions_give_the_lines_and_counts_of_their_results(embedder) -> None:
    from nlp_coder.export.tables import decision_lines, summarise

    book, decided = _decided(embedder)
    results = decided.results()
    assert {r.decision.status for r in results} == {"coded", "overlap", "uncoded"}  # the case needs each
    lines = [json.loads(line) for line in decision_lines(decided)]
    # The records say what the result objects say (both are made from the same columns).
    for line, r in zip(lines, results, strict=True):
        assert (line["fragment_id"], line["status"], line["codes"]) == (r.fragment.id, r.decision.status,
                                                                         list(r.decision.codes))
        assert [s["code"] for s in line["suggestions"]] == [s.code for s in r.decision.suggestions]
        assert [s["score"] for s in line["suggestions"]] == [s.score for s in r.decision.suggestions]
        assert {k: v["codes"] for k, v in line["facets"].items()} == {k: list(d.codes) for k, d in r.facets}
    summary = summarise(decided, book)
    assert dict(summary.status) == {s: sum(r.decision.status == s for r in results)
                                    for s in ("coded", "overlap", "uncoded")}
    per_code = {code: count for code, _, _, count in summary.codes}
    assert per_code["care"] == sum(bool({"warmth", "listening"} & set(r.decision.codes)) for r in results)


def test_decisions_select_by_code_and_keep_rows_when_split_and_joined(embedder) -> None:
    from nlp_coder.match.decide import Decisions

    book, decided = _decided(embedder)
    results = decided.results()

    def assigned(r) -> set[str]:  # type: ignore[no-untyped-def]
        codes = {c for d in [r.decision, *(d for _, d in r.facets)] for c in d.codes}
        return codes | {a for c in codes for a in book.ancestors(c)}

    for where in (["care"], ["support"], ["care", "positive"], ["listening"]):
        expected = [set(where) <= assigned(r) for r in results]
        assert decided.having(where).tolist() == expected
        assert [decided.codes_of(i) for i in range(len(decided))] == [assigned(r) for r in results]
    assert any(decided.having(["care"]))  # a container matches any of its descendants
    odd, even = [1, 3], [4, 0, 2]
    joined = Decisions.join([(even, decided.take(even)), (odd, decided.take(odd))])
    assert joined.results() == results and (joined.assigned == decided.assigned).all()
    with pytest.raises(AssertionError):
        Decisions.join([(odd, decided.take(odd)), ([1], decided.take([1]))])
