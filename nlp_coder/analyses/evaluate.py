"""Measure how well suggestions agree with human coders (``nlp-coder evaluate``).

A *gold* file lists fragments with the codes a human gave them (CSV or JSONL; columns ``id``,
``text``, ``codes`` — one code or several separated by ``;``, empty when the human left the
fragment uncoded — and optionally ``document``, ``speaker`` and ``context``, the text just
before the fragment, e.g. the question a reply answers).

Two protocols:

* **codebook as is**: every gold fragment is scored against the codebook's own exemplars and
  definitions;
* **few-shot** (``exemplars_from_gold=K``): per repeat, the documents (``group_by``) are shuffled
  with an explicit seed and taken as training documents until every code has ``K`` candidate
  fragments (at most ``max_train_fraction`` of the documents); ``K`` exemplars per code are drawn
  from them and added to the codebook's own, and only the other documents are evaluated, so a
  document that gave exemplars is never scored. Results are the mean and spread (sample
  standard deviation) over ``repeat`` seeds ``seed, seed+1, ...``.
* **pilot coding** (``pilot_documents=N``): per repeat, the documents are shuffled the same way
  and the first ``N`` are coded whole: every single-coded fragment in them is an exemplar (what
  a researcher gives by coding N transcripts by hand); only the other documents are evaluated.

The learner's methods (``learn=True``, ``nlp-coder evaluate --learn``) are trained on the same
training exemplars: ``fine-tuned`` tunes the embedding model on them, ``learned`` (the headline:
what ``suggest`` does when it learns the codebook) chooses among the frozen default,
``frozen-lr-chars`` and ``fine-tuned`` by cross-validation on them; no test fragment is ever
tuned or fitted on (see :mod:`nlp_coder.analyses.methods`).

Metrics (see ``docs/evaluation.md``): per-code precision/recall/F1 of the best code (top-1) on
the fragments a human coded, macro and micro F1, top-1 accuracy, top-3 recall, Cohen's kappa and
Krippendorff's alpha (nominal) between the human code and the top-1 code on single-coded
fragments, per-code binary alpha, coverage (fragments given a code), and, where the gold has
uncoded fragments, how well ``uncoded`` finds them.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from nlp_coder.analyses.methods import (
    BASELINES,
    FROZEN_METHODS,
    LEARNER_METHODS,
    METHODS,
    SCORING_OF,
    SUGGEST_METHODS,
    Prediction,
    Test,
    TrainingSet,
)
from nlp_coder.codebook import load_codebook
from nlp_coder.errors import InputError
from nlp_coder.match.decide import ranked_codes
from nlp_coder.match.matcher import codebook_texts, definition_text
from nlp_coder.match.settings import resolve_settings, with_method
from nlp_coder.readers.gold import GoldFragment, gold_sha256, parse_gold, read_gold
from nlp_coder.records import Codebook, Document, MatchSettings

__all__ = ["GoldFragment", "parse_gold", "read_gold"]  # re-exported: the gold reader lives in readers

Encode = Callable[[Sequence[str]], np.ndarray]

SCALARS = ("macro_f1", "micro_f1", "accuracy", "top3_recall", "kappa", "alpha", "coverage",
           "decision_macro_f1", "uncoded_precision", "uncoded_recall", "uncoded_f1")
"""The headline metrics of every method and run (``None`` where a metric does not apply)."""


@dataclass(frozen=True)
class EvaluateOptions:
    """How to evaluate.

    ``methods``: names from :data:`nlp_coder.analyses.methods.METHODS`, or ``all``,
    ``baselines`` and ``suggest`` (what ``nlp-coder suggest`` does with this model and codebook);
    the first one is the headline; empty: ``suggest``. ``threshold``, ``margin`` and
    ``definition_weight`` are resolved as ``suggest`` resolves them
    (:func:`nlp_coder.match.settings.resolve_settings`).
    ``exemplars_from_gold``: ``K`` for the few-shot protocol (0: use the codebook as is).
    ``pilot_documents``: ``N`` for the pilot-coding protocol (not with ``exemplars_from_gold``).
    ``learn``: evaluate as ``suggest`` does when it learns the codebook: ``suggest`` (and no
    methods) means ``learned`` with its candidates, and ``all`` adds the learner's methods.
    ``finetune``: the fine-tuning's :class:`~nlp_coder.learn.finetune.FinetuneSettings`
    (None: its defaults). ``max_test``: score at most this many test fragments per run, a
    random sample drawn with the run's seed (0: all; the report says so).
    """

    model: str = "default"
    methods: tuple[str, ...] = ()
    threshold: float | None = None
    margin: float | None = None
    top_k: int = 3
    definition_weight: float | None = None
    counterexample_weight: float = 1.0
    exemplars_from_gold: int = 0
    seed: int = 0
    group_by: str = "document"
    repeat: int = 1
    max_train_fraction: float = 0.5
    pilot_documents: int = 0
    learn: bool = False
    finetune: Any = None
    max_test: int = 0


@dataclass(frozen=True)
class CodeMetrics:
    """Top-1 precision/recall/F1 of one code; ``alpha``: binary Krippendorff's alpha (human gave
    the code / machine's best code is it) over the fragments a human coded."""

    code: str
    name: str
    precision: float
    recall: float
    f1: float
    support: int
    predicted: int
    alpha: float | None


