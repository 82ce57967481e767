from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SMALL_CODEBOOK
from subprocess_run import same_in_two_processes

from nlp_coder.codebook import parse_codebook
from nlp_coder.errors import InputError
from nlp_coder.match.train import PilotPassage, label_fragments, train_matcher, training_text
from nlp_coder.readers import read_corpus
from nlp_coder.records import Fragment, MatchSettings
from nlp_coder.segment import SegmentOptions, load_pipeline, segment

THEMES = {
    "support": ["She helped me with the housing forms number {i}.",
                "He filled in the benefit forms with me, time {i}."],
    "warmth": ["She was kind and warm with the kids on visit {i}.", "He was gentle and kind to us on day {i}."],
    "listening": ["She listened to my story in session {i}.", "He really listened to me in meeting {i}."],
    None: ["The bus was late again on morning {i}.", "It rained all week in month {i}."],
}


def _pilot(tmp_path: Path) -> tuple[Path, Path]:
    codings = ["document,start,end,code,coder"]
    text = ""
    for i in range(6):
        for code, templates in THEMES.items():
            for t in templates:
                said = t.format(i=i)
                start = len(text) + len("Mother: ")
                text += f"Mother: {said}\n"
                if code:
                    codings.append(f"pilot.txt,{start},{start + len(said)},{code},anna")
    corpus = tmp_path / "pilot.txt"
    corpus.write_text(text)
    csv = tmp_path / "codings.csv"
    csv.write_text("\n".join(codings) + "\n")
    return corpus, csv


def _train(tmp_path: Path, embedder, csv_text: str | None = None):
    corpus, csv = _pilot(tmp_path)
    if csv_text is not None:
        csv.write_text(csv_text)
    docs = read_corpus(corpus)
    options = SegmentOptions(pipeline="blank")
    fragments = segment(docs, options, nlp=load_pipeline("blank"))
    book = parse_codebook(SMALL_CODEBOOK)
    return train_matcher(csv, book, MatchSettings(0.3, 0.05), docs, fragments, options, embedder.encode), fragments


def test_labels_need_half_the_fragment_covered() -> None:
    fragment = Fragment("d#1.1", "d", "P", 0, 10, 30, "x" * 20)
    assert label_fragments([fragment], [PilotPassage("d", 0, 20, "a", "anna")]) == [{"a"}]
    assert label_fragments([fragment], [PilotPassage("d", 0, 19, "a", "anna")]) == [set()]
    assert label_fragments([fragment], [PilotPassage("e", 0, 30, "a", "anna")]) == [set()]


def test_training_calibrates_each_code_and_codes_new_text(tmp_path: Path, embedder) -> None:
    (matcher, training), fragments = _train(tmp_path, embedder)
    assert training.fragments == len(fragments) == 48 and training.uncoded == 12
    assert training.groups == (None,)
    calibrated = {c.code: c for c in training.calibrations}
    assert set(calibrated) == {"support", "warmth", "listening"}
    assert all(c.fragments == 12 and c.precision is not None and c.f1 > 0.8 for c in calibrated.values())
    new = ["She helped me with the housing forms again.", "He was gentle and kind to the baby.",
           "The bus was late again this morning."]
    results = matcher.predict(embedder.encode(new), [Fragment(f"n#{i}.1", "n", "P", i, 0, len(t), t)
                                                     for i, t in enumerate(new)])
    assert [r.decision.codes for r in results[:2]] == [("support",), ("warmth",)]
    assert results[2].decision.status == "uncoded"
    # the pilot passages are exemplars now: the reason can be a coded passage
    assert results[0].decision.suggestions[0].exemplar.startswith("She helped me with the housing forms number")
    assert "precision" in training_text(training)


