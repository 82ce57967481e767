"""``nlp-coder evaluate``: reading gold, the metrics, the few-shot protocol and the methods."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from subprocess_run import same_in_two_processes

from nlp_coder.analyses.evaluate import (
    EvaluateOptions,
    GoldFragment,
    draw_split,
    evaluate,
    evaluate_gold,
    read_gold,
    report_dict,
    score_predictions,
)
from nlp_coder.analyses.methods import DEFAULT, FROZEN_METHODS, METHODS, Prediction
from nlp_coder.cli import main
from nlp_coder.codebook import parse_codebook
from nlp_coder.embed.models import HashingEmbedder
from nlp_coder.errors import InputError

GOLD_CSV = """\
id,text,codes,document,speaker
1,She helped me fill in the housing forms.,support,a,Mother
2,She was warm and kind to my kids.,warmth,a,Mother
3,He really listened to what I said.,listening,b,Mother
4,The bus was late again so I walked.,,b,Mother
5,They arranged childcare so I could rest.,support,c,Father
6,He was kind and listened carefully.,warmth; listening,c,Father
"""

# Three codes, four documents with two fragments of each code: for the few-shot protocol.
FEW_SHOT_BOOK = """\
name: Few-shot book
codes:
  - id: food
    name: Food
    definition: Talk about meals, cooking and eating.
  - id: money
    name: Money
    definition: Talk about income, bills and debt.
  - id: sleep
    name: Sleep
    definition: Talk about sleep, rest and tiredness.