@dataclass(frozen=True)
class Metrics:
    """Agreement of one method with the gold on one set of fragments."""

    n: int
    n_coded: int
    n_uncoded: int
    values: tuple[tuple[str, float | None], ...]
    per_code: tuple[CodeMetrics, ...]

    def get(self, name: str) -> float | None:
        return dict(self.values)[name]


@dataclass(frozen=True)
class Split:
    """One few-shot draw: the seed, documents used for exemplars and the exemplars per code."""

    seed: int
    train_documents: tuple[str, ...]
    test_documents: tuple[str, ...]
    exemplars: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class MethodResult:
    """One method over every run: the mean and spread of each metric, and each run's metrics."""

    method: str
    mean: tuple[tuple[str, float | None], ...]
    spread: tuple[tuple[str, float | None], ...]
    per_code: tuple[CodeMetrics, ...]
    runs: tuple[Metrics, ...]
    seconds: tuple[float, ...] = field(default=(), compare=False)
    """Wall-clock seconds of each run (fit and prediction; not in the JSON, which stays the same
    from run to run)."""

    def get(self, name: str) -> float | None:
        return dict(self.mean)[name]


@dataclass(frozen=True)
class EvaluationReport:
    """Everything ``nlp-coder evaluate`` reports."""

    gold: str
    gold_sha256: str
    codebook: str
    codebook_sha256: str
    model: str
    options: EvaluateOptions
    settings: MatchSettings
    codes: tuple[str, ...]
    methods: tuple[MethodResult, ...]
    splits: tuple[Split, ...]
    n: int
    warnings: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())
    """What the methods chose (``learned``: the learner's choice per run, with its evidence)."""


# -- the codes evaluated -----------------------------------------------------------------------

