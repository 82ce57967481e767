from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from conftest import SMALL_CODEBOOK
from subprocess_run import same_in_two_processes

from nlp_coder.analyses.sensitivity import UNCODED, labels, sensitivity
from nlp_coder.cli import main
from nlp_coder.codebook import parse_codebook
from nlp_coder.match.matcher import CodebookMatcher, codebook_texts
from nlp_coder.records import Fragment, MatchSettings

TEXTS = [
    "She helped me fill in the housing forms and arranged childcare",
    "She was warm and kind to my kids and gave me a hug",
    "She really listened to what I said and took notes",
    "She was kind and she listened to my side of the story",
    "The bus was late again so I walked to the office",
    "He drove me to the hospital appointment and helped with forms",
    "They listened carefully, warm and kind and gentle with us",
]


def _setup(embedder, book_text: str = SMALL_CODEBOOK, threshold: float = 0.2, margin: float = 0.03):
    book = parse_codebook(book_text)
    matcher = CodebookMatcher.from_settings(MatchSettings(threshold, margin)).fit(book, embedder.encode)
    fragments = [Fragment(f"d#{i + 1}.1", "d", "P", i, 0, len(t), t) for i, t in enumerate(TEXTS)]
    vectors = embedder.encode(TEXTS)
    results = matcher.predict(vectors, fragments)
    texts = codebook_texts(book)
    lookup = dict(zip(texts, embedder.encode(texts)))
    return matcher, vectors, results, lookup


def test_vectorised_labels_agree_with_the_matcher(embedder) -> None:
    for threshold, margin in [(0.1, 0.0), (0.2, 0.03), (0.25, 0.1), (0.5, 0.03)]:
        matcher, vectors, results, _ = _setup(embedder, threshold=threshold, margin=margin)
        best, overlap = labels(matcher, matcher.decision_function(vectors))
        for r, b, o in zip(results, best, overlap):
            d = r.decision
            assert (d.status == "uncoded") == (b == UNCODED)
            assert (d.status == "overlap") == bool(o)
            if b != UNCODED:
                assert d.codes[0] == matcher.codes_[b]


def test_labels_break_ties_as_the_matcher_does(embedder) -> None:
    from nlp_coder.match.matcher import Scores

    matcher, _, _, _ = _setup(embedder, margin=0.0)
    main = [j for j, c in enumerate(matcher.codebook_.codes) if c.facet is None and c.codable]
    assert len(main) >= 2
    # The first two main codes tie at 6 decimals; the second is higher by float noise only.
    score = np.full((1, len(matcher.codes_)), 0.05, dtype=np.float32)
    score[0, main[0]], score[0, main[1]] = 0.5000001, 0.5000004
    shape = score.shape
    scored = Scores(score, np.zeros(shape, dtype=np.int64), score.copy(), np.full(shape, np.nan, np.float32))
    fragment = Fragment("d#1.1", "d", "P", 0, 0, 4, "text")
    decided = matcher.decide(np.zeros((1, 1), np.float32), [fragment], scored=scored).results()[0]
    best, overlap = labels(matcher, score)
    assert decided.decision.codes[0] == matcher.codes_[main[0]] == matcher.codes_[best[0]]
    assert (decided.decision.status == "overlap") == bool(overlap[0])


def test_report_matches_the_run(embedder) -> None:
    matcher, vectors, results, lookup = _setup(embedder)
    report = sensitivity(results, vectors, matcher, lookup, bootstrap=5, seed=1)
    current = next(p for p in report.sweep if p.threshold == 0.2 and p.margin == 0.03)
    statuses = [r.decision.status for r in results]
    assert (current.coded, current.overlap, current.uncoded) == tuple(statuses.count(s) for s in
                                                                       ("coded", "overlap", "uncoded"))
    lower = next(p for p in report.sweep if p.threshold == 0.1 and p.margin == 0.03)
    assert lower.uncoded <= current.uncoded
    assert {s.code for s in report.stability} == {"support", "warmth", "listening"}
    assert all(s.leave_one_out is None or 0 <= s.leave_one_out <= 1 for s in report.stability)


_REPORT = """
    from nlp_coder.analyses.sensitivity import sensitivity
    from nlp_coder.embed import HashingEmbedder
    from test_sensitivity import _setup

    matcher, vectors, results, lookup = _setup(HashingEmbedder())
    print(repr(sensitivity(results, vectors, matcher, lookup, bootstrap=5, seed=1)))
"""


def test_report_is_deterministic_across_processes(embedder) -> None:
    """The whole report (sweeps, bootstrap and leave-one-out stability, competing pairs)
    is the same in two processes with different string hashing, and as computed here."""
    out = same_in_two_processes(_REPORT).decode()
    matcher, vectors, results, lookup = _setup(embedder)
    assert out == repr(sensitivity(results, vectors, matcher, lookup, bootstrap=5, seed=1)) + "\n"
    assert out.count("CodeStability(") == 3 and "PairConfusion(" in out


