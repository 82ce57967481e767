"""nlp_coder.learn: the labelled passages, fine-tuning, the method choice by grouped
cross-validation, determinism across processes, bad input, and ``nlp-coder learn``.

The fast tests fine-tune a tiny BERT built here from a seeded random configuration and the fast
model's WordPiece tokenizer (no download, a second or two per fit); one slow test runs MiniLM.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from subprocess_run import same_in_two_processes

import nlp_coder
from nlp_coder.cli import main
from nlp_coder.learn import METHODS, FinetuneSettings, learn, report_text
from nlp_coder.learn.choose import ENSEMBLE_METHODS, MIN_GAIN, NOISE_Z, make_folds
from nlp_coder.learn.data import codebook_passages, labelled_set
from nlp_coder.learn.finetune import encode, finetune

REPO = Path(__file__).resolve().parent.parent
TOKENIZER = REPO / "models" / "minilm-static-256" / "tokenizer.json"

TOPICS = {
    "money": ["The bills kept piling up and we could not pay the rent.", "I owed money on the loan every month.",
              "Our wages never covered the electricity and the gas.", "The debt collectors rang about the payments.",
              "I had to borrow cash to buy food before payday.", "The benefits were cut and the account went empty."],
    "health": ["The doctor sent me to the clinic for more tests.", "My back pain got worse and the nurse came round.",
               "I was in hospital for a week with my chest.", "The medication made me dizzy and sick.",
               "She booked me in with the surgeon about my knee.", "The GP said my blood pressure was too high."],
    "weather": ["It rained all week and the garden flooded.", "The snow was so deep we could not get out.",
                "It was sunny and warm at the seaside.", "The wind blew the fence down in the storm.",
                "A frost covered the cars every morning.", "The heat made everyone tired and grumpy."],
}
FAST = FinetuneSettings(steps=30, batch_size=12, per_class=4, learning_rate=1e-3, threads=1)


def tiny_model(seed: int = 0):  # type: ignore[no-untyped-def]
    """A two-layer BERT with random weights (seeded), as a sentence-transformers model."""
    import tempfile

    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(TOKENIZER), unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tokenizer.backend_tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    folder = tempfile.mkdtemp(prefix="tiny-bert-")
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers before 5.2
        from sentence_transformers.models import Pooling, Transformer
    transformer = Transformer(folder, max_seq_length=64)
    pooling = Pooling(transformer.get_embedding_dimension() if hasattr(transformer, "get_embedding_dimension")
                      else transformer.get_word_embedding_dimension(), "mean")
    return SentenceTransformer(modules=[transformer, pooling], device="cpu")


def write_codebook(folder: Path, per_code: int = 6, counterexample: bool = True) -> Path:
    import yaml

    codes = []
    for code, texts in TOPICS.items():
        entry = {"id": code, "name": code.title(), "definition": f"The respondent talks about {code}.",
                 "examples": texts[:per_code]}
        if counterexample and code == "money":
            entry["counterexamples"] = ["I paid a visit to my sister at the weekend."]
        codes.append(entry)
    path = folder / "book.yaml"
    path.write_text(yaml.safe_dump({"name": "topics", "codes": codes}, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny():  # type: ignore[no-untyped-def]
    return tiny_model()


def _cosines(vectors: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    sims = vectors @ vectors.T
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(len(labels), dtype=bool)
    return float(sims[same & off].mean()), float(sims[~same].mean())


def test_codebook_passages_are_dealt_into_groups_holding_every_code(tmp_path: Path) -> None:
    book = nlp_coder.load_codebook(write_codebook(tmp_path, per_code=4))
    passages, negatives = codebook_passages(book)
    assert len(passages) == 12
    assert {p.group for p in passages} == {"codebook-1", "codebook-2", "codebook-3", "codebook-4"}
    for group in {p.group for p in passages}:
        assert {p.code for p in passages if p.group == group} == set(TOPICS)
    assert negatives == (("I paid a visit to my sister at the weekend.", "money"),)


def test_exemplars_quoted_from_the_corpus_are_grouped_by_their_document(tmp_path: Path) -> None:
    book = nlp_coder.load_codebook(write_codebook(tmp_path, per_code=4))
    money, health = TOPICS["money"], TOPICS["health"]
    folder = tmp_path / "corpus"
    folder.mkdir()
    # Case and spacing do not matter; money[2] is in both documents, so its own is not known.
    (folder / "a.txt").write_text(f"Respondent: {money[0].upper()}  And then\n   {health[1]} {money[2]}\n",
                                  encoding="utf-8")
    (folder / "b.txt").write_text(f"Respondent: {money[2]} {money[1]} Said twice.\n", encoding="utf-8")
    corpus = nlp_coder.read_corpus(folder).documents
    assert [d.id for d in corpus] == ["a.txt", "b.txt"]
    passages, _ = codebook_passages(book, corpus)
    groups = {p.text: p.group for p in passages}
    assert groups[money[0]] == groups[health[1]] == corpus[0].id and groups[money[1]] == corpus[1].id
    rest = [p for p in passages if p.text not in {money[0], money[1], health[1]}]
    assert len(rest) == 9 and all(p.group.startswith("codebook-") for p in rest) and money[2] in {p.text for p in rest}
    # Round-robin over the smallest number left to deal (2 of money's): every group has every code.
    assert {p.group for p in rest} == {"codebook-1", "codebook-2"}
    for group in ("codebook-1", "codebook-2"):
        assert {p.code for p in rest if p.group == group} == set(TOPICS)
    labelled = labelled_set(book, corpus=corpus)
    assert labelled.exemplars_located == (3, 12) and labelled.mostly_ungrouped
    from nlp_coder.learn.choose import exemplars_line
    assert exemplars_line(labelled.exemplars_located) == (
        "exemplars: 3 of 12 found in one document of the corpus and held out with it; the other 9 (in no document, "
        "or in several) dealt into codebook groups, as from no known document",)
    assert not labelled_set(book, corpus=nlp_coder.read_corpus(
        [" ".join(t for ts in TOPICS.values() for t in ts[:4])]).documents).mostly_ungrouped


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["rent", "Rent", "the", "nurse", "rain", "a", "b"]), min_size=1, max_size=12),
                min_size=1, max_size=4),
       st.integers(0, 3), st.integers(0, 11), st.integers(1, 6))
def test_a_quote_is_placed_only_in_the_one_document_holding_it(words, which, start, length) -> None:  # type: ignore[no-untyped-def]
    from nlp_coder.learn.data import locate_exemplars
    from nlp_coder.records import Document

    corpus = [Document(f"d{i}", "  ".join(ws), "<t>", "text", ()) for i, ws in enumerate(words)]
    source = words[which % len(words)]
    quote = " ".join(source[start % len(source):][:length]).upper()
    found = locate_exemplars([quote, "never in any document"], corpus)
    holders = [d.id for d in corpus if " ".join(quote.split()).casefold() in " ".join(d.text.split()).casefold()]
    assert holders  # a quote from a document is always found in it, whatever its case and spacing
    assert found == ({quote: holders[0]} if len(holders) == 1 else {})


def test_a_learned_method_must_win_by_the_minimum_gain_when_asked() -> None:
    from nlp_coder.learn.choose import MethodScore, best_method

    def scores(frozen: float | None, chars: float | None, tuned: float | None) -> list[MethodScore]:
        return [MethodScore(m, k, None, (), 0.0)
                for m, k in zip(("frozen-centroid", "frozen-lr-chars", "fine-tuned"), (frozen, chars, tuned))]

    assert best_method(scores(0.37, 0.40, 0.39)) == "frozen-lr-chars"
    assert best_method(scores(0.37, 0.40, 0.39), MIN_GAIN) == "frozen-centroid"
    assert best_method(scores(0.37, 0.40, 0.42), MIN_GAIN) == "fine-tuned"
    assert best_method(scores(0.30, 0.50, 0.42), MIN_GAIN) == "frozen-lr-chars"
    assert best_method(scores(0.37, 0.42, 0.42), MIN_GAIN) == "frozen-lr-chars"  # a tie: the simpler
    assert best_method(scores(-0.2, -0.1, -0.02), MIN_GAIN) == "frozen-centroid"  # none above chance
    assert best_method(scores(None, 0.1, None), MIN_GAIN) == "frozen-lr-chars"  # no default to beat

    # A gain within the noise of the labelled passages (its standard error) is no evidence.
    def noisy(frozen: float, tuned: float, se: float) -> list[MethodScore]:
        return [MethodScore("frozen-centroid", frozen, None, (), 0.0),
                MethodScore("fine-tuned", tuned, None, (), 0.0, gain_se=se)]

    # It must win by NOISE_Z standard errors (a one-sided test at 5 %): 1.645 x 0.08 = 0.13.
    assert NOISE_Z == 1.645
    assert best_method(noisy(0.30, 0.39, 0.08)) == "frozen-centroid"  # one standard error is not enough
    assert best_method(noisy(0.30, 0.42, 0.08)) == "frozen-centroid"
    assert best_method(noisy(0.30, 0.44, 0.08)) == "fine-tuned"
    assert best_method(noisy(0.30, 0.44, 0.08), MIN_GAIN) == "frozen-centroid"  # 0.14 < 0.13 + 0.05
    assert best_method(noisy(0.30, 0.49, 0.08), MIN_GAIN) == "fine-tuned"


def test_gain_standard_error_shrinks_with_more_passages() -> None:
    from nlp_coder.learn.choose import gain_standard_error

    rng = np.random.default_rng(0)

    def spread(n: int) -> float:
        truth = rng.integers(0, 3, n)
        frozen = np.where(rng.random(n) < 0.5, truth, rng.integers(0, 3, n))
        better = np.where(rng.random(n) < 0.6, truth, rng.integers(0, 3, n))
        se = gain_standard_error(truth, better, frozen, 3, seed=1)
        assert se is not None and se == gain_standard_error(truth, better, frozen, 3, seed=1)  # seeded
        return se

    small, large = spread(50), spread(800)
    assert 0.04 < small < 0.2 and large < small / 2  # about 1 / sqrt(n)
    same = rng.integers(0, 3, 60)
    assert gain_standard_error(same, same, same, 3) == 0.0  # a method against itself: no spread
    assert gain_standard_error(same[:1], same[:1], same[:1], 3) is None


def test_finetuning_pulls_passages_of_a_code_together(tiny) -> None:  # type: ignore[no-untyped-def]
    texts = [t for ts in TOPICS.values() for t in ts]
    labels = np.repeat(np.arange(len(TOPICS)), 6)
    before = _cosines(encode(tiny, texts), labels)
    tuned, run = finetune(tiny, texts, labels, settings=FAST, seed=0)
    after = _cosines(encode(tuned, texts), labels)
    assert run.steps == FAST.steps and not run.stopped_early
    assert after[0] > before[0]  # within a code: closer
    assert after[1] < before[1]  # between codes: further apart
    assert after[0] - after[1] > before[0] - before[1] + 0.1
    assert np.array_equal(encode(tiny, texts), encode(tiny, texts))  # the base model is left as it was


def test_time_budget_stops_the_tuning_early(tiny) -> None:  # type: ignore[no-untyped-def]
    texts = [t for ts in TOPICS.values() for t in ts]
    labels = np.repeat(np.arange(len(TOPICS)), 6)
    _, run = finetune(tiny, texts, labels, settings=FinetuneSettings(steps=10_000, batch_size=12, per_class=4,
                                                                      threads=1), time_budget=1.0)
    assert run.stopped_early and 0 < run.steps < 10_000
    assert run.seconds < 5


def test_method_chosen_by_grouped_cross_validation(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    report = learn(["A line to code."], write_codebook(tmp_path), trainable=tiny, settings=FAST)
    assert not report.too_few
    assert [m.method for m in report.methods] == list(METHODS)
    # Every group is held out exactly once, by one fold.
    held = [g for fold in report.folds for g in fold]
    assert sorted(held) == sorted(set(held)) and len(report.folds) == report.groups == 5
    # A given model has no ensemble: those methods say so; the others ran.
    assert all(m.note == "no ensemble model" for m in report.methods if m.method in ENSEMBLE_METHODS)
    assert all(m.kappa is not None and -1 <= m.kappa <= 1 for m in report.methods if m.method not in ENSEMBLE_METHODS)
    # The exemplars are in no document of this corpus: a learned method must win by MIN_GAIN.
    assert report.exemplars_located == (0, 18) and report.min_gain == MIN_GAIN
    assert any(f"by {MIN_GAIN:g}" in w for w in report.warnings)
    frozen = report.method("frozen-centroid")
    assert frozen is not None and frozen.gain_se is None
    ran = [m for m in report.methods if m.method not in ENSEMBLE_METHODS]
    clear = [m for m in ran if m.method != "frozen-centroid"
             and m.kappa - frozen.kappa > MIN_GAIN + NOISE_Z * m.gain_se and m.kappa > 0]  # type: ignore[operator]
    assert all(m.gain_se is not None and 0 < m.gain_se < 1 for m in ran if m is not frozen)
    if clear:
        assert report.choice == max(clear, key=lambda m: m.kappa).method  # type: ignore[arg-type, return-value]
    else:
        assert report.choice == "frozen-centroid"
    chosen = report.method(report.choice)
    assert [c.code for c in chosen.codes] == list(TOPICS)  # type: ignore[union-attr]
    assert sum(c.passages for c in chosen.codes) == report.passages == 18  # type: ignore[union-attr]
    tuned = report.method("fine-tuned")
    assert tuned is not None and len(tuned.tuning) == 5 and all(r.steps == FAST.steps for r in tuned.tuning)
    text = report_text(report)
    assert f"choice: {report.choice}" in text and "what to expect" in text
    assert text.splitlines()[1].startswith("exemplars: none of the 18 found in one document of the corpus: dealt "
                                           "into codebook groups")


def test_folds_never_split_a_document(tmp_path: Path, tiny) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = ["document,start,end,code,coder"]
    for d in range(4):
        lines, offset = [], 0
        for code, texts in TOPICS.items():
            text = texts[d]
            line = f"Respondent: {text}"
            start = offset + len("Respondent: ")
            rows.append(f"doc{d}.txt,{start},{start + len(text)},{code},ann")
            lines.append(line)
            offset += len(line) + 1
        (corpus / f"doc{d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    codings = tmp_path / "codings.csv"
    codings.write_text("\n".join(rows) + "\n", encoding="utf-8")
    book = write_codebook(tmp_path, per_code=3)
    labelled = labelled_set(nlp_coder.load_codebook(book), codings=codings,
                            corpus=nlp_coder.read_corpus(corpus).documents)
    pilot = [p for p in labelled.passages if p.source != "codebook"]
    assert len(pilot) == 12 and {p.group for p in pilot} == {f"doc{d}.txt" for d in range(4)}
    report = learn(corpus, book, codings=codings, trainable=tiny, settings=FAST, methods=("frozen-lr-chars",))
    # The codebook's 9 exemplars are quoted from doc0-doc2: each is held out with its document.
    assert {p.text: p.group for p in labelled.passages if p.source == "codebook"} == {
        texts[d]: f"doc{d}.txt" for texts in TOPICS.values() for d in range(3)}
    assert report.pilot_passages == 12 and report.groups == 4 and report.exemplars_located == (9, 9)
    assert report.min_gain == 0 and not any("no known document" in w for w in report.warnings)
    assert "exemplars: all 9 found in one document of the corpus each, and held out with it" in report_text(report)
    assert len(report.folds) == 4 and sorted(g for f in report.folds for g in f) == sorted(labelled.groups)
    assert make_folds(labelled.groups, 0) == report.folds and make_folds(labelled.groups, 1) != report.folds


def test_pilot_fragments_left_out_are_counted(tmp_path: Path) -> None:
    from nlp_coder.learn.data import pilot_split

    lines = [TOPICS["money"][0], TOPICS["health"][0], TOPICS["weather"][0], TOPICS["money"][1]]
    text = "".join(f"Respondent: {line}\n" for line in lines)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "doc.txt").write_text(text, encoding="utf-8")
    starts = [text.index(line) for line in lines]
    codings = tmp_path / "codings.csv"
    codings.write_text("document,start,end,code,coder\n"
                       f"doc.txt,{starts[0]},{starts[0] + len(lines[0])},money,ann\n"  # whole: a passage
                       f"doc.txt,{starts[1]},{starts[1] + 6},health,ann\n"  # a sixth of it: left out
                       f"doc.txt,{starts[3]},{starts[3] + len(lines[3])},money,ann\n"
                       f"doc.txt,{starts[3]},{starts[3] + len(lines[3])},health,ann\n",  # two codes: left out
                       encoding="utf-8")
    book = nlp_coder.load_codebook(write_codebook(tmp_path))
    passages, untouched, warnings = pilot_split(codings, book, nlp_coder.read_corpus(tmp_path / "corpus").documents)
    assert [(p.text, p.code) for p in passages] == [(lines[0], "money")]
    assert [p.text for p in untouched] == [lines[2]]  # the line no coding touches: text no code fits
    assert len(warnings) == 2
    assert "1 fragments with more than one code left out" in warnings[0]
    assert "1 fragments that codings touch without one main code covering half of them" in warnings[1]


def test_too_few_labels_keep_the_frozen_default(tmp_path: Path) -> None:
    report = learn(["A line."], write_codebook(tmp_path, per_code=2), embedder=nlp_coder.HashingEmbedder(64))
    assert report.too_few and report.choice == "frozen-centroid" and report.methods == ()
    assert any("too few labels" in w and "fewer than 3" in w for w in report.warnings)
    assert "too few labels" in report_text(report)


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"seed": -1}, "E130"), ({"seed": 1.5}, "E130"), ({"time_budget": 0}, "E130"),
    ({"time_budget": float("nan")}, "E130"), ({"methods": ("magic",)}, "E130"), ({"methods": "fine-tuned"}, "E130"),
    ({"codings": "no-such.csv"}, "E101"), ({"codings": 3}, "E130"), ({"model": "no-such-model"}, "E130"),
])
def test_bad_input_is_an_error_with_its_code(tmp_path: Path, kwargs: dict, code: str) -> None:
    with pytest.raises(nlp_coder.NlpCoderError) as caught:
        learn(["A line."], write_codebook(tmp_path), embedder=nlp_coder.HashingEmbedder(64),
              methods=kwargs.pop("methods", ("frozen-centroid",)), **kwargs)
    assert caught.value.code == code


def test_bad_codebook_and_corpus(tmp_path: Path) -> None:
    for corpus, book, code in [(["A line."], tmp_path / "missing.yaml", "E101"),
                               (str(tmp_path / "missing"), write_codebook(tmp_path), "E101"),
                               ([3], write_codebook(tmp_path), "E130")]:
        with pytest.raises(nlp_coder.NlpCoderError) as caught:
            learn(corpus, book, embedder=nlp_coder.HashingEmbedder(64))
        assert caught.value.code == code


def test_the_same_in_two_processes() -> None:
    snippet = """
        import hashlib, json, sys, tempfile
        from pathlib import Path
        import numpy as np
        from test_learn import FAST, TOPICS, tiny_model, write_codebook
        from nlp_coder.learn import learn
        from nlp_coder.learn.finetune import encode, finetune
        model = tiny_model()
        texts = [t for ts in TOPICS.values() for t in ts]
        tuned, _ = finetune(model, texts, np.repeat(np.arange(3), 6), settings=FAST, seed=3)
        print(hashlib.sha256(encode(tuned, texts).tobytes()).hexdigest())
        report = learn(["x"], write_codebook(Path(tempfile.mkdtemp())), trainable=model, settings=FAST, seed=3)
        print(json.dumps(report.as_dict(timings=False), sort_keys=True))
    """
    out = same_in_two_processes(snippet, timeout=300).decode()
    assert '"choice"' in out


def test_learn_command_says_when_labels_are_too_few(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["learn", str(REPO / "corpus"), "--codebook",
                                       str(write_codebook(tmp_path, per_code=2)), "--model", "hash-test",
                                       "--out", str(out), "--db", str(tmp_path / "store.db")])
    assert result.exit_code == 0, result.output
    assert "choice: frozen-centroid" in result.output and "too few labels" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["too_few"] is True and data["choice"] == "frozen-centroid"


def test_learn_command_refuses_a_bad_time_budget(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["learn", str(REPO / "corpus"), "--codebook", str(write_codebook(tmp_path)),
                                       "--time-budget", "0"])
    assert result.exit_code == 2


@pytest.mark.slow
def test_minilm_learns_within_a_time_budget(tmp_path: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report = learn(["A line."], write_codebook(tmp_path), time_budget=60, seed=0,
                   settings=FinetuneSettings(steps=5, batch_size=12, per_class=4))
    tuned = report.method("fine-tuned")
    assert tuned is not None and tuned.kappa is not None and tuned.fit_seconds < 120
    assert report.method("frozen-centroid").kappa > 0.5  # type: ignore[union-attr,operator]
    assert report.choice in METHODS


# -- calibration, the learned model as an artefact, suggest --learn ----------------------------
def test_calibration_takes_the_lowest_cut_that_reaches_the_target() -> None:
    from nlp_coder.learn.calibrate import calibrate, wilson_lower

    # Code a: top-1 at scores 0.9 0.8 0.7 0.6 0.5 (ten passages each), right, right, wrong (text
    # no code fits), right, wrong; code b is never right as top-1.
    rows = [[0.9, 0.1], [0.8, 0.1], [0.7, 0.1], [0.6, 0.1], [0.5, 0.1], [0.1, 0.9], [0.1, 0.8], [0.2, 0.7]]
    scores = np.array(rows * 10)
    truth = [0, 0, -1, 0, -1, 0, 0, 0] * 10
    cal = calibrate(scores, truth, ["a", "b"], target=0.6)
    a, b = cal.codes
    assert a.threshold == 0.6 and a.reached and a.precision == 0.75 and a.recall == 0.5  # 30 of 60 a's
    assert wilson_lower(np.array([30]), np.array([40]))[0] >= 0.6 > wilson_lower(np.array([30]), np.array([50]))[0]
    assert b.threshold is None and not b.reached and b.precision == 0.0  # never coded
    assert cal.threshold("b") == np.inf and cal.threshold("c") is None and cal.unreached == ("b",)
    assert cal.uncoded_share == 0.5  # a's 0.5 and b's three
    strict = calibrate(scores, truth, ["a", "b"], target=0.9)
    assert strict.codes[0].threshold == 0.8 and strict.codes[0].recall == round(20 / 60, 4)
    nan = np.vstack([scores, [np.nan, np.nan]])
    assert calibrate(nan, [*truth, 0], ["a", "b"], target=0.6) == cal  # rows never held out are skipped
    assert b.status == "missed" and "0 of 30 held-out passages right" in b.why and a.status == "calibrated"
    # Too few passages are no evidence: 4 right of 4 does not reach 0.8, nor show that it misses it:
    # not calibrated, the codebook's threshold (None), with the numbers.
    few = calibrate(np.array([[0.9, 0.1]] * 4 + [[0.1, 0.9]] * 4), [0] * 4 + [1] * 4, ["a", "b"], target=0.8)
    assert [c.threshold for c in few.codes] == [None, None] and few.uncoded_share == 1.0
    assert [c.status for c in few.codes] == ["thin", "thin"] and few.uncalibrated == ("a", "b")
    assert few.threshold("a") is None and few.unreached == ()
    assert few.codes[0].why == "4 of 4 held-out passages right: fewer than 10 to calibrate on"
    assert (few.codes[0].held_out, few.codes[0].right) == (4, 4)


def test_a_threshold_rests_on_two_folds() -> None:
    from nlp_coder.learn.calibrate import calibrate

    # 12 of 12 right reaches 0.8, but not when one fold held them all out.
    scores = np.array([[0.9 - 0.01 * i, 0.1] for i in range(12)] + [[0.1, 0.9 - 0.01 * i] for i in range(12)])
    truth = [0] * 12 + [1] * 12
    one = calibrate(scores, truth, ["a", "b"], target=0.8, folds=[0] * 12 + [1] * 12)
    assert [c.status for c in one.codes] == ["thin", "thin"]
    assert one.codes[0].why == "12 of 12 held-out passages right, all held out by one fold"
    two = calibrate(scores, truth, ["a", "b"], target=0.8, folds=[0, 1] * 12)
    assert [c.status for c in two.codes] == ["calibrated", "calibrated"]
    assert two.codes[0].threshold == pytest.approx(0.79) and two.threshold("a") == pytest.approx(0.79)
    # A code never the best of a held-out passage is not calibrated, not "never coded".
    never = calibrate(scores[:12], truth[:12], ["a", "b"], target=0.8)
    assert never.codes[1].status == "thin" and never.threshold("b") is None


def _decided(matcher, vectors: np.ndarray, texts: list[str] | None = None) -> list[tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    decided = matcher.decide(vectors, scored=matcher.score(vectors, texts) if texts is not None else None)
    return [(status, [decided.codes[j].id for j in chosen]) for status, chosen, _ in
            (picks[0] for picks in decided.picks)]


def test_the_learned_matcher_codes_the_top_code_only_when_it_reaches_its_own_threshold(tmp_path: Path) -> None:
    from dataclasses import replace

    from nlp_coder.learn.calibrate import Calibration, CodeThreshold
    from nlp_coder.match.settings import resolve_settings

    book_path = write_codebook(tmp_path)
    model, _ = _frozen_model(tmp_path, book_path)
    assert model is not None and model.method == "frozen-centroid"
    book = nlp_coder.load_codebook(book_path)
    embedder = nlp_coder.HashingEmbedder(64)
    vectors = embedder.encode([t for texts in TOPICS.values() for t in texts])
    settings = resolve_settings(book, "hash-test")
    plain = model.matcher(book, settings).fit(model.codebook(book), embedder.encode)
    scores = plain.decision_function(vectors)
    order = np.argsort(-scores, axis=1)
    row = 0
    top, second = plain.codes_[order[row, 0]], plain.codes_[order[row, 1]]
    # The top code's threshold just above its score, the second's just below its own: the usual rule
    # would code the second code; the calibrated rule leaves the fragment uncoded.
    limits = {top: float(scores[row, order[row, 0]]) + 1e-3, second: float(scores[row, order[row, 1]]) - 1e-3}
    codes = tuple(CodeThreshold(c, limits.get(c, 5.0), 0.9, 0.5, True, "calibrated", 20, 18)
                  for c in model.codes)
    calibrated = replace(model, calibration=Calibration(0.8, codes, 0.0, 60, 0.5, 0.0))
    matcher = calibrated.matcher(book, settings).fit(calibrated.codebook(book), embedder.encode)
    assert _decided(matcher, vectors[:1]) == [("uncoded", [])]
    usual = plain.__class__.__mro__[2].from_settings(settings)  # the frozen matcher, same thresholds by hand
    usual.fit(calibrated.codebook(book), embedder.encode)
    usual.threshold_for = matcher.threshold_for  # type: ignore[method-assign]
    assert _decided(usual, vectors[:1]) == [("coded", [second])]


def test_a_code_not_calibrated_keeps_the_codebook_threshold_and_says_so(tmp_path: Path) -> None:
    from dataclasses import replace

    from nlp_coder.learn.choose import MethodScore
    from nlp_coder.match.settings import resolve_settings

    book_path = write_codebook(tmp_path)
    model, warnings = _frozen_model(tmp_path, book_path)
    assert model is not None
    # 6 exemplars a code in 5 groups: too few held-out passages to calibrate any code; the hashing
    # embedder is so poor that a code may show it misses the target (never coded).
    cal = model.calibration
    thin, missed = cal.uncalibrated, cal.unreached
    assert "money" in thin and set(thin) | set(missed) == set(TOPICS)
    book = nlp_coder.load_codebook(book_path)
    matcher = model.matcher(book, resolve_settings(book, "hash-test")).fit(model.codebook(book),
                                                                           nlp_coder.HashingEmbedder(64).encode)
    assert all(matcher.threshold_for(book.code(c)) == matcher.threshold for c in thin)
    assert all(matcher.threshold_for(book.code(c)) == np.inf for c in missed)
    lines = model.lines()
    assert (f"{len(thin)} of 3 codes not calibrated (too few held-out passages): they keep the codebook's "
            "threshold") in lines[0]
    assert any(x.startswith("learned: money: not calibrated, codebook threshold: ") and "held-out passages right"
               in x for x in lines)
    assert all(any(x.startswith(f"learned: {c}: never coded: ") for x in lines) for c in missed)
    assert lines[-1].startswith("learned: no code could be calibrated for precision 0.8: a threshold needs 10")
    entry = model.manifest_entry()
    assert entry["not_calibrated"] == list(thin) and entry["never_coded"] == list(missed)
    assert entry["exemplars_located"] == list(model.report.exemplars_located)
    assert entry["min_gain"] == model.report.min_gain
    assert {c["status"] for c in entry["calibration"]} <= {"thin", "missed"}
    text = report_text(replace(model.report, calibration=model.calibration))
    assert " codebook " in text.splitlines()[[i for i, x in enumerate(text.splitlines()) if "money" in x][0]]
    assert "(codes not calibrated counted as uncoded)" in text
    assert "  money: not calibrated, keeps the codebook's threshold: " in text
    # The frozen default kept: the line says so, with the best learned method's kappa.
    from nlp_coder.learn.choose import best_method

    scores = (MethodScore("frozen-centroid", 0.4, 0.5, (), 0.0), MethodScore("frozen-lr-chars", 0.1, 0.3, (), 0.0),
              MethodScore("fine-tuned", 0.4, 0.5, (), 0.0))
    assert best_method(scores) == "frozen-centroid"  # a tie is no gain: the frozen default stays
    kept = replace(model, method="frozen-centroid", report=replace(model.report, methods=scores))
    assert ("learned: frozen-centroid, the frozen default kept: no learned method beat its cross-validated kappa "
            "(fine-tuned 0.40)") in kept.line()
    assert "(the frozen default kept" in report_text(replace(kept.report, choice="frozen-centroid"))
    beaten = replace(kept, method="frozen-lr-chars")
    assert "frozen default kept" not in beaten.line()
    # A learned method no better than chance is never chosen, even over a worse frozen default.
    chance = (MethodScore("frozen-centroid", -0.2, 0.1, (), 0.0), MethodScore("frozen-lr-chars", -0.08, 0.2, (), 0.0),
              MethodScore("fine-tuned", 0.0, 0.2, (), 0.0))
    assert best_method(chance) == "frozen-centroid"
    assert best_method((*chance[:2], MethodScore("fine-tuned", 0.05, 0.3, (), 0.0))) == "fine-tuned"
    below = replace(model, method="frozen-centroid", report=replace(model.report, methods=chance,
                                                                  choice="frozen-centroid"))
    assert "no learned method agreed better than chance (fine-tuned 0.00)" in below.line()
    assert "no learned method agreed better than chance" in report_text(below.report)
    # Above the frozen default and above chance, but by less than the gain asked of it.
    short = replace(below, report=replace(below.report, min_gain=0.05, methods=(
        MethodScore("frozen-centroid", 0.0, 0.2, (), 0.0), MethodScore("frozen-lr-chars", 0.02, 0.2, (), 0.0,
                                                                       gain_se=0.03),
        MethodScore("fine-tuned", -0.17, 0.2, (), 0.0, gain_se=0.1))))
    assert best_method(short.report.methods, 0.05) == "frozen-centroid"
    said = (f"no learned method beat its cross-validated kappa by more than the noise of {below.report.passages} "
            "passages (1.645 standard errors) plus 0.05, as asked when most passages come from no known document "
            "(frozen-lr-chars 0.02: +0.02, standard error 0.03;")
    assert said in short.line() and said in report_text(short.report)
    assert "  frozen-lr-chars      0.02  +0.02 ± 0.03" in report_text(short.report)


def test_calibration_margin_flags_the_close_calls_that_are_often_wrong() -> None:
    from nlp_coder.learn.calibrate import calibrate

    # Many easy passages put both thresholds at 0.5; the two close calls (gap 0.01) are wrong,
    # the calls with a gap of 0.25 right.
    easy = ([[0.5, 0.1]] * 4 + [[0.1, 0.5]] * 4) * 2
    close = [[0.8, 0.79], [0.79, 0.8]]
    clear = [[0.9, 0.65], [0.65, 0.9]] * 3
    scores = np.array(easy + close + clear)
    truth = ([0] * 4 + [1] * 4) * 2 + [1, 0] + [0, 1] * 3
    cal = calibrate(scores, truth, ["a", "b"], target=0.3)
    assert [c.threshold for c in cal.codes] == [0.5, 0.5]
    assert cal.margin == pytest.approx(0.01) and cal.overlap_share == round(2 / 24, 4)
    right = truth[:16] + [0, 1] + truth[18:]  # the close calls right too: no gap is unreliable
    assert calibrate(scores, right, ["a", "b"], target=0.3).margin == 0


@pytest.mark.parametrize("target", [0, -0.1, 1.5, float("nan"), "high", True])
def test_a_bad_target_precision_is_an_error(tmp_path: Path, target: object) -> None:
    with pytest.raises(nlp_coder.NlpCoderError) as caught:
        learn(["A line."], write_codebook(tmp_path), embedder=nlp_coder.HashingEmbedder(64),
              methods=("frozen-centroid",), target_precision=target)  # type: ignore[arg-type]
    assert caught.value.code == "E130"


def _frozen_model(tmp_path: Path, book_path: Path):  # type: ignore[no-untyped-def]
    from nlp_coder.learn.artefact import learn_model
    from nlp_coder.match.settings import resolve_settings

    book = nlp_coder.load_codebook(book_path)
    embedder = nlp_coder.HashingEmbedder(64)
    return learn_model(labelled_set(book), book, resolve_settings(book, "hash-test"), embedder.encode,
                       base_model=embedder.model_id, base_weights_sha256=embedder.weights_sha256, trainable=None,
                       folder=tmp_path / "learned")


def test_the_learned_model_is_kept_owner_only_and_reused(tmp_path: Path, umask_022: None) -> None:
    from conftest import file_mode

    book = write_codebook(tmp_path)
    first, _ = _frozen_model(tmp_path, book)
    assert first is not None and not first.reused and first.folder == tmp_path / "learned" / first.key[:16]
    files = sorted(p for p in (tmp_path / "learned").rglob("*"))
    assert files and (first.folder / "learned.json") in files
    assert file_mode(tmp_path / "learned") == 0o700
    assert all(file_mode(p) == (0o700 if p.is_dir() else 0o600) for p in files)
    before = {p: p.read_bytes() for p in files if p.is_file()}
    again, _ = _frozen_model(tmp_path, book)
    assert again is not None and again.reused and again.key == first.key
    assert again.method == first.method and again.calibration == first.calibration
    assert {p: p.read_bytes() for p in files if p.is_file()} == before  # read, not written again
    if first.coef is not None:
        assert np.array_equal(again.coef, first.coef)
    assert again.manifest_entry()["reused"] is True and first.manifest_entry()["reused"] is False


@pytest.mark.parametrize("method", ["ensemble-lr-chars", "ensemble-centroid"])
def test_an_ensemble_method_is_kept_with_the_model_it_encodes_with(tmp_path: Path, method: str) -> None:
    from dataclasses import replace

    from nlp_coder.learn.artefact import learn_model
    from nlp_coder.learn.choose import Ensemble
    from nlp_coder.match.settings import resolve_settings

    book = nlp_coder.load_codebook(write_codebook(tmp_path))
    # Each exemplar names its code, so that bags of words (the hashing model) can tell the codes apart.
    book = replace(book, codes=tuple(replace(c, examples=tuple(f"{t} That is {c.id} {c.id}." for t in c.examples))
                                     for c in book.codes))
    settings = resolve_settings(book, "hash-test")
    base = nlp_coder.HashingEmbedder(64)  # the run's model; the registered hash-test stands in for the ensemble
    other = nlp_coder.load_embedder("hash-test")
    ensemble = Ensemble("hash-test", other, other.encode)

    def learned(methods: tuple[str, ...], with_ensemble: Ensemble | None = ensemble):  # type: ignore[no-untyped-def]
        model, _ = learn_model(labelled_set(book), book, settings, base.encode, base_model=base.model_id,
                               base_weights_sha256=base.weights_sha256, trainable=None,
                               folder=tmp_path / "learned", methods=methods, ensemble=with_ensemble)
        assert model is not None
        return model

    first = learned((method,))
    assert first.method == method and first.encoder is other and first.encoder_model == "hash-test"
    entry = first.manifest_entry()
    assert entry["encoder_model"] == "hash-test" and entry["encoder_sha256"] == other.weights_sha256
    assert first.line().startswith(f"learned: {method} on the vectors of hash-test (cross-validated kappa")
    assert json.loads((first.folder / "learned.json").read_text())["encoder_model"] == "hash-test"
    assert not (first.folder / "encoder").exists()  # nothing exported: the registered model is loaded again
    again = learned((method,))
    assert again.reused and again.encoder.model_id == "hash-test" and again.encoder_model == "hash-test"
    # The matcher codes the ensemble's vectors, the same way after reloading.
    texts = [t for c in book.codes for t in c.examples]
    decided = []
    for model in (first, again):
        matcher = model.matcher(book, settings).fit(model.codebook(book), model.encoder.encode)
        decided.append(_decided(matcher, model.encoder.encode(texts), texts))
    assert decided[0] == decided[1] and sum(status != "uncoded" for status, _ in decided[0]) > 0
    # Without an ensemble its methods are not run (and say so), and the key is another.
    alone = learned(("frozen-centroid", method), None)
    assert alone.key != first.key and alone.encoder is None and alone.encoder_model is None
    assert [(m.method, m.note) for m in alone.report.methods][1] == (method, "no ensemble model")


def test_the_ensemble_is_the_registered_one_that_holds_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from nlp_coder.embed import models
    from nlp_coder.errors import ModelNotInstalledError
    from nlp_coder.learn.artefact import find_ensemble

    def encode_with(embedder):  # type: ignore[no-untyped-def]
        return embedder.encode

    found, why = find_ensemble("default", encode_with)
    assert found is not None and found.name == "minilm-use" and why is None
    assert find_ensemble("use", encode_with) == (None, None)  # the ensemble covers fewer languages than USE
    assert find_ensemble("hash-test", encode_with) == (None, None)  # in no ensemble

    def missing(name: str, **_: object) -> None:
        raise ModelNotInstalledError(f"model '{name}' is not installed", "--model", "pip install it")

    monkeypatch.setattr(models, "load_embedder", missing)
    found, why = find_ensemble("default", encode_with)
    assert found is None and why is not None and "minilm-use cannot be loaded" in why and "not installed" in why


def test_the_key_changes_with_the_training_data(tmp_path: Path) -> None:
    first, _ = _frozen_model(tmp_path, write_codebook(tmp_path, per_code=5))
    second, _ = _frozen_model(tmp_path, write_codebook(tmp_path, per_code=6))  # one more exemplar per code
    assert first is not None and second is not None and not second.reused
    assert second.key != first.key and second.data_sha256 != first.data_sha256
    assert len(list((tmp_path / "learned").iterdir())) == 2


def test_suggest_learns_with_pilot_coding_and_records_it(tmp_path: Path) -> None:
    from nlp_coder.store import Store

    corpus, codings = _pilot(tmp_path)
    book = write_codebook(tmp_path, per_code=3)
    db = tmp_path / "store.db"
    out = tmp_path / "out.jsonl"
    args = ["suggest", str(corpus), "--codebook", str(book), "--model", "hash-test", "--db", str(db)]
    result = CliRunner().invoke(main, [*args, "--train-from", str(codings), "--out", str(out)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("learned: "))
    assert "cross-validated kappa" in line and "kept in the store" in line
    with Store(db) as store:
        manifest = store.runs()[-1][4]
    learned = manifest["parameters"]["learned"]
    assert learned["method"] in METHODS and learned["passages"] == 21 and learned["pilot_passages"] == 12
    assert set(learned["thresholds"]) == set(TOPICS) and learned["target_precision"] == 0.8
    assert [c["code"] for c in learned["per_code"]] == list(TOPICS)
    assert (db.parent / learned["folder"] / "learned.json").is_file()
    again = CliRunner().invoke(main, [*args, "--train-from", str(codings), "--out", str(out)])
    assert "reused from the store" in again.output
    off = CliRunner().invoke(main, [*args, "--train-from", str(codings), "--no-learn", "--out", str(out)])
    assert off.exit_code == 0 and "learned: " not in off.output and "trained on" in off.output
    plain = CliRunner().invoke(main, [*args, "--out", str(out)])  # no pilot coding: the frozen default
    assert plain.exit_code == 0 and "learned" not in plain.output
    with Store(db) as store:
        assert "learned" not in store.runs()[-1][4]["parameters"]


def test_suggest_keeps_the_frozen_default_with_too_few_labels(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["suggest", str(REPO / "corpus"), "--codebook",
                                       str(write_codebook(tmp_path, per_code=2)), "--model", "hash-test",
                                       "--db", str(tmp_path / "s.db"), "--learn", "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 0, result.output
    assert "too few labels to learn the codebook" in result.output and "keeping the frozen default" in result.output


def test_suggest_says_which_codes_are_not_calibrated_and_records_them(tmp_path: Path) -> None:
    from nlp_coder.store import Store

    db = tmp_path / "s.db"
    result = CliRunner().invoke(main, ["suggest", str(REPO / "corpus"), "--codebook", str(write_codebook(tmp_path)),
                                       "--model", "hash-test", "--db", str(db), "--learn",
                                       "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    with Store(db) as store:
        learned = store.runs()[-1][4]["parameters"]["learned"]
    # 6 exemplars a code: no code can be calibrated; each has a line with its numbers, and its
    # state is in the manifest (the hashing embedder is poor enough that codes may miss the target).
    states = {c["code"]: c["status"] for c in learned["calibration"]}
    assert set(states) == set(TOPICS) and set(states.values()) <= {"thin", "missed"}
    assert learned["not_calibrated"] == [c for c in TOPICS if states[c] == "thin"]
    assert learned["never_coded"] == [c for c in TOPICS if states[c] == "missed"]
    assert all(learned["thresholds"][c] is None for c in TOPICS)
    for code, state in states.items():
        said = "not calibrated, codebook threshold" if state == "thin" else "never coded"
        assert any(x.startswith(f"learned: {code}: {said}: ") and "held-out passage" in x for x in lines)
    if "thin" in states.values():
        assert any(x.startswith("learned: no code could be calibrated for precision 0.8") for x in lines)
        uncoded = [x for x in lines if "fragments (" in x and "are uncoded" in x]
        assert all("no code's threshold could be calibrated" in x for x in uncoded)
    else:
        assert any(x.startswith("learned: every code misses precision 0.8 out of fold") for x in lines)


def test_with_every_code_missing_the_target_the_run_says_so(tmp_path: Path) -> None:
    from dataclasses import replace

    from nlp_coder.learn.calibrate import Calibration, CodeThreshold

    model, _ = _frozen_model(tmp_path, write_codebook(tmp_path))
    assert model is not None
    codes = tuple(CodeThreshold(c, None, 0.2, 0.1, False, "missed", 10, 2, "2 of 10 held-out passages right")
                  for c in model.codes)
    missed = replace(model, calibration=Calibration(0.8, codes, 0.0, 30, 1.0, 0.0))
    lines = missed.lines()
    assert "3 of 3 codes never coded, only suggested (they miss precision 0.8 out of fold" in lines[0]
    assert lines[-1].startswith("learned: every code misses precision 0.8 out of fold, so none is coded")
    assert missed.calibration.threshold("money") == np.inf


def test_learn_and_cascade_are_refused_together(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["suggest", str(REPO / "corpus"), "--codebook", str(write_codebook(tmp_path)),
                                       "--model", "hash-test", "--learn", "--cascade", "0.3",
                                       "--db", str(tmp_path / "s.db")])
    assert result.exit_code != 0 and "E131" in result.output


def _pilot(tmp_path: Path) -> tuple[Path, Path]:
    """Four documents, each with one passage of every topic coded, and an uncoded line."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = ["document,start,end,code,coder"]
    for d in range(4):
        lines, offset = [], 0
        for code, texts in TOPICS.items():
            text = texts[(d + 2) % 6]
            start = offset + len("Respondent: ")
            rows.append(f"doc{d}.txt,{start},{start + len(text)},{code},ann")
            lines.append(f"Respondent: {text}")
            offset += len(lines[-1]) + 1
        lines.append("Respondent: We talked about the football results on the radio.")
        (corpus / f"doc{d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    codings = tmp_path / "codings.csv"
    codings.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return corpus, codings


def test_a_fine_tuned_model_is_exported_and_the_same_in_two_processes() -> None:
    snippet = """
        import hashlib, json, tempfile
        from pathlib import Path
        import numpy as np
        import nlp_coder
        from test_learn import FAST, TOPICS, tiny_model, write_codebook
        from nlp_coder.learn.artefact import learn_model
        from nlp_coder.learn.data import labelled_set
        from nlp_coder.match.settings import resolve_settings
        from nlp_coder.run import SuggestOptions, suggest
        tmp = Path(tempfile.mkdtemp())
        book = nlp_coder.load_codebook(write_codebook(tmp))
        tiny = tiny_model()
        embedder = nlp_coder.HashingEmbedder(64)
        model, _ = learn_model(labelled_set(book), book, resolve_settings(book, "hash-test"), embedder.encode,
                               base_model="tiny", base_weights_sha256="0" * 64, trainable=lambda: tiny,
                               folder=tmp / "learned", settings=FAST, methods=("fine-tuned",), seed=2)
        texts = [t for ts in TOPICS.values() for t in ts]
        exported = model.encoder.encode(texts)
        print(model.method, model.runtime, exported.shape)
        for path in sorted(model.folder.rglob("*")):
            if path.is_file():
                print(path.relative_to(model.folder), hashlib.sha256(path.read_bytes()).hexdigest())
        print(hashlib.sha256(exported.tobytes()).hexdigest())
        corpus = nlp_coder.read_corpus(["Respondent: The rent was due. It rained all week. The nurse came."])
        result = suggest(corpus, book, tmp / "store.db", embedder=embedder, trainable=tiny,
                         options=SuggestOptions(model="hash-test", learn=True, finetune=FAST))
        print(json.dumps(result.records(), sort_keys=True))
        print(json.dumps(dict(result.manifest.parameters)["learned"], sort_keys=True))
    """
    out = same_in_two_processes(snippet, timeout=600).decode()
    assert out.startswith("fine-tuned onnxruntime (18, 32)") and "encoder/model.onnx" in out


def test_review_decisions_are_labels_to_learn_from(tmp_path: Path) -> None:
    """A reviewer's decisions in the store become passages of their codes (rejected fragments:
    text no code fits) for ``learn`` and ``suggest --from-review``; none is an error (E301)."""
    from nlp_coder.embed.models import HashingEmbedder
    from nlp_coder.errors import NlpCoderError
    from nlp_coder.review import ReviewOptions, open_review
    from nlp_coder.run import SuggestOptions
    from nlp_coder.store import Store

    corpus, _ = _pilot(tmp_path)
    book = write_codebook(tmp_path, per_code=3)
    db = tmp_path / "store.db"
    session = open_review(corpus, book, db, embedder=HashingEmbedder(), suggest_options=SuggestOptions(learn=False),
                          options=ReviewOptions(reviewer="ann", refit_every=0))
    topic = {" ".join(t.split()): code for code, texts in TOPICS.items() for t in texts}
    coded = rejected = 0
    for key, fragment in zip(session.keys, session.fragments):
        text = " ".join(fragment.text.split())
        if text in topic:
            session.decide(key, "recode", [topic[text]])
            coded += 1
        elif "football" in text:
            session.decide(key, "reject")
            rejected += 1
    session.store.close()
    assert coded == 12 and rejected == 4

    report = learn(corpus, book, store=db, embedder=HashingEmbedder(), reviewer="ann", methods=("frozen-centroid",))
    assert report.passages == 9 + coded and report.pilot_passages == coded
    with Store(db) as store:
        rows = store.review_decisions(nlp_coder.load_codebook(book).sha256, "ann")
    labelled = labelled_set(nlp_coder.load_codebook(book), corpus=nlp_coder.read_corpus(corpus).documents,
                            review=rows, reviewer="ann")
    assert len(labelled.unlabelled) == rejected and {p.source for p in labelled.unlabelled} == {"review:ann"}

    with pytest.raises(NlpCoderError) as caught:
        learn(corpus, book, store=db, embedder=HashingEmbedder(), reviewer="bob")
    assert caught.value.code == "E301"

    args = ["suggest", str(corpus), "--codebook", str(book), "--model", "hash-test", "--db", str(db),
            "--out", str(tmp_path / "out.jsonl")]
    result = CliRunner().invoke(main, [*args, "--from-review", "ann"])
    assert result.exit_code == 0, result.output
    assert any(line.startswith("learned: ") for line in result.output.splitlines())
    with Store(db) as store:
        parameters = store.runs()[-1][4]["parameters"]
    assert parameters["from_review"] == "ann" and parameters["learned"]["pilot_passages"] == coded
    refused = CliRunner().invoke(main, [*args, "--from-review", "ann", "--no-learn"])
    assert refused.exit_code != 0 and "E131" in refused.output


def test_review_decisions_that_cannot_be_learned_are_counted_not_dropped() -> None:
    from types import SimpleNamespace

    from conftest import SMALL_CODEBOOK

    from nlp_coder.codebook import parse_codebook
    from nlp_coder.learn.data import review_split

    book = parse_codebook(SMALL_CODEBOOK)
    text = "She helped me with the forms. She was kind. It rained. We talked."
    doc = SimpleNamespace(id="d", text=text)  # what review_split reads of a Document

    def row(start: int, end: int, *codes: str, document: str = "d") -> SimpleNamespace:
        return SimpleNamespace(document=document, start=start, end=end, codes=codes)

    rows = [row(0, 29, "support"), row(30, 43, "warmth", "listening"), row(44, 55), row(55, 65, "positive"),
            row(0, 10, "support", document="gone"), row(60, 600, "support")]
    passages, rejected, warnings = review_split(rows, book, [doc], "ann")
    assert [(p.text, p.code, p.group, p.source) for p in passages] == [
        ("She helped me with the forms.", "support", "d", "review:ann")]
    assert [p.text for p in rejected] == ["It rained."]
    said = " ".join(warnings)
    assert "1 decisions with more than one code" in said and "1 decisions with facet codes only" in said
    assert "2 decisions on documents this corpus does not have" in said
