"""One settings resolver: every command decides with the same threshold, margin and method."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nlp_coder.analyses.evaluate import EvaluateOptions, build_inputs, evaluated_codes, headline
from nlp_coder.analyses.methods import METHODS
from nlp_coder.codebook import load_codebook
from nlp_coder.embed import HashingEmbedder, load_registry
from nlp_coder.errors import InputError
from nlp_coder.match.settings import DEFINITION_WEIGHTS, resolve_settings
from nlp_coder.readers.gold import GoldFragment
from nlp_coder.run import SuggestOptions, match_settings
from nlp_coder.run import suggest as run_suggest

TEXTS = [
    "She helped me fill in the forms for housing.",
    "She was warm and kind to my kids.",
    "She really listened to what I said and she was kind.",
    "The bus was late again so I walked.",
    "He drove me to the appointment and was gentle with us.",
    "They listened to my side and helped with childcare.",
    "It was awful and unfair, I was angry.",
    "I was happy and grateful, it was great.",
]

MODELS = [spec.name for spec in load_registry().models]


def _table(tmp_path: Path) -> Path:
    path = tmp_path / "fragments.csv"
    rows = ["id,document,text"] + [f'f{i},doc{i % 3},"{t}"' for i, t in enumerate(TEXTS)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("threshold_in_codebook", [False, True])
@pytest.mark.parametrize("model", MODELS)
def test_suggest_and_the_evaluate_headline_decide_alike_for_every_model(
        tmp_path: Path, codebook_file: Path, model: str, threshold_in_codebook: bool) -> None:
    if threshold_in_codebook:  # the codebook's own threshold must win over the model's, in both
        codebook_file.write_text("threshold: 0.12\n" + codebook_file.read_text(encoding="utf-8"), encoding="utf-8")
    embedder = HashingEmbedder()  # the model's registry settings, the fake's vectors
    suggested = run_suggest(_table(tmp_path), codebook_file, tmp_path / "store.db",
                            options=SuggestOptions(model=model), embedder=embedder)
    by_text = {r.fragment.text: r.decision for r in suggested.results}

    book = load_codebook(codebook_file)
    options = EvaluateOptions(model=model)
    methods, settings = headline(book, options)
    assert settings == match_settings(book, SuggestOptions(model=model))
    gold = [GoldFragment(f"g{i}", t, ()) for i, t in enumerate(TEXTS)]
    codes = evaluated_codes(book, gold)
    vectors = dict(zip(TEXTS + [t for t in _book_texts(book)], embedder.encode(TEXTS + _book_texts(book))))

    def lookup(items: list[str]) -> np.ndarray:
        return np.stack([vectors[t] if t else np.zeros(embedder.dimensions, np.float32) for t in items]) \
            if items else np.zeros((0, embedder.dimensions), np.float32)

    training, test = build_inputs(book, codes, {}, gold, lookup, settings)
    prediction = METHODS[methods[0]](training, test)
    assert [(by_text[t].status, by_text[t].codes) for t in TEXTS] == list(zip(prediction.status,
                                                                                prediction.assigned))
    assert {s for s in prediction.status} - {"coded", "overlap", "uncoded"} == set()


def _book_texts(book) -> list[str]:  # type: ignore[no-untyped-def]
    from nlp_coder.match import codebook_texts

    return [t for t in codebook_texts(book) if t not in TEXTS]


def test_an_option_beats_the_codebook_which_beats_the_model(codebook_file: Path) -> None:
    book = load_codebook(codebook_file)
    spec = load_registry().model("ensemble")
    from_model = resolve_settings(book, "ensemble")
    assert (from_model.method, from_model.threshold) == ("centroid", spec.threshold_for("centroid"))
    assert from_model.threshold != spec.threshold  # the ensemble has its own centroid threshold
    assert dict(from_model.origin)["threshold"].startswith("model ")
    from_book = resolve_settings(replace(book, threshold=0.2, margin=0.07), "ensemble")
    assert (from_book.threshold, from_book.margin) == (0.2, 0.07)
    assert dict(from_book.origin)["threshold"] == "codebook"
    from_option = resolve_settings(replace(book, threshold=0.2), "ensemble", threshold=0.4, method="topk")
    assert (from_option.threshold, from_option.method) == (0.4, "topk")
    assert from_option.definition_weight == DEFINITION_WEIGHTS["topk"]
    assert dict(from_option.origin)["threshold"] == "option"


def test_the_fast_model_brings_its_method(codebook_file: Path) -> None:
    book = load_codebook(codebook_file)
    assert resolve_settings(book, "fast").method == load_registry().model("fast").method == "topk"
    methods, settings = headline(book, EvaluateOptions(model="fast"))
    assert methods == ("topk",) and settings.method == "topk"


@pytest.mark.parametrize(("field", "value"), [
    ("threshold", math.nan), ("threshold", math.inf), ("threshold", 1.5), ("margin", math.nan),
    ("margin", -0.1), ("margin", math.inf), ("definition_weight", math.nan), ("definition_weight", 2.0),
    ("counterexample_weight", -math.inf), ("top_k", 0), ("suggestions", 0), ("method", "nearest"),
])
def test_values_that_are_not_finite_or_out_of_range_are_refused(codebook_file: Path, field: str,
                                                                  value: object) -> None:
    with pytest.raises(InputError) as caught:
        resolve_settings(load_codebook(codebook_file), **{field: value})  # type: ignore[arg-type]
    assert caught.value.code == "E130"


def test_unknown_model_is_refused(codebook_file: Path) -> None:
    with pytest.raises(InputError, match="unknown model"):
        resolve_settings(load_codebook(codebook_file), "no-such-model")