def test_interchangeable_codes_are_flagged(embedder) -> None:
    twin = SMALL_CODEBOOK.replace(
        '      - "She really listened to what I said."\n      - "He listened carefully and took notes."\n'
        '      - "They listened to my side of the story."',
        '      - "She was warm and kind to my kids."\n      - "He was so kind and gentle with us."\n'
        '      - "She gave me a warm hug when I cried."')
    matcher, vectors, results, lookup = _setup(embedder, twin, threshold=0.1, margin=0.05)
    report = sensitivity(results, vectors, matcher, lookup, bootstrap=3)
    pair = next(p for p in report.pairs if {p.a, p.b} == {"warmth", "listening"})
    assert pair.centroid_similarity == 1.0 and pair.competing >= 3
    assert any(r.action in {"merge", "sharpen"} and set(r.codes) == {"warmth", "listening"}
               for r in report.recommendations)


def test_sensitivity_command(tmp_path: Path, codebook_file: Path) -> None:
    corpus = tmp_path / "t.txt"
    corpus.write_text("Interviewer: Go on.\n" + "".join(f"Mother: {t}.\n" for t in TEXTS))
    out = tmp_path / "s.json"
    args = ["sensitivity", str(corpus), "-c", str(codebook_file), "-m", "hash-test", "--db", str(tmp_path / "p.db"),
            "--threshold", "0.2", "--bootstrap", "4", "--compare-model", "hash-test"]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert {"sweep", "stability", "pairs", "recommendations", "model_comparison"} <= set(report)
    assert report["model_comparison"] == {"model": "hash-test", "agreement": 1.0, "kappa": 1.0}
    again = CliRunner().invoke(main, [*args, "--format", "md", "-q"])
    assert again.stdout.startswith("# Sensitivity of the category boundaries")
    assert "| 0.2 (current) |" in again.stdout
    assert np.isclose(report["threshold"], 0.2)


def test_a_threshold_is_recommended_from_the_exemplars_own_scores(embedder) -> None:
    from nlp_coder.analyses.sensitivity import recommend_threshold

    matcher, vectors, results, lookup = _setup(embedder)
    book = matcher.codebook_
    advice = recommend_threshold(book, lookup, matcher.settings)
    assert advice is not None and advice.quantile == 0.1
    assert {c for c, _ in advice.per_code} == {c.id for c in book.codes
                                               if c.facet is None and c.codable and len(c.examples) >= 3}
    assert advice.threshold == round(float(np.median([t for _, t in advice.per_code])), 2)
    assert "leave-one-out" in advice.evidence and advice.origin.startswith("auto (exemplar leave-one-out, q=0.1")
    # a lower quantile asks fewer exemplars to fall short: the threshold cannot rise
    assert recommend_threshold(book, lookup, matcher.settings, quantile=0.0).threshold <= advice.threshold
    report = sensitivity(results, vectors, matcher, lookup, bootstrap=2)
    assert report.recommended == advice and sum(report.at_recommended) == len(results)


def test_suggest_threshold_auto_uses_the_recommendation(tmp_path: Path, codebook_file: Path) -> None:
    from nlp_coder.run import SuggestOptions, suggest

    corpus = tmp_path / "t.txt"
    corpus.write_text("Interviewer: Go on.\n" + "".join(f"Mother: {t}.\n" for t in TEXTS))
    result = suggest(corpus, codebook_file, None, options=SuggestOptions(model="hash-test", threshold="auto"))
    parameters = dict(result.manifest.parameters)
    assert parameters["settings_from"]["threshold"].startswith("auto (exemplar leave-one-out")
    assert result.summary is not None and result.summary.notes[0].startswith(
        f"threshold {parameters['threshold']:g} (--threshold auto)")
    db = tmp_path / "p.db"
    cli = CliRunner().invoke(main, ["suggest", str(corpus), "-c", str(codebook_file), "-m", "hash-test",
                                    "--db", str(db), "--threshold", "AUTO", "--out", str(tmp_path / "o.jsonl")])
    assert cli.exit_code == 0, cli.output
    assert "(--threshold auto):" in cli.output
    refused = CliRunner().invoke(main, ["suggest", str(corpus), "-c", str(codebook_file), "--threshold", "high"])
    assert refused.exit_code == 2


def test_the_summary_warns_when_most_fragments_are_uncoded() -> None:
    from nlp_coder.export.tables import Summary

    mostly = Summary(10, (("coded", 3), ("overlap", 1), ("uncoded", 6)), (), ())
    assert mostly.warning is not None and mostly.warning.startswith("6 of 10 fragments (60%) are uncoded")
    assert "nlp-coder sensitivity" in mostly.warning and "--threshold auto" in mostly.warning
    assert mostly.as_text().splitlines()[-1] == f"warning: {mostly.warning}"
    assert mostly.as_dict()["warning"] == mostly.warning
    half = Summary(10, (("coded", 5), ("overlap", 0), ("uncoded", 5)), (), ())
    assert half.warning is None and "warning" not in half.as_text()


def test_the_uncoded_warning_gives_advice_that_fits_how_the_thresholds_were_set() -> None:
    from dataclasses import replace

    from nlp_coder.export.tables import Summary
    from nlp_coder.run import _uncoded_advice

    mostly = Summary(10, (("coded", 3), ("overlap", 1), ("uncoded", 6)), (), ())
    learned = replace(mostly, advice=_uncoded_advice(object(), None))
    assert learned.warning is not None and "--target-precision" in learned.warning
    assert "--threshold" not in learned.warning and learned.warning.startswith("6 of 10 fragments")
    trained = replace(mostly, advice=_uncoded_advice(None, object()))
    assert trained.warning is not None and "--train-from" in trained.warning and "--threshold" not in trained.warning
    assert _uncoded_advice(None, None) is None