"""
TOPICS = {
    "food": ["we cooked pasta for dinner", "she eats bread and soup", "lunch was rice and beans"],
    "money": ["the bills and rent are high", "my wages barely cover the debt", "we saved money on the bills"],
    "sleep": ["I slept badly all night", "the baby wakes and I am tired", "I need rest and more sleep"],
}


def _few_shot_gold() -> list[GoldFragment]:
    gold = []
    for d in range(6):
        for code, texts in TOPICS.items():
            for i in range(2):
                text = f"{texts[(d + i) % 3]} in week {d} part {i}"
                gold.append(GoldFragment(f"{d}-{code}-{i}", text, (code,), document=f"doc{d}",
                                         context=f"question {d} {i}"))
        gold.append(GoldFragment(f"{d}-none", f"the weather on day {d} was grey", (), document=f"doc{d}"))
    return gold


def _encode(texts):
    return HashingEmbedder().encode(list(texts))


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- reading gold ------------------------------------------------------------------------------

def test_read_gold_csv_splits_codes_and_keeps_uncoded(tmp_path: Path) -> None:
    gold = read_gold(_write(tmp_path, "gold.csv", GOLD_CSV))
    assert [g.id for g in gold] == ["1", "2", "3", "4", "5", "6"]
    assert gold[3].codes == ()
    assert gold[5].codes == ("warmth", "listening")
    assert (gold[0].document, gold[0].speaker, gold[0].context) == ("a", "Mother", "")


def test_read_gold_jsonl_accepts_code_lists(tmp_path: Path) -> None:
    lines = [{"id": "x", "text": "Kind words.", "codes": ["warmth", "support"], "context": "How was she?"},
             {"id": "y", "text": "Nothing.", "codes": ""}]
    gold = read_gold(_write(tmp_path, "gold.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n"))
    assert gold[0].codes == ("warmth", "support") and gold[0].context == "How was she?"
    assert gold[1].codes == ()


@pytest.mark.parametrize(("content", "message"), [
    ("id,text\n1,hello\n", "lacks column(s) codes"),
    ("id,text,codes\n1,hello,a\n1,again,a\n", "duplicate id '1'"),
    ("id,text,codes\n1,,a\n", "has no text"),
])
def test_read_gold_rejects_bad_files(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_gold(_write(tmp_path, "gold.csv", content))


def test_unknown_gold_code_is_a_one_line_cli_error(tmp_path: Path, codebook_file: Path) -> None:
    gold = _write(tmp_path, "gold.csv", "id,text,codes\n1,She was kind.,kindness\n2,Forms.,care\n")
    result = CliRunner().invoke(main, ["evaluate", str(gold), "-c", str(codebook_file), "-m", "hash-test",
                                       "-d", str(tmp_path / "s.db")])
    assert result.exit_code == 1
    assert "'kindness' (fragment 1)" in result.output and "'care'" in result.output  # container: not codable
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


# -- metrics -----------------------------------------------------------------------------------

def test_metrics_by_hand() -> None:
    codes = ("a", "b", "c")
    gold = [("a",), ("a",), ("b",), ("b",), ("c",), ("a", "c"), ()]
    # Best code per fragment: a, b, b, b, a, c, a; the last fragment is flagged uncoded.
    scores = np.array([[.9, .1, 0], [.2, .8, .1], [.1, .9, .2], [.3, .7, 0], [.6, .1, .5], [.4, 0, .5], [.5, .2, .1]])
    assigned = (("a",), ("b",), ("b",), ("b",), (), ("c",), ())
    status = ("coded", "coded", "coded", "coded", "uncoded", "coded", "uncoded")
    m = score_predictions(gold, Prediction(scores, assigned, status), codes)
    per = {c.code: c for c in m.per_code}
    # a: predicted on fragments 0 and 4; right on 0 only. b: predicted 3 times, right twice. c: once, right.
    assert (per["a"].precision, per["a"].recall, per["a"].support) == (0.5, 0.3333, 3)
    assert (per["b"].precision, per["b"].recall) == (0.6667, 1.0)
    assert (per["c"].precision, per["c"].recall, per["c"].support) == (1.0, 0.5, 2)
    f1 = [2 * .5 * (1 / 3) / (.5 + 1 / 3), 2 * (2 / 3) / (2 / 3 + 1), 2 * .5 / 1.5]
    assert m.get("macro_f1") == round(float(np.mean(f1)), 4)
    assert m.get("micro_f1") == round(2 * (4 / 6) * (4 / 7) / (4 / 6 + 4 / 7), 4)
    assert m.get("accuracy") == round(4 / 6, 4)
    assert m.get("top3_recall") == 1.0
    from sklearn.metrics import cohen_kappa_score

    single_h, single_m = ["a", "a", "b", "b", "c"], ["a", "b", "b", "b", "a"]
    assert m.get("kappa") == round(cohen_kappa_score(single_h, single_m), 4)
    assert -1 < m.get("alpha") < 1
    assert m.get("coverage") == round(5 / 7, 4)
    # Two fragments flagged uncoded, one of them truly uncoded; the only uncoded gold is found.
    assert (m.get("uncoded_precision"), m.get("uncoded_recall")) == (0.5, 1.0)
    assert (m.n, m.n_coded, m.n_uncoded) == (7, 6, 1)


def test_perfect_agreement_and_no_uncoded_gold() -> None:
    codes = ("a", "b")
    gold = [("a",), ("b",), ("a",), ("b",)]
    scores = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=float)
    m = score_predictions(gold, Prediction(scores, tuple((g[0],) for g in gold), ("coded",) * 4), codes)
    assert m.get("macro_f1") == m.get("kappa") == m.get("alpha") == 1.0
    assert m.get("uncoded_recall") is None and m.get("uncoded_precision") is None
    assert all(c.alpha == 1.0 for c in m.per_code)


# -- the codebook-as-is protocol ---------------------------------------------------------------

_EVALUATE = """
    import os, sys, tempfile
    from click.testing import CliRunner
    from conftest import SMALL_CODEBOOK
    from nlp_coder.cli import main

    os.chdir(tempfile.mkdtemp())  # a store of its own; the gold is named as given, so relative
    with open("gold.csv", "w", encoding="utf-8") as f:
        f.write(sys.argv[1])
    with open("codebook.yaml", "w", encoding="utf-8") as f:
        f.write(SMALL_CODEBOOK)
    result = CliRunner().invoke(main, ["evaluate", "gold.csv", "-c", "codebook.yaml", "-m", "hash-test", "-d", "s.db",
                                       "--method", "baselines", "--out", "out.json", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with open("out.json", "rb") as f:
        sys.stdout.buffer.write(f.read())
"""


def test_evaluate_writes_documented_json_deterministically() -> None:
    """The same JSON, byte for byte, from two processes with different string hashing."""
    data = json.loads(same_in_two_processes(_EVALUATE, GOLD_CSV))
    assert {"macro_f1", "micro_f1", "kappa", "alpha", "n", "accuracy", "top3_recall", "coverage",
            "uncoded_precision", "uncoded_recall", "per_code", "methods", "protocol", "model"} <= set(data)
    assert data["n"] == 6 and data["method"] == DEFAULT and data["model"] == "hash-test"
    assert set(data["methods"]) == {DEFAULT, "tfidf-lr", "definitions", "centroid", "lr-emb"}
    assert [c["code"] for c in data["per_code"]] == ["support", "warmth", "listening"]
    assert data["uncoded_recall"] is not None  # the gold has an uncoded fragment
    assert data["methods"]["lr-emb"]["coverage"] == 1.0  # a classifier always assigns a code


TOPK_TEXTS = [
    "She helped me fill in the housing forms.", "He drove me to the hospital appointment.",
    "She was warm and kind to my kids.", "He was so kind and gentle with us.",
    "She really listened to what I said.", "They listened to my side of the story.",
    "She was kind and she listened to what I said.", "She helped me and she was warm and kind.",
    "The waiting room was warm and stuffy.", "The bus was late again so I walked.",
    "It rained all week.", "They arranged childcare so I could rest and listened to me.",
]


@pytest.mark.parametrize("settings", [(), ("--threshold", "0.2", "--margin", "0.1")], ids=["resolved", "given"])
def test_topk_method_is_what_suggest_does(tmp_path: Path, codebook_file: Path, monkeypatch: pytest.MonkeyPatch,
                                          settings: tuple[str, ...]) -> None:
    """``evaluate --method topk`` decides each fragment (codes and status) as ``suggest --method
    topk`` does with the same model, codebook and options (methods.SUGGEST_METHODS says so)."""
    from nlp_coder.analyses.methods import SUGGEST_METHODS

    assert SUGGEST_METHODS["topk"] == "topk"
    rows = [f'{i},"{text}",,d' for i, text in enumerate(TOPK_TEXTS, 1)]
    gold = _write(tmp_path, "gold.csv", "id,text,codes,document\n" + "\n".join(rows) + "\n")
    table = _write(tmp_path, "table.csv", "id,text,document\n" + "\n".join(r.removesuffix(",,d") + ",d"
                                                                           for r in rows) + "\n")
    evaluated: dict[str, tuple[tuple[str, ...], str]] = {}
    real = METHODS["topk"]

    def recording(train, test):  # type: ignore[no-untyped-def]
        prediction = real(train, test)
        evaluated.update(zip(test.texts, zip(prediction.assigned, prediction.status)))
        return prediction

    monkeypatch.setitem(METHODS, "topk", recording)
    done = _run("evaluate", str(gold), "-c", str(codebook_file), "-m", "hash-test", "-d", str(tmp_path / "e.db"),
                "--method", "topk", "-q", *settings)
    assert done.exit_code == 0, done.output
    out = tmp_path / "s.jsonl"
    done = _run("suggest", str(table), "-c", str(codebook_file), "-m", "hash-test", "-d", str(tmp_path / "s.db"),
                "--method", "topk", "--out", str(out), "-q", *settings)
    assert done.exit_code == 0, done.output
    suggested = {r["text"]: (tuple(r["codes"]), r["status"])
                 for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(evaluated) == set(suggested) == set(TOPK_TEXTS)
    assert evaluated == suggested
    assert len({status for _, status in suggested.values()}) >= 2  # not all alike: the equality says something


def test_markdown_report_has_a_row_per_method(tmp_path: Path, codebook_file: Path) -> None:
    gold = _write(tmp_path, "gold.csv", GOLD_CSV)
    result = _run("evaluate", str(gold), "-c", str(codebook_file), "-m", "hash-test", "-d", str(tmp_path / "s.db"),
                  "--method", "topk", "--method", "centroid")
    assert result.exit_code == 0, result.output
    assert "| topk |" in result.output and "| centroid |" in result.output
    assert "| support |" in result.output


def test_unknown_method_is_refused(tmp_path: Path, codebook_file: Path) -> None:
    gold = _write(tmp_path, "gold.csv", GOLD_CSV)
    with pytest.raises(InputError, match="unknown method"):
        evaluate(gold, codebook_file, tmp_path / "s.db", EvaluateOptions(model="hash-test", methods=("magic",)),
                 embedder=HashingEmbedder())


# -- the few-shot protocol ---------------------------------------------------------------------

def test_split_keeps_training_documents_out_of_the_test() -> None:
    gold = _few_shot_gold()
    codes = ("food", "money", "sleep")
    split, warnings = draw_split(gold, codes, 3, seed=7)
    assert not warnings
    assert set(split.train_documents).isdisjoint(split.test_documents)
    assert set(split.train_documents) | set(split.test_documents) == {f"doc{d}" for d in range(6)}
    by_id = {g.id: g for g in gold}
    for code, ids in split.exemplars:
        assert len(ids) == 3
        assert all(by_id[i].document in split.train_documents and by_id[i].codes == (code,) for i in ids)
    assert any(draw_split(gold, codes, 3, seed=s)[0].train_documents != split.train_documents for s in range(8, 12))


def test_split_warns_when_a_code_is_short_and_caps_training_documents() -> None:
    gold = _few_shot_gold()
    split, warnings = draw_split(gold, ("food", "money", "sleep"), 10, seed=0, max_train_fraction=0.5)
    assert len(split.train_documents) == 3  # half of six documents at most
    assert len(warnings) == 3 and "fewer than 10" in warnings[0]
    assert all(len(ids) == 6 for _, ids in split.exemplars)


def test_few_shot_evaluates_held_out_documents_over_seeds() -> None:
    book = parse_codebook(FEW_SHOT_BOOK)
    gold = _few_shot_gold()
    options = EvaluateOptions(model="hash-test", methods=FROZEN_METHODS, exemplars_from_gold=2, seed=3, repeat=3)
    report = evaluate_gold(gold, book, _encode, options)
    assert [s.seed for s in report.splits] == [3, 4, 5]
    for split, run in zip(report.splits, report.methods[0].runs):
        held_out = [g for g in gold if g.document in split.test_documents]
        assert run.n == len(held_out) and run.n_uncoded == sum(1 for g in held_out if not g.codes)
    for result in report.methods:
        assert len(result.runs) == 3
        assert result.get("macro_f1") is not None and 0 <= result.get("macro_f1") <= 1
        assert dict(result.spread)["macro_f1"] is not None
    # Exemplars from the gold make the codes learnable: every method using them beats chance (1/3)
    # and the definitions alone (hashed words barely overlap with these definitions).
    accuracy = {m.method: m.get("accuracy") for m in report.methods}
    assert all(accuracy[m] > 0.6 > accuracy["definitions"] for m in accuracy if m != "definitions")
    data = report_dict(report)
    assert data["protocol"]["repeat"] == 3 and len(data["runs"]) == 3
    assert all(s["exemplars"] == {"food": 2, "money": 2, "sleep": 2} for s in data["protocol"]["splits"])


_FEW_SHOT = """
    from nlp_coder.analyses.evaluate import EvaluateOptions, draw_split, evaluate_gold, render_report
    from nlp_coder.analyses.methods import FROZEN_METHODS
    from nlp_coder.codebook import parse_codebook
    from test_evaluate import FEW_SHOT_BOOK, _encode, _few_shot_gold

    gold = _few_shot_gold()
    for seed in range(7, 12):
        print(repr(draw_split(gold, ("food", "money", "sleep"), 3, seed=seed)))
    options = EvaluateOptions(model="hash-test", methods=FROZEN_METHODS, exemplars_from_gold=2, seed=3, repeat=3)
    print(render_report(evaluate_gold(gold, parse_codebook(FEW_SHOT_BOOK), _encode, options), "json"))
"""


def test_few_shot_splits_and_report_are_deterministic_across_processes() -> None:
    """The documents and exemplars drawn for each seed, and every method's report over the
    draws, are the same in two processes with different string hashing."""
    out = same_in_two_processes(_FEW_SHOT).decode()
    splits, report = out.split("\n", 5)[:5], json.loads(out.split("\n", 5)[5])
    assert all(line.startswith("(Split(seed=") for line in splits)
    assert len(report["runs"]) == 3 and set(report["methods"]) == set(FROZEN_METHODS)


def test_few_shot_needs_documents(tmp_path: Path, codebook_file: Path) -> None:
    gold = _write(tmp_path, "gold.csv", "id,text,codes\n1,She was kind.,warmth\n2,Forms.,support\n")
    result = CliRunner().invoke(main, ["evaluate", str(gold), "-c", str(codebook_file), "-m", "hash-test",
                                       "-d", str(tmp_path / "s.db"), "--exemplars-from-gold", "1"])
    assert result.exit_code == 1 and "needs a 'document'" in result.output


def test_classifier_methods_always_code_and_similarity_methods_can_leave_uncoded() -> None:
    book = parse_codebook(FEW_SHOT_BOOK)
    gold = _few_shot_gold()
    options = EvaluateOptions(model="hash-test", methods=FROZEN_METHODS, exemplars_from_gold=2, threshold=0.99)
    report = evaluate_gold(gold, book, _encode, options)
    coverage = {m.method: m.get("coverage") for m in report.methods}
    for name in ("tfidf-lr", "lr-emb", "head", "head-ctx"):
        assert coverage[name] == 1.0
    for name in ("topk", "definitions", "centroid", "knn", "head-gate"):
        assert coverage[name] < 1.0


@pytest.mark.shared
def test_benchmark_data_sets_build() -> None:
    from benchmarks.evaluate import annomi_dataset, manifesto_dataset

    therapist = annomi_dataset("therapist")
    assert {c for g in therapist.gold for c in g.codes} == {"reflection", "question", "therapist_input", "other"}
    manifesto = manifesto_dataset()
    book = parse_codebook(manifesto.codebook_yaml)
    assert len(book.codes) >= 30 and any(not g.codes for g in manifesto.gold)


# -- the centroid matcher and leave-one-out thresholds -----------------------------------------

def test_centroid_matcher_scores_against_the_normalised_mean() -> None:
    from nlp_coder.match.matcher import MATCHERS, CentroidMatcher, CodebookMatcher
    from nlp_coder.records import MatchSettings

    book = parse_codebook("codes:\n  - id: a\n    examples: [e1, e2, e3]\n  - id: b\n    examples: [f1]\n")
    table = {"e1": [1, 0, 0], "e2": [0, 1, 0], "e3": [0.9, 0.1, 0], "f1": [0, 0, 1]}

    def encode(texts):
        rows = np.array([table[t] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    settings = MatchSettings(threshold=0.5, margin=0.05, top_k=1, definition_weight=0.0)
    x = encode(["e2"])
    centroid = encode(["e1", "e2", "e3"]).mean(axis=0)
    expected = float(x[0] @ (centroid / np.linalg.norm(centroid)))
    got = CentroidMatcher.from_settings(settings).fit(book, encode).decision_function(x)
    assert got[0, 0] == pytest.approx(expected, abs=1e-6)
    # The default matcher is unchanged: the single nearest exemplar (top_k=1) is e2 itself.
    assert CodebookMatcher.from_settings(settings).fit(book, encode).decision_function(x)[0, 0] == pytest.approx(1.0)
    assert MATCHERS == {"topk": CodebookMatcher, "centroid": CentroidMatcher}


def test_loo_thresholds_come_from_the_exemplars_alone() -> None:
    from nlp_coder.analyses.methods import TrainingSet, loo_thresholds
    from nlp_coder.records import MatchSettings

    vectors = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1]], dtype=np.float32)
    train = TrainingSet(codebook=parse_codebook(FEW_SHOT_BOOK), codes=("food", "money"), texts=("a", "b", "c", "d"),
                     labels=np.array([0, 0, 0, 1]), vectors=vectors, contexts=np.zeros_like(vectors),
                     definitions=np.zeros((2, 2), dtype=np.float32),
                     settings=MatchSettings(threshold=0.3, margin=0.02), encode=_encode)
    thresholds = loo_thresholds(train, quantile=0.0)
    assert set(thresholds) == {"food"}  # 'money' has one exemplar: it keeps the codebook's threshold
    rest = (vectors[1] + vectors[2]) / 2  # leaving out [1, 0], the farthest from the others
    assert thresholds["food"] == pytest.approx(float(vectors[0] @ (rest / np.linalg.norm(rest))), abs=1e-6)


DOCS_GOLD = """\
id,text,codes,document
1,"She always answered my texts the same day, even on a Friday night.",availability-and-responsiveness,int-a
2,"He told me straight that the house wasn't safe for the baby, no sugar-coating.",confrontation,int-a
3,"She said I was doing a brilliant job with the bedtime routine.",compliments,int-a
4,"We took the long way round because the bridge was closed.",,int-a
5,"He explained every step of the report in plain words so I understood it.",good-communication-skills,int-b
6,"She sat with me at the food bank and helped me fill in the forms.",support,int-b
7,"He asked me what I thought Mia needed when she got upset.",questions,int-b
8,"My sister's dog had puppies last spring.",,int-b
9,"She knocked and waited to be asked in, it was my home after all.",respectfulness,int-c
10,"She told me to try a sticker chart and to keep mealtimes the same every day.",advice,int-c
11,"By the end I trusted her and we were working on it together.",alliance-formed,int-c
12,"He made me feel like a person, not a case number.",humanity;respectfulness,int-c
"""


@pytest.mark.slow
def test_docs_example_with_the_real_model(tmp_path: Path) -> None:
    """The example of docs/commands/evaluate.md: the exemplars beat the definitions alone."""
    from conftest import REPO

    gold = _write(tmp_path, "gold.csv", DOCS_GOLD)
    options = EvaluateOptions(methods=("topk", "definitions"))
    report = evaluate(gold, REPO / "codebooks" / "working-alliance.yaml", tmp_path / "s.db", options)
    topk, definitions = report.methods
    assert topk.get("accuracy") >= 0.8 and topk.get("kappa") > definitions.get("kappa")
    assert topk.get("uncoded_recall") == 1.0  # both off-topic fragments are left uncoded


# -- the learner's methods ---------------------------------------------------------------------

def _tiny_learner():  # type: ignore[no-untyped-def]
    from test_learn import FAST, tiny_model

    model = tiny_model()
    return (lambda: model), FAST


def test_learned_is_tuned_and_fitted_on_training_documents_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every fine-tuning (the learner's cross-validation and the final fit) and every head sees
    only exemplars from the seed's training documents: no text of a test document, ever."""
    import nlp_coder.analyses.methods as methods_module
    import nlp_coder.learn.finetune as finetune_module

    trainable, fast = _tiny_learner()
    tuned: list[tuple[int, list[str], list[str]]] = []
    real_finetune = finetune_module.finetune

    def recording(base, texts, labels, *, negatives=(), seed=0, **kwargs):  # type: ignore[no-untyped-def]
        tuned.append((seed, list(texts), list(negatives)))
        return real_finetune(base, texts, labels, negatives=negatives, seed=seed, **kwargs)

    heads: list[int] = []
    real_head = methods_module._learner_head

    def recording_head(x_train, y, x_test, k):  # type: ignore[no-untyped-def]
        heads.append(x_train.shape[0])
        return real_head(x_train, y, x_test, k)

    monkeypatch.setattr(finetune_module, "finetune", recording)
    monkeypatch.setattr(methods_module, "_learner_head", recording_head)
    gold = _few_shot_gold()
    options = EvaluateOptions(model="hash-test", learn=True, exemplars_from_gold=3, seed=0, repeat=2, finetune=fast)
    report = evaluate_gold(gold, parse_codebook(FEW_SHOT_BOOK), _encode, options, trainable=trainable)
    assert [m.method for m in report.methods] == ["learned", "centroid-def", "frozen-lr-chars", "fine-tuned"]
    for split in report.splits:
        train_texts = {g.text for g in gold if g.document in split.train_documents}
        test_texts = {g.text for g in gold if g.document in split.test_documents}
        drawn = {g.text for g in gold if g.id in {i for _, ids in split.exemplars for i in ids}}
        runs = [texts for seed, texts, _ in tuned if seed == split.seed]
        assert len(runs) >= 2  # the cross-validation's folds, then the fit on every exemplar
        for texts in runs:
            assert set(texts) <= drawn <= train_texts and not set(texts) & test_texts
        assert max(len(t) for t in runs) == 9  # the final fit: 3 exemplars of each of 3 codes
    assert heads and max(heads) == 9  # no head is fitted on more than the training exemplars
    assert all(r.n == len([g for g in gold if g.document in s.test_documents])
               for r, s in zip(report.methods[0].runs, report.splits))
    assert len(report.notes) == 2 and all("the learner chose" in n for n in report.notes)
    assert all(len(m.seconds) == 2 for m in report.methods)
    data = report_dict(report)
    assert data["method"] == "learned" and data["protocol"]["learn"] is True and data["notes"] == list(report.notes)
    assert "seconds" not in json.dumps(data)  # timings stay out of the byte-stable report


def test_fine_tuned_tunes_once_per_run_for_both_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    import nlp_coder.learn.finetune as finetune_module

    trainable, fast = _tiny_learner()
    calls: list[int] = []
    real_finetune = finetune_module.finetune

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real_finetune(*args, **kwargs)

    monkeypatch.setattr(finetune_module, "finetune", counting)
    options = EvaluateOptions(model="hash-test", methods=("fine-tuned", "fine-tuned"), exemplars_from_gold=3,
                              finetune=fast)
    report = evaluate_gold(_few_shot_gold(), parse_codebook(FEW_SHOT_BOOK), _encode, options, trainable=trainable)
    assert len(calls) == 1 and report.methods[0].get("accuracy") is not None


def test_fine_tuned_without_a_model_to_tune_is_refused() -> None:
    options = EvaluateOptions(model="hash-test", methods=("fine-tuned",), exemplars_from_gold=2)
    with pytest.raises(InputError) as caught:
        evaluate_gold(_few_shot_gold(), parse_codebook(FEW_SHOT_BOOK), _encode, options)
    assert caught.value.code == "E202"


def test_learned_with_too_few_labels_keeps_the_frozen_default() -> None:
    """With 2 exemplars per code the learner cannot compare methods: ``learned`` is then exactly
    what suggest does by default, decisions included."""
    book = parse_codebook(FEW_SHOT_BOOK)
    options = EvaluateOptions(model="hash-test", methods=("learned", DEFAULT), exemplars_from_gold=2, repeat=2)
    report = evaluate_gold(_few_shot_gold(), book, _encode, options)
    learned, default = report.methods
    assert learned.mean == default.mean and learned.per_code == default.per_code
    assert all("chose frozen-centroid (too few labels" in n for n in report.notes)


def test_pilot_protocol_codes_whole_documents() -> None:
    from nlp_coder.analyses.evaluate import draw_pilot

    gold = _few_shot_gold()
    split, warnings = draw_pilot(gold, ("food", "money", "sleep"), 2, seed=1)
    assert len(split.train_documents) == 2 and not warnings
    assert not set(split.train_documents) & set(split.test_documents)
    expected = sorted(g.id for g in gold if g.document in split.train_documents and len(g.codes) == 1)
    assert sorted(i for _, ids in split.exemplars for i in ids) == expected
    options = EvaluateOptions(model="hash-test", pilot_documents=2, seed=1, repeat=2)
    report = evaluate_gold(gold, parse_codebook(FEW_SHOT_BOOK), _encode, options)
    assert report.splits[0] == split and report.n == 4 * 7
    with pytest.raises(InputError):
        evaluate_gold(gold, parse_codebook(FEW_SHOT_BOOK), _encode,
                      EvaluateOptions(pilot_documents=2, exemplars_from_gold=2))


def test_max_test_scores_a_seeded_sample_and_says_so() -> None:
    options = EvaluateOptions(model="hash-test", exemplars_from_gold=2, seed=0, repeat=2, max_test=5)
    report = evaluate_gold(_few_shot_gold(), parse_codebook(FEW_SHOT_BOOK), _encode, options)
    assert all(r.n == 5 for r in report.methods[0].runs)
    assert len(report.notes) == 2 and "scored a random 5 of the" in report.notes[0]


def test_cli_learn_with_a_frozen_model_compares_the_frozen_methods(tmp_path: Path) -> None:
    rows = ["id,text,codes,document"] + [f"{g.id},{g.text},{';'.join(g.codes)},{g.document}"
                                         for g in _few_shot_gold()]
    gold = _write(tmp_path, "gold.csv", "\n".join(rows) + "\n")
    book = _write(tmp_path, "book.yaml", FEW_SHOT_BOOK)
    out = tmp_path / "r.json"
    result = CliRunner().invoke(main, ["evaluate", str(gold), "-c", str(book), "-m", "hash-test", "-d",
                                       str(tmp_path / "s.db"), "--learn", "--exemplars-from-gold", "3",
                                       "--repeat", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["method"] == "learned" and set(report["methods"]) == {"learned", "centroid-def", "frozen-lr-chars"}
    assert len(report["notes"]) == 2 and "learned:" in result.output
    result = CliRunner().invoke(main, ["evaluate", str(gold), "-c", str(book), "-m", "hash-test", "-d",
                                       str(tmp_path / "s.db"), "--pilot-documents", "2", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["protocol"]["pilot_documents"] == 2


def test_learned_decides_as_suggest_learn_does(tmp_path: Path) -> None:
    """``learned`` is what ``suggest --learn`` does: on the same documents (a fragment table of the
    training and test documents) and the codebook with the same exemplars, suggest's choice,
    calibrated thresholds and margin give the same decision for every test fragment."""
    import csv

    from nlp_coder.analyses.evaluate import build_inputs, draw_split, evaluated_codes, headline, settings_for
    from nlp_coder.analyses.methods import learned
    from nlp_coder.run import SuggestOptions, suggest

    gold, book = _few_shot_gold(), parse_codebook(FEW_SHOT_BOOK)
    codes = evaluated_codes(book, gold)
    split, _ = draw_split(gold, codes, 3, 0)
    by_id = {g.id: g for g in gold}
    drawn = {c: tuple(by_id[i] for i in ids) for c, ids in split.exemplars}
    train_gold = [g for g in gold if g.document in split.train_documents]
    test_gold = [g for g in gold if g.document in split.test_documents]
    _, settings = headline(book, EvaluateOptions(model="hash-test", learn=True))
    training, test = build_inputs(book, codes, drawn, test_gold, _encode,
                                  settings_for("learned", settings, book, "hash-test"), 0, None, None, train_gold)
    prediction = learned(training, test)
    assert "the learner chose" in prediction.notes[0] and "exemplars found in one training document" in \
        prediction.notes[0] and "codes calibrated" in prediction.notes[0]
    table = tmp_path / "fragments.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "document", "text"])
        writer.writerows([g.id, g.document, g.text] for g in (*train_gold, *test_gold))
    result = suggest(table, training.codebook, tmp_path / "s.db", embedder=HashingEmbedder(),
                     options=SuggestOptions(model="hash-test", learn=True))
    records = {r["fragment_id"]: r for r in result.records()}
    assert [records[g.id]["status"] for g in test_gold] == list(prediction.status)
    assert [tuple(records[g.id]["codes"]) for g in test_gold] == list(prediction.assigned)
    assert len(set(prediction.status)) > 1  # not a forced top-1: the calibrated rule decides