def test_the_classifiers_regularisation_is_a_parameter(tmp_path: Path, embedder) -> None:
    """``c`` (scikit-learn's C) reaches every code's classifier: a lighter penalty, larger weights."""
    from nlp_coder.match.train import TrainedMatcher, with_pilot_exemplars

    corpus, csv = _pilot(tmp_path)
    docs = read_corpus(corpus)
    fragments = segment(docs, SegmentOptions(pipeline="blank"), nlp=load_pipeline("blank"))
    from nlp_coder.match.train import read_pilot

    _, passages = read_pilot(csv, docs)
    labels = label_fragments(fragments, passages)
    book = with_pilot_exemplars(parse_codebook(SMALL_CODEBOOK), fragments, labels)
    vectors = embedder.encode([f.text for f in fragments])
    norms = {}
    for c in (0.1, 10.0):
        matcher = TrainedMatcher.from_settings(MatchSettings(0.3, 0.05))
        matcher.train(book, embedder.encode, vectors, labels, [not lab for lab in labels], c=c)
        norms[c] = {code: float((w ** 2).sum()) for code, (w, _) in matcher.heads_.items()}
    assert set(norms[0.1]) == set(norms[10.0]) == {"support", "warmth", "listening"}
    assert all(norms[10.0][code] > norms[0.1][code] for code in norms[0.1])


_TRAIN = """
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    from nlp_coder.embed import HashingEmbedder
    from nlp_coder.records import Fragment
    from test_train import _train

    embedder = HashingEmbedder()
    (matcher, training), _ = _train(Path(tempfile.mkdtemp()), embedder)
    print(repr(replace(training, source=Path(training.source).name)))  # the pilot file, wherever it is
    new = ["She helped me with the housing forms again.", "He was gentle and kind to the baby.",
           "She listened and was kind to us.", "The bus was late again this morning."]
    vectors = embedder.encode(new)
    print(matcher.decision_function(vectors).tolist())
    fragments = [Fragment(f"n#{i}.1", "n", "P", i, 0, len(t), t) for i, t in enumerate(new)]
    for result in matcher.predict(vectors, fragments):
        print(repr(result))
"""


def test_training_is_deterministic() -> None:
    """The calibration (folds, thresholds, precision and recall) and what the trained matcher
    decides are the same in two processes with different string hashing."""
    out = same_in_two_processes(_TRAIN).decode()
    assert out.startswith("Training(source='codings.csv'") and out.count("CodeCalibration(") == 3
    assert out.count("FragmentResult(") == 4


def test_pilot_coding_errors(tmp_path: Path, embedder) -> None:
    with pytest.raises(InputError, match="codes that are not in the codebook: ghost"):
        _train(tmp_path, embedder, "document,start,end,code,coder\npilot.txt,8,40,ghost,anna\n")
    with pytest.raises(InputError, match="not in the corpus: other.txt"):
        _train(tmp_path, embedder, "document,start,end,code,coder\nother.txt,8,40,support,anna\n")
    with pytest.raises(InputError, match="no pilot coding covers half a fragment"):
        _train(tmp_path, embedder, "document,start,end,code,coder\npilot.txt,8,10,support,anna\n")


def test_suggest_train_from_a_codings_csv(tmp_path: Path, codebook_file: Path) -> None:
    import json

    from click.testing import CliRunner

    from nlp_coder.cli import main

    corpus, csv = _pilot(tmp_path)
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["suggest", str(corpus), "-c", str(codebook_file), "-m", "hash-test",
                                       "--db", str(tmp_path / "p.db"), "--out", str(out), "--spacy", "blank",
                                       "--train-from", str(csv), "--no-learn"])  # the classifier per code
    assert result.exit_code == 0, result.output
    assert "trained on 48 fragments of 1 pilot document (12 not coded)" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    coded = {r["text"]: r["codes"] for r in rows}
    assert coded["She helped me with the housing forms number 0."] == ["support"]
    assert coded["The bus was late again on morning 0."] == []
    from nlp_coder.store import Store

    with Store(tmp_path / "p.db") as store:
        manifest = store.runs()[-1][4]
    assert manifest["parameters"]["train_from"] == str(csv)
    assert len(manifest["parameters"]["train_from_sha256"]) == 64


def test_calibration_takes_the_highest_f1_best_cut_and_never_goes_below_the_floor() -> None:
    import numpy as np

    from nlp_coder.match.train import _calibrate

    probabilities = np.array([0.9, 0.8, 0.6, 0.55, 0.3, 0.2, 0.1])
    truth = np.array([1, 1, 0, 1, 1, 0, 0], dtype=bool)
    assert _calibrate(probabilities, truth) == (0.55, 0.75, 0.75, 0.75)
    assert _calibrate(np.array([0.3, 0.2]), np.array([1, 0], dtype=bool)) == (0.5, 0.0, 0.0, 0.0)