def evaluated_codes(codebook: Codebook, gold: Sequence[GoldFragment]) -> tuple[str, ...]:
    """The codable main codes, after checking every gold code is one of them."""
    codes = tuple(c.id for c in codebook.codes if c.codable and c.facet is None)
    known = set(codes)
    unknown: dict[str, str] = {}
    for g in gold:
        for code in g.codes:
            if code not in known:
                unknown.setdefault(code, g.id)
    if unknown:
        listed = ", ".join(f"'{c}' (fragment {fid})" for c, fid in list(unknown.items())[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise InputError(f"gold codes not in the codebook's codable main codes: {listed}{more}",
                         fix=f"Use code ids of the codebook: {', '.join(codes)}", code="E121")
    return codes


# -- metrics -----------------------------------------------------------------------------------

def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _alpha(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Krippendorff's alpha (nominal) for two coders; None when it is undefined."""
    import krippendorff

    if len(a) < 2 or len(set(a) | set(b)) < 2:
        return None
    value = krippendorff.alpha(reliability_data=np.array([a, b], dtype=float), level_of_measurement="nominal")
    return None if math.isnan(value) else float(value)


def score_predictions(gold: Sequence[tuple[str, ...]], prediction: Prediction, codes: Sequence[str],
                      names: dict[str, str] | None = None) -> Metrics:
    """Compare a method's prediction with the gold codes (one tuple per fragment)."""
    from sklearn.metrics import cohen_kappa_score

    names = names or {}
    index = {c: j for j, c in enumerate(codes)}
    order = ranked_codes(prediction.scores)
    top1 = [codes[j] for j in order[:, 0]] if len(codes) else []
    top3 = [{codes[j] for j in row[:3]} for row in order]
    coded = [i for i, g in enumerate(gold) if g]
    uncoded = [i for i, g in enumerate(gold) if not g]
    per_code = []
    tp_all = fp_all = fn_all = 0
    f1s = []
    d_f1s = []
    for code in codes:
        tp = sum(1 for i in coded if top1[i] == code and code in gold[i])
        fp = sum(1 for i in coded if top1[i] == code and code not in gold[i])
        fn = sum(1 for i in coded if code in gold[i] and top1[i] != code)
        support = tp + fn
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / support if support else 0.0
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        alpha = _alpha([int(code in gold[i]) for i in coded], [int(top1[i] == code) for i in coded])
        per_code.append(CodeMetrics(code, names.get(code, code), round(p, 4), round(r, 4), round(_f1(p, r), 4),
                                    support, tp + fp, None if alpha is None else round(alpha, 4)))
        if support:
            f1s.append(_f1(p, r))
            dtp = sum(1 for i, g in enumerate(gold) if code in g and code in prediction.assigned[i])
            dfp = sum(1 for i, g in enumerate(gold) if code not in g and code in prediction.assigned[i])
            dp = dtp / (dtp + dfp) if dtp + dfp else 0.0
            d_f1s.append(_f1(dp, dtp / support))
    micro_p = tp_all / (tp_all + fp_all) if tp_all + fp_all else 0.0
    micro_r = tp_all / (tp_all + fn_all) if tp_all + fn_all else 0.0
    single = [i for i in coded if len(gold[i]) == 1]
    kappa = alpha = None
    if single:
        human = [gold[i][0] for i in single]
        machine = [top1[i] for i in single]
        if len(set(human) | set(machine)) > 1:
            kappa = float(cohen_kappa_score(human, machine, labels=list(codes)))
            if math.isnan(kappa):
                kappa = None
        alpha = _alpha([index[c] for c in human], [index[c] for c in machine])
    n_gold_codes = sum(len(gold[i]) for i in coded)
    values: dict[str, float | None] = {
        "macro_f1": float(np.mean(f1s)) if f1s else None,
        "micro_f1": _f1(micro_p, micro_r) if coded else None,
        "accuracy": sum(1 for i in coded if top1[i] in gold[i]) / len(coded) if coded else None,
        "top3_recall": sum(len(top3[i] & set(gold[i])) for i in coded) / n_gold_codes if coded else None,
        "kappa": kappa,
        "alpha": alpha,
        "coverage": sum(1 for s in prediction.status if s != "uncoded") / len(gold) if gold else None,
        "decision_macro_f1": float(np.mean(d_f1s)) if d_f1s else None,
        "uncoded_precision": None,
        "uncoded_recall": None,
        "uncoded_f1": None,
    }
    if uncoded:
        flagged = [i for i, s in enumerate(prediction.status) if s == "uncoded"]
        hit = sum(1 for i in flagged if not gold[i])
        up = hit / len(flagged) if flagged else 0.0
        ur = hit / len(uncoded)
        values.update(uncoded_precision=up, uncoded_recall=ur, uncoded_f1=_f1(up, ur))
    rounded = tuple((k, None if values[k] is None else round(float(values[k]), 4)) for k in SCALARS)
    return Metrics(len(gold), len(coded), len(uncoded), rounded, tuple(per_code))


def aggregate(method: str, runs: Sequence[Metrics], seconds: Sequence[float] = ()) -> MethodResult:
    """Mean and sample standard deviation of every metric over runs (None where never defined)."""
    def stats(values: list[float | None]) -> tuple[float | None, float | None]:
        present = [v for v in values if v is not None]
        if not present:
            return None, None
        spread = float(np.std(present, ddof=1)) if len(present) > 1 else 0.0
        return round(float(np.mean(present)), 4), round(spread, 4)

    mean, spread = [], []
    for name in SCALARS:
        m, s = stats([r.get(name) for r in runs])
        mean.append((name, m))
        spread.append((name, s))
    per_code = []
    for j, first in enumerate(runs[0].per_code):
        rows = [r.per_code[j] for r in runs]
        per_code.append(CodeMetrics(
            first.code, first.name,
            *(round(float(np.mean([getattr(x, f) for x in rows])), 4) for f in ("precision", "recall", "f1")),
            support=round(float(np.mean([x.support for x in rows]))),
            predicted=round(float(np.mean([x.predicted for x in rows]))),
            alpha=stats([x.alpha for x in rows])[0],
        ))
    return MethodResult(method, tuple(mean), tuple(spread), tuple(per_code), tuple(runs), tuple(seconds))


# -- the few-shot protocol ---------------------------------------------------------------------

def _group(g: GoldFragment, group_by: str) -> str:
    return (g.speaker or "") if group_by == "speaker" else g.document


def draw_split(gold: Sequence[GoldFragment], codes: Sequence[str], k: int, seed: int, group_by: str = "document",
               max_train_fraction: float = 0.5) -> tuple[Split, tuple[str, ...]]:
    """Pick training documents and ``k`` exemplars per code from them (see the module doc).

    Returns:
        The split and warnings (codes with fewer than ``k`` candidates in the training documents).
    """
    groups = sorted({_group(g, group_by) for g in gold})
    rng = np.random.default_rng(seed)
    shuffled = [groups[i] for i in rng.permutation(len(groups))]
    limit = max(1, math.floor(len(groups) * max_train_fraction))
    counts = {c: 0 for c in codes}
    by_group: dict[str, list[GoldFragment]] = {}
    for g in gold:
        by_group.setdefault(_group(g, group_by), []).append(g)
    train: list[str] = []
    for name in shuffled:
        if len(train) >= limit or all(v >= k for v in counts.values()):
            break
        train.append(name)
        for g in by_group[name]:
            if len(g.codes) == 1:
                counts[g.codes[0]] += 1
    chosen = set(train)
    exemplars = []
    warnings = []
    for code in codes:
        candidates = [g for name in train for g in by_group[name] if g.codes == (code,)]
        candidates.sort(key=lambda g: g.id)
        picks = rng.permutation(len(candidates))[:k]
        exemplars.append((code, tuple(candidates[i].id for i in sorted(picks))))
        if len(candidates) < k:
            warnings.append(f"seed {seed}: code '{code}' has {len(candidates)} fragments in the training "
                            f"{group_by}s, fewer than {k}")
    split = Split(seed, tuple(sorted(chosen)), tuple(g for g in groups if g not in chosen), tuple(exemplars))
    return split, tuple(warnings)


def draw_pilot(gold: Sequence[GoldFragment], codes: Sequence[str], documents: int, seed: int,
               group_by: str = "document") -> tuple[Split, tuple[str, ...]]:
    """Pilot coding: the first ``documents`` of the groups shuffled as :func:`draw_split` shuffles
    them, coded whole: every fragment with one code in them is an exemplar of it.

    Returns:
        The split and warnings (codes with no fragment in the pilot documents).
    """
    groups = sorted({_group(g, group_by) for g in gold})
    rng = np.random.default_rng(seed)
    shuffled = [groups[i] for i in rng.permutation(len(groups))]
    train = shuffled[:max(1, min(documents, len(groups) - 1))]
    chosen = set(train)
    exemplars, warnings = [], []
    for code in codes:
        ids = tuple(sorted(g.id for g in gold if _group(g, group_by) in chosen and g.codes == (code,)))
        exemplars.append((code, ids))
        if not ids:
            warnings.append(f"seed {seed}: code '{code}' has no fragment in the {len(train)} pilot {group_by}s")
    split = Split(seed, tuple(sorted(chosen)), tuple(g for g in groups if g not in chosen), tuple(exemplars))
    return split, tuple(warnings)


# -- running it --------------------------------------------------------------------------------

def headline(codebook: Codebook, options: EvaluateOptions) -> tuple[tuple[str, ...], MatchSettings]:
    """The methods ``options`` name (``all``, ``baselines`` and ``suggest`` expanded; none:
    ``suggest``) and the settings of the headline, resolved exactly as ``suggest`` resolves them
    for the same model, codebook and options (:func:`nlp_coder.match.settings.resolve_settings`)."""
    settings = resolve_settings(codebook, options.model, threshold=options.threshold, margin=options.margin,
                                top_k=options.top_k, definition_weight=options.definition_weight,
                                counterexample_weight=options.counterexample_weight)
    as_suggest = SUGGEST_METHODS[settings.method]
    methods: list[str] = []
    every = (*FROZEN_METHODS, *(LEARNER_METHODS if options.learn else ()))
    named = options.methods or (("suggest", as_suggest, "frozen-lr-chars", "fine-tuned") if options.learn
                                else ("suggest",))
    for name in named:
        expand = {"all": every, "baselines": (as_suggest, *BASELINES),
                  "suggest": ("learned",) if options.learn else (as_suggest,)}.get(name, (name,))
        methods.extend(m for m in expand if m not in methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError(f"unknown method(s) {', '.join(unknown)}", "--method",
                         f"Use one of: {', '.join(METHODS)} (or all, baselines, suggest)", code="E130")
    return tuple(methods), settings_for(methods[0], settings, codebook, options.model)


def settings_for(method: str, settings: MatchSettings, codebook: Codebook, model: str) -> MatchSettings:
    """The settings ``method`` decides with: a method that works as ``suggest --method M`` does
    (:data:`~nlp_coder.analyses.methods.SCORING_OF`) gets what the resolver gives ``M``; the
    others keep ``settings``."""
    scoring = SCORING_OF.get(method)
    return settings if scoring is None or scoring == settings.method else with_method(settings, codebook, model,
                                                                                        scoring)


def _check_options(options: EvaluateOptions, gold: Sequence[GoldFragment]) -> None:
    if options.exemplars_from_gold < 0 or options.repeat < 1 or options.pilot_documents < 0 or options.max_test < 0:
        raise InputError("--exemplars-from-gold and --pilot-documents must be 0 or more and --repeat at least 1",
                         code="E130")
    if options.exemplars_from_gold and options.pilot_documents:
        raise InputError("--exemplars-from-gold and --pilot-documents are two protocols: give one",
                         "--pilot-documents", code="E130")
    if options.group_by not in {"document", "speaker"}:
        raise InputError(f"cannot group by '{options.group_by}'", "--group-by", "Use document or speaker")
    if options.exemplars_from_gold or options.pilot_documents:
        groups = {_group(g, options.group_by) for g in gold}
        if len(groups) < 2 or "" in groups:
            raise InputError(f"the few-shot protocol needs a '{options.group_by}' for every fragment and at "
                             f"least two {options.group_by}s", "--group-by",
                             f"Add a {options.group_by} column to the gold file", code="E121")


def gold_documents(gold: Sequence[GoldFragment], group_by: str = "document") -> tuple[Document, ...]:
    """One document per ``group_by`` group of ``gold`` (in order of first appearance), its
    fragments' text one per line."""
    texts: dict[str, list[str]] = {}
    for g in gold:
        texts.setdefault(_group(g, group_by), []).append(g.text)
    return tuple(Document(name, "\n".join(lines), "<gold>", "gold", ()) for name, lines in texts.items())


def build_inputs(codebook: Codebook, codes: Sequence[str], drawn: dict[str, Sequence[GoldFragment]],
                 test_gold: Sequence[GoldFragment], lookup: Encode, settings: MatchSettings,
                 seed: int = 0, trainable: Callable[[], Any] | None = None,
                 finetune: Any = None, train_gold: Sequence[GoldFragment] = (),
                 group_by: str = "document", ensemble: Any = None) -> tuple[TrainingSet, Test]:
    """The inputs of a method: the codebook with ``drawn`` exemplars added to each code's own,
    and the test fragments. ``lookup`` gives the vectors (zero rows for empty texts).
    ``train_gold``, the fragments of the training documents, become the training set's
    documents (one per ``group_by`` group, its fragments' text in order)."""
    book = replace(codebook, codes=tuple(
        replace(c, examples=tuple(dict.fromkeys([*c.examples, *(g.text for g in drawn.get(c.id, ()))])))
        for c in codebook.codes))
    ex_texts: list[str] = []
    ex_labels: list[int] = []
    ex_ctx: list[str] = []
    for j, code in enumerate(codes):
        own = codebook.code(code).examples
        ex_texts.extend(own)
        ex_ctx.extend([""] * len(own))
        ex_labels.extend([j] * len(own))
        for g in drawn.get(code, ()):
            ex_texts.append(g.text)
            ex_ctx.append(g.context)
            ex_labels.append(j)
    training = TrainingSet(
        codebook=book, codes=tuple(codes), texts=tuple(ex_texts), labels=np.array(ex_labels, dtype=np.int64),
        vectors=lookup(ex_texts), contexts=lookup(ex_ctx),
        definitions=lookup([definition_text(codebook.code(c)) for c in codes]),
        settings=settings, encode=lookup, seed=seed, trainable=trainable, finetune=finetune,
        documents=gold_documents(train_gold, group_by), ensemble=ensemble,
    )
    test = Test(tuple(g.text for g in test_gold), lookup([g.text for g in test_gold]),
                lookup([g.context for g in test_gold]))
    return training, test


def evaluate_gold(gold: Sequence[GoldFragment], codebook: Codebook, encode: Encode,
                  options: EvaluateOptions | None = None, *, model_id: str = "", source: str = "<gold>",
                  trainable: Callable[[], Any] | None = None, ensemble: Any = None) -> EvaluationReport:
    """Evaluate every method of ``options`` on gold fragments (the library entry point).

    Args:
        gold: fragments with human codes.
        codebook: a validated codebook whose codable main codes the gold uses.
        encode: texts -> unit vectors (cache it: every text is asked for once per call).
        options: methods and protocol.
        model_id: recorded in the report.
        trainable: gives the sentence-transformers model the learner's methods fine-tune (called
            when they need it); None: ``fine-tuned`` cannot run and ``learned`` compares the
            frozen methods only.
        ensemble: the ensemble model (:class:`~nlp_coder.learn.choose.Ensemble`) ``learned``
            compares the ``ensemble-*`` methods on; None: they are not compared.
    """
    options = options or EvaluateOptions()
    _check_options(options, gold)
    codes = evaluated_codes(codebook, gold)
    methods, settings = headline(codebook, options)
    per_method = {m: settings_for(m, settings, codebook, options.model) for m in methods}
    texts = list(dict.fromkeys([*(g.text for g in gold), *(g.context for g in gold if g.context),
                                *codebook_texts(codebook)]))
    matrix = encode(texts)
    row = {t: i for i, t in enumerate(texts)}
    dims = matrix.shape[1]
    zero = np.zeros(dims, dtype=np.float32)

    more: dict[str, np.ndarray] = {}  # texts the learner derives (e.g. with spaces collapsed)

    def vec(text: str) -> np.ndarray:
        return (matrix[row[text]] if text in row else more[text]) if text else zero

    def lookup(items: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(items) if t and t not in row and t not in more]
        if missing:
            more.update(zip(missing, encode(missing)))
        return np.stack([vec(t) for t in items]) if items else np.zeros((0, dims), dtype=np.float32)

    names = {c.id: c.name for c in codebook.codes}
    by_id = {g.id: g for g in gold}
    runs: dict[str, list[Metrics]] = {m: [] for m in methods}
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    splits: list[Split] = []
    warnings: list[str] = []
    notes: list[str] = []
    repeats = options.repeat if options.exemplars_from_gold or options.pilot_documents else 1
    for r in range(repeats):
        seed = options.seed + r
        if options.exemplars_from_gold or options.pilot_documents:
            if options.pilot_documents:
                split, short = draw_pilot(gold, codes, options.pilot_documents, seed, options.group_by)
            else:
                split, short = draw_split(gold, codes, options.exemplars_from_gold, seed, options.group_by,
                                          options.max_train_fraction)
            warnings.extend(short)
            splits.append(split)
            drawn = {code: tuple(by_id[i] for i in ids) for code, ids in split.exemplars}
            held_out, trained_on = set(split.test_documents), set(split.train_documents)
            test_gold = [g for g in gold if _group(g, options.group_by) in held_out]
            train_gold = [g for g in gold if _group(g, options.group_by) in trained_on]
        else:
            drawn, test_gold, train_gold = {}, list(gold), []
        if options.max_test and len(test_gold) > options.max_test:
            keep = np.sort(np.random.default_rng(seed).choice(len(test_gold), options.max_test, replace=False))
            notes.append(f"seed {seed}: scored a random {options.max_test} of the {len(test_gold)} test fragments")
            test_gold = [test_gold[i] for i in keep]
        training, test = build_inputs(codebook, codes, drawn, test_gold, lookup, settings, seed, trainable,
                                      options.finetune, train_gold, options.group_by, ensemble)
        truth = [g.codes for g in test_gold]
        for method in methods:
            start = time.perf_counter()
            prediction = METHODS[method](replace(training, settings=per_method[method]), test)
            seconds[method].append(round(time.perf_counter() - start, 3))
            notes.extend(prediction.notes)
            runs[method].append(score_predictions(truth, prediction, codes, names))
    results = tuple(aggregate(m, runs[m], seconds[m]) for m in methods)
    n = round(float(np.mean([r.n for r in results[0].runs])))
    return EvaluationReport(
        gold=source, gold_sha256=gold_sha256(gold), codebook=codebook.name, codebook_sha256=codebook.sha256,
        model=model_id, options=options, settings=settings, codes=codes, methods=results,
        splits=tuple(splits), n=n, warnings=tuple(dict.fromkeys(warnings)), notes=tuple(notes),
    )


def evaluate(gold_path: str | Path, codebook_path: str | Path, store_path: str | Path,
             options: EvaluateOptions | None = None, *, embedder=None) -> EvaluationReport:  # type: ignore[no-untyped-def]
    """Evaluate suggestions for a gold file against a codebook, caching vectors in the store."""
    from nlp_coder.embed.models import load_embedder
    from nlp_coder.store import Store, embed_cached

    options = options or EvaluateOptions()
    gold = read_gold(gold_path)
    codebook = load_codebook(codebook_path)
    evaluated_codes(codebook, gold)  # fail on unknown codes before loading a model
    _check_options(options, gold)
    methods, _ = headline(codebook, options)  # fail on an unknown method before loading a model
    registered = embedder is None
    embedder = embedder or load_embedder(options.model)
    trainable = _trainable(options.model) if any(m in LEARNER_METHODS for m in methods) else None
    if trainable is None and options.learn and not options.methods:  # the default columns, for a frozen model
        options = replace(options, methods=tuple(m for m in methods if m != "fine-tuned"))
    with Store(store_path) as store:
        def encode(texts: Sequence[str]) -> np.ndarray:
            return embed_cached(store, embedder, list(texts))[0]

        ensemble, why_not = None, None
        if registered and "learned" in methods:  # the model's ensemble, for the learner's ensemble-* methods
            from nlp_coder.learn.artefact import find_ensemble

            ensemble, why_not = find_ensemble(options.model, lambda ens: (
                lambda texts: embed_cached(store, ens, list(texts))[0]))
        report = evaluate_gold(gold, codebook, encode, options, model_id=embedder.model_id, source=str(gold_path),
                               trainable=trainable, ensemble=ensemble)
    return replace(report, warnings=(*report.warnings, why_not)) if why_not else report


def _trainable(model: str) -> Callable[[], Any] | None:
    """Loads ``model``'s weights to fine-tune, once, when first asked; None for a model that is
    not a transformer (the learner then compares the frozen methods only)."""
    from nlp_coder.embed.registry import load_registry

    if load_registry().model(model).kind != "sentence-transformers":
        return None
    loaded: list[Any] = []

    def load() -> Any:
        if not loaded:
            from nlp_coder.learn.finetune import load_trainable

            loaded.append(load_trainable(model))
        return loaded[0]

    return load


# -- rendering ---------------------------------------------------------------------------------

def report_dict(report: EvaluationReport) -> dict[str, object]:
    """The JSON form (keys documented in ``docs/commands/evaluate.md``)."""
    head = report.methods[0]
    out: dict[str, object] = {"method": head.method, "n": report.n}
    out.update(dict(head.mean))
    out["spread"] = dict(head.spread)
    out["per_code"] = [_code_dict(c) for c in head.per_code]
    out["methods"] = {m.method: {**dict(m.mean), "spread": dict(m.spread)} for m in report.methods}
    out["runs"] = [
        {"seed": report.splits[i].seed if report.splits else None, "n": r.n, "n_coded": r.n_coded,
         "n_uncoded": r.n_uncoded,
         "methods": {m.method: dict(m.runs[i].values) for m in report.methods}}
        for i, r in enumerate(head.runs)
    ]
    out["notes"] = list(report.notes)
    out["protocol"] = {
        "exemplars_from_gold": report.options.exemplars_from_gold,
        "pilot_documents": report.options.pilot_documents,
        "learn": report.options.learn,
        "max_test": report.options.max_test,
        "seed": report.options.seed,
        "group_by": report.options.group_by if report.splits else None,
        "repeat": len(head.runs),
        "max_train_fraction": report.options.max_train_fraction if report.options.exemplars_from_gold else None,
        "splits": [{"seed": s.seed, "train": list(s.train_documents), "test": len(s.test_documents),
                    "exemplars": {c: len(ids) for c, ids in s.exemplars}} for s in report.splits],
    }
    out["settings"] = {"threshold": report.settings.threshold, "margin": report.settings.margin,
                       "top_k": report.settings.top_k, "definition_weight": report.settings.definition_weight,
                       "counterexample_weight": report.settings.counterexample_weight}
    out.update(model=report.model, codebook=report.codebook, codebook_sha256=report.codebook_sha256,
               gold=report.gold, gold_sha256=report.gold_sha256, codes=list(report.codes),
               warnings=list(report.warnings))
    return out


def _code_dict(c: CodeMetrics) -> dict[str, object]:
    return {"code": c.code, "name": c.name, "precision": c.precision, "recall": c.recall, "f1": c.f1,
            "support": c.support, "predicted": c.predicted, "alpha": c.alpha}


def _fmt(value: float | None, spread: float | None = None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if not spread else f"{value:.3f} ± {spread:.3f}"


def render_report(report: EvaluationReport, fmt: str) -> str:
    """``json`` (sorted keys, two-space indent) or ``md`` (tables)."""
    if fmt == "json":
        return json.dumps(report_dict(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt != "md":
        raise InputError(f"unknown format '{fmt}'", "--format", "Use json or md", code="E130")
    head = report.methods[0]
    lines = [f"# Evaluation: {report.codebook}", ""]
    protocol = "codebook as is"
    if report.options.exemplars_from_gold:
        protocol = (f"{report.options.exemplars_from_gold} exemplars per code drawn from training "
                    f"{report.options.group_by}s, evaluated on the others; mean ± sd over {len(head.runs)} "
                    f"seed(s) from {report.options.seed}")
    elif report.options.pilot_documents:
        protocol = (f"pilot coding of {report.options.pilot_documents} whole {report.options.group_by}(s), "
                    f"evaluated on the others; mean ± sd over {len(head.runs)} seed(s) from {report.options.seed}")
    lines += [f"- gold: {report.n} fragments per run ({protocol})",
              f"- model: {report.model}; threshold {report.settings.threshold}, margin {report.settings.margin}",
              ""]
    lines += ["| method | macro-F1 | micro-F1 | κ | α | accuracy | top-3 recall | coverage | uncoded P | uncoded R |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for m in report.methods:
        mean, sd = dict(m.mean), dict(m.spread)
        cells = [_fmt(mean[k], sd[k]) for k in ("macro_f1", "micro_f1", "kappa", "alpha", "accuracy",
                                                 "top3_recall", "coverage", "uncoded_precision", "uncoded_recall")]
        lines.append(f"| {m.method} | " + " | ".join(cells) + " |")
    lines += ["", f"Per code ({head.method}, top-1):", "",
              "| code | precision | recall | F1 | support | predicted | α (binary) |", "|---|---|---|---|---|---|---|"]
    for c in head.per_code:
        lines.append(f"| {c.code} | {c.precision:.3f} | {c.recall:.3f} | {c.f1:.3f} | {c.support} | "
                     f"{c.predicted} | {_fmt(c.alpha)} |")
    if report.notes:
        lines += ["", "Notes:", ""] + [f"- {w}" for w in report.notes]
    if report.warnings:
        lines += ["", "Warnings:", ""] + [f"- {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"
