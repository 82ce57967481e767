"""Choose how to code with a codebook, by grouped cross-validation on its labelled passages.

The methods compared (:data:`METHODS`):

* ``frozen-centroid``: what ``suggest`` does today (:mod:`nlp_coder.match` with
  :func:`~nlp_coder.match.settings.resolve_settings`), the training passages as the exemplars;
* ``frozen-lr-chars``: a logistic regression (class-balanced, C = 10) on the frozen embedding
  joined with character 2-5-grams (TF-IDF, ``char_wb``): the form the embedding blurs;
* ``ensemble-centroid`` and ``ensemble-lr-chars``: the same two on the vectors of the
  registered ensemble that holds the model (``minilm-use``: MiniLM and the Universal Sentence
  Encoder side by side), where it is installed (:class:`Ensemble`); it encodes at about 0.85
  times MiniLM's speed on ONNX Runtime (``benchmarks/learned.py``), which a method chosen from
  it costs ``suggest`` too;
* ``fine-tuned``: the embedding model tuned on the training passages
  (:mod:`nlp_coder.learn.finetune`), then the same logistic regression on its vectors.

The groups (documents, exemplars found in one document of the corpus with that document, the
other exemplars in groups of their own, see :mod:`nlp_coder.learn.data`) are shuffled with the
seed and dealt into at most :data:`MAX_FOLDS` folds; each fold is held out in turn and every
method is trained on the rest, so no passage is scored by a model that saw its document. The
top-1 code of every held-out passage is compared with its label: Cohen's kappa and accuracy over
all of them, precision and recall per code. A learned method replaces the frozen default only
when it beats it clearly: by more than :data:`NOISE_Z` standard errors of the difference
between the two kappas (the labelled passages resampled, :func:`gain_standard_error`; with the
40-60 exemplars of a small codebook one standard error is about 0.07-0.12, and a gain of that
size went either way on the held-out documents of the shared data sets). Among those that do,
the highest kappa is chosen (a tie goes to the simpler: the order of :data:`METHODS`); when
none does, the report and
``suggest`` say that the frozen default was kept, and why. When most passages come from no
known document (exemplars found in no document of the corpus, or in several), held-out
exemplars share their documents' wording with the training ones, which flatters the learned
methods (measured: character n-grams won this cross-validation on every seed of the Manifesto
set and lost on its held-out manifestos); a learned method must then win by :data:`MIN_GAIN`
more, and the report says so. With too few labels (fewer than :data:`MIN_GROUPS` groups, fewer than two
codes, or a code with fewer than :data:`MIN_PER_CODE` passages) nothing is compared and the
frozen default is kept, with a warning saying why.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from nlp_coder.learn.calibrate import Calibration
from nlp_coder.learn.data import LabelledSet
from nlp_coder.learn.finetune import DEFAULT_SETTINGS, FinetuneRun, FinetuneSettings
from nlp_coder.records import Codebook, MatchSettings

Encode = Callable[[Sequence[str]], np.ndarray]

FROZEN = "frozen-centroid"
ENSEMBLE_METHODS = ("ensemble-centroid", "ensemble-lr-chars")
"""The methods on the vectors of the ensemble model (:class:`Ensemble`)."""
METHODS = (FROZEN, "frozen-lr-chars", *ENSEMBLE_METHODS, "fine-tuned")
"""The methods compared, simplest first (ties go to the earlier)."""
MIN_GROUPS = 2
MIN_PER_CODE = 3
MAX_FOLDS = 5
HEAD_C = 10.0
MIN_GAIN = 0.05
NOISE_Z = 1.645
"""How many standard errors of the gain a learned method must beat the frozen default by: a
one-sided test at the 5 % level. With one standard error, as first, one method of four that
gained +0.10 ± 0.07 in the cross-validation lost 0.04 on held-out documents (AnnoMI client
talk, K = 32); several methods compared each get a chance to win by noise."""
"""How much higher a learned method's kappa must be than the frozen default's when most
passages come from no known document (:attr:`~nlp_coder.learn.data.LabelledSet.mostly_ungrouped`)."""


@dataclass(frozen=True)
class Ensemble:
    """The registered ensemble model the ``ensemble-*`` methods use: its registry name, its
    embedder (what ``suggest`` encodes with when one of them is chosen) and texts to its unit
    vectors (through the store's cache)."""

    name: str
    embedder: Any
    encode: Encode

    @property
    def weights_sha256(self) -> str:
        return str(self.embedder.weights_sha256)

    def settings(self, codebook: Codebook, settings: MatchSettings) -> MatchSettings:
        """``settings`` for this model: its own default threshold and margin, values set by an
        option kept (:func:`~nlp_coder.match.settings.with_method`)."""
        from nlp_coder.match.settings import with_method

        return with_method(settings, codebook, self.name, settings.method)


@dataclass(frozen=True)
class CodeScore:
    """Cross-validated precision and recall of one code's top-1 suggestions."""

    code: str
    passages: int
    precision: float
    recall: float


@dataclass(frozen=True)
class MethodScore:
    """One method's cross-validated agreement with the labels."""

    method: str
    kappa: float | None
    accuracy: float | None
    codes: tuple[CodeScore, ...]
    fit_seconds: float
    note: str | None = None
    """Why the method was not run, or what limited it (e.g. the time budget)."""
    tuning: tuple[FinetuneRun, ...] = ()
    """The fine-tuning of each fold (``fine-tuned`` only)."""
    gain_se: float | None = None
    """The standard error of this method's kappa minus the frozen default's, the same passages
    resampled for both (:func:`gain_standard_error`); None for the frozen default itself."""


@dataclass(frozen=True)
class LearnReport:
    """What :func:`nlp_coder.learn.learn` found: the method chosen and the evidence."""

    choice: str
    methods: tuple[MethodScore, ...]
    codes: tuple[str, ...]
    passages: int
    pilot_passages: int
    groups: int
    folds: tuple[tuple[str, ...], ...]
    """The groups held out by each fold."""
    too_few: bool
    warnings: tuple[str, ...]
    model: str
    seed: int
    settings: FinetuneSettings
    calibration: Calibration | None = None
    """The chosen method's per-code thresholds and margin (:mod:`nlp_coder.learn.calibrate`)."""
    artefact: str | None = None
    """Where the learned model is kept, relative to the store's folder (``learned/<key>``)."""
    exemplars_located: tuple[int, int] = (0, 0)
    """The codebook's exemplars found in one document of the corpus (grouped by it), of all of them."""
    min_gain: float = 0.0
    """How much a learned method's kappa had to beat the frozen default's (:data:`MIN_GAIN`
    when most passages come from no known document, else 0)."""

    def method(self, name: str) -> MethodScore | None:
        return next((m for m in self.methods if m.method == name), None)

    def as_dict(self, *, timings: bool = True) -> dict[str, Any]:
        """The report as plain data (the JSON of ``nlp-coder learn --out``); without timings it
        is the same for the same inputs and seed on the same CPU."""
        out = asdict(self)
        out["folds"] = [list(f) for f in self.folds]
        if not timings:
            for m in out["methods"]:
                m.pop("fit_seconds")
                for run in m["tuning"]:
                    run.pop("seconds")
        return out


def check_enough(labelled: LabelledSet) -> str | None:
    """Why the labels are too few to compare methods, or None."""
    counts = labelled.counts()
    if len(labelled.codes) < 2:
        return "fewer than two codes have labelled passages"
    if len(labelled.groups) < MIN_GROUPS:
        return f"the passages come from fewer than {MIN_GROUPS} groups"
    short = [c for c, n in counts.items() if n < MIN_PER_CODE]
    if short:
        return (f"{len(short)} codes have fewer than {MIN_PER_CODE} labelled passages "
                f"({', '.join(short[:5])}{' ...' if len(short) > 5 else ''})")
    return None


def make_folds(groups: Sequence[str], seed: int) -> tuple[tuple[str, ...], ...]:
    """The groups shuffled with ``seed`` and dealt into ``min(MAX_FOLDS, len(groups))`` folds."""
    ordered = sorted(groups)
    shuffled = [ordered[i] for i in np.random.default_rng(seed).permutation(len(ordered))]
    count = min(MAX_FOLDS, len(ordered))
    return tuple(tuple(sorted(shuffled[i::count])) for i in range(count))


def _top1(scores: np.ndarray) -> np.ndarray:
    from nlp_coder.match.decide import ranked_codes

    return ranked_codes(scores)[:, 0]


def centroid_fold(codebook: Codebook, settings: MatchSettings, codes: Sequence[str], train_texts: Sequence[str],
                  train_labels: np.ndarray, test_vectors: np.ndarray, encode: Encode) -> np.ndarray:
    """Top-1 code indices of the default matcher with the training passages as exemplars."""
    return _top1(centroid_scores(codebook, settings, codes, train_texts, train_labels, test_vectors, encode))


def centroid_scores(codebook: Codebook, settings: MatchSettings, codes: Sequence[str], train_texts: Sequence[str],
                    train_labels: np.ndarray, test_vectors: np.ndarray, encode: Encode) -> np.ndarray:
    """The default matcher's scores of ``codes`` (columns) for the test vectors, the training
    passages as the exemplars."""
    from nlp_coder.match import build_matcher

    examples: dict[str, list[str]] = {c: [] for c in codes}
    for text, label in zip(train_texts, train_labels):
        examples[codes[label]].append(text)
    book = replace(codebook, codes=tuple(
        replace(c, examples=tuple(dict.fromkeys(examples[c.id]))) if c.id in examples else c
        for c in codebook.codes))
    matcher = build_matcher(settings).fit(book, encode)
    columns = [matcher.codes_.index(c) for c in codes]
    return np.asarray(matcher.decision_function(test_vectors)[:, columns], dtype=np.float64)


def head_probabilities(x_train: Any, y_train: np.ndarray, x_test: Any, k: int) -> np.ndarray:
    """Probabilities of the ``k`` codes (columns) for ``x_test`` by the head (class-balanced
    logistic regression, C = :data:`HEAD_C`) fitted on the training rows; 0 for a code absent
    from them."""
    from sklearn.linear_model import LogisticRegression

    present = np.unique(y_train)
    scores = np.zeros((x_test.shape[0], k))
    if len(present) < 2:
        scores[:, present[0] if len(present) else 0] = 1.0
        return scores
    model = LogisticRegression(C=HEAD_C, class_weight="balanced", max_iter=2000)
    model.fit(x_train, y_train)
    scores[:, model.classes_] = model.predict_proba(x_test)
    return scores


def _head(x_train: Any, y_train: np.ndarray, x_test: Any, k: int) -> np.ndarray:
    return _top1(head_probabilities(x_train, y_train, x_test, k))


def char_features(train_texts: Sequence[str], train_vectors: np.ndarray, test_texts: Sequence[str],
                  test_vectors: np.ndarray) -> tuple[Any, Any, Any]:
    """[embedding, character 2-5-grams] of the training and test rows, and the fitted TF-IDF."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    x_train = hstack([csr_matrix(train_vectors), chars.fit_transform(train_texts)]).tocsr()
    x_test = hstack([csr_matrix(test_vectors), chars.transform(test_texts)]).tocsr()
    return x_train, x_test, chars


def lr_chars_fold(train_texts: Sequence[str], train_vectors: np.ndarray, train_labels: np.ndarray,
                  test_texts: Sequence[str], test_vectors: np.ndarray, k: int) -> np.ndarray:
    """Top-1 code indices of the logistic regression on [embedding, character n-grams]."""
    return _top1(lr_chars_scores(train_texts, train_vectors, train_labels, test_texts, test_vectors, k))


def lr_chars_scores(train_texts: Sequence[str], train_vectors: np.ndarray, train_labels: np.ndarray,
                    test_texts: Sequence[str], test_vectors: np.ndarray, k: int) -> np.ndarray:
    """The probabilities of the logistic regression on [embedding, character n-grams]."""
    x_train, x_test, _ = char_features(train_texts, train_vectors, test_texts, test_vectors)
    return head_probabilities(x_train, train_labels, x_test, k)


def finetuned_fold(trainable: Any, train_texts: Sequence[str], train_labels: np.ndarray, test_texts: Sequence[str],
                   negatives: Sequence[str], k: int, settings: FinetuneSettings, seed: int,
                   time_budget: float | None, progress: bool) -> tuple[np.ndarray, FinetuneRun]:
    """Top-1 code indices of the head on the vectors of a model tuned on the training passages."""
    scores, run = finetuned_scores(trainable, train_texts, train_labels, test_texts, negatives, k, settings, seed,
                                   time_budget, progress)
    return _top1(scores), run


def finetuned_scores(trainable: Any, train_texts: Sequence[str], train_labels: np.ndarray, test_texts: Sequence[str],
                     negatives: Sequence[str], k: int, settings: FinetuneSettings, seed: int,
                     time_budget: float | None, progress: bool) -> tuple[np.ndarray, FinetuneRun]:
    """The head's probabilities on the vectors of a model tuned on the training passages."""
    from nlp_coder.learn.finetune import encode, finetune

    tuned, run = finetune(trainable, train_texts, train_labels, negatives=negatives, settings=settings, seed=seed,
                          time_budget=time_budget, progress=progress)
    vectors = encode(tuned, [*train_texts, *test_texts], seed=seed, threads=settings.threads)
    n = len(train_texts)
    return head_probabilities(vectors[:n], train_labels, vectors[n:], k), run


def _scores(method: str, truth: np.ndarray, predicted: np.ndarray, codes: Sequence[str], seconds: float,
            note: str | None, tuning: tuple[FinetuneRun, ...] = ()) -> MethodScore:
    from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

    labels = list(range(len(codes)))
    kappa = float(cohen_kappa_score(truth, predicted, labels=labels)) if len(np.unique(truth)) > 1 else None
    if kappa is not None and not math.isfinite(kappa):
        kappa = None
    precision, recall, _, support = precision_recall_fscore_support(truth, predicted, labels=labels,
                                                                    zero_division=0)
    per_code = tuple(CodeScore(c, int(support[j]), round(float(precision[j]), 4), round(float(recall[j]), 4))
                     for j, c in enumerate(codes))
    return MethodScore(method, None if kappa is None else round(kappa, 4), round(float((truth == predicted).mean()), 4),
                       per_code, round(seconds, 3), note, tuning)


BOOTSTRAP = 500
"""Resamples of the labelled passages behind :func:`gain_standard_error`."""


def gain_standard_error(truth: np.ndarray, predicted: np.ndarray, frozen: np.ndarray, k: int,
                        seed: int = 0) -> float | None:
    """The standard error of kappa(``predicted``) minus kappa(``frozen``) against ``truth``: the
    passages are resampled with replacement (:data:`BOOTSTRAP` times, the same draw for both
    methods) and the spread of the difference is taken. None with fewer than two passages."""
    from sklearn.metrics import cohen_kappa_score

    n = len(truth)
    if n < 2:
        return None
    labels = list(range(k))
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(BOOTSTRAP):
        draw = rng.integers(0, n, n)
        if len(np.unique(truth[draw])) < 2:
            continue
        gains.append(cohen_kappa_score(truth[draw], predicted[draw], labels=labels)
                     - cohen_kappa_score(truth[draw], frozen[draw], labels=labels))
    finite = [g for g in gains if math.isfinite(g)]
    return round(float(np.std(finite)), 4) if len(finite) > 1 else None


def cross_validate(labelled: LabelledSet, codebook: Codebook, settings: MatchSettings, encode: Encode, *,
                   methods: Sequence[str] = METHODS, trainable: Callable[[], Any] | None = None,
                   finetune_settings: FinetuneSettings = DEFAULT_SETTINGS, seed: int = 0,
                   time_budget: float | None = None, progress: bool = False,
                   oof: dict[str, np.ndarray] | None = None, ensemble: Ensemble | None = None,
                   ) -> tuple[tuple[MethodScore, ...], tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """Every method's out-of-fold scores, the folds, and warnings.

    Args:
        encode: texts to frozen unit vectors.
        trainable: gives the sentence-transformers model to fine-tune (called once, only when
            ``fine-tuned`` is among ``methods``); None: that method is not run.
        ensemble: the ensemble model of the ``ensemble-*`` methods; None: they are not run.
        time_budget: seconds for all the fine-tuning: each fold gets an equal share of what is left.
        oof: when given, filled with each method's out-of-fold scores: one row per passage, then
            one per unlabelled passage (:attr:`LabelledSet.unlabelled`, scored by the fold that
            holds out its group), one column per code (:mod:`nlp_coder.learn.calibrate` reads them).
    """
    codes = labelled.codes
    index = {c: j for j, c in enumerate(codes)}
    unlabelled = labelled.unlabelled if oof is not None else ()
    texts = [p.text for p in labelled.passages]
    n = len(texts)
    every_text = texts + [p.text for p in unlabelled]
    truth = np.array([index[p.code] for p in labelled.passages], dtype=np.int64)
    groups = np.array([p.group for p in (*labelled.passages, *unlabelled)])
    negatives = [t for t, _ in labelled.negatives]
    folds = make_folds(labelled.groups, seed)
    vectors = encode(every_text)
    both = None
    if ensemble is not None and any(m in ENSEMBLE_METHODS for m in methods):
        both = ensemble.encode(every_text)
    warnings: list[str] = []
    base = None
    if "fine-tuned" in methods and trainable is not None:
        base = trainable()
    results = []
    predictions: dict[str, np.ndarray] = {}
    for method in methods:
        predicted = np.full(n, -1, dtype=np.int64)
        scored = np.zeros((len(every_text), len(codes)))
        seconds, runs, note = 0.0, [], None
        if method == "fine-tuned" and base is None:
            results.append(MethodScore(method, None, None, (), 0.0, "no model to fine-tune"))
            continue
        if method in ENSEMBLE_METHODS and (ensemble is None or both is None):
            results.append(MethodScore(method, None, None, (), 0.0, "no ensemble model"))
            continue
        for number, held_out in enumerate(folds):
            test = np.isin(groups, held_out)
            train = ~test
            train[n:] = False  # unlabelled passages are scored, never trained on
            train_texts = [every_text[i] for i in np.flatnonzero(train)]
            test_texts = [every_text[i] for i in np.flatnonzero(test)]
            train_labels = truth[train[:n]]
            start = time.perf_counter()
            if method == FROZEN:
                scored[test] = centroid_scores(codebook, settings, codes, train_texts, train_labels, vectors[test],
                                               encode)
            elif method == "frozen-lr-chars":
                scored[test] = lr_chars_scores(train_texts, vectors[train], train_labels, test_texts, vectors[test],
                                               len(codes))
            elif method == "ensemble-centroid":
                assert ensemble is not None and both is not None
                scored[test] = centroid_scores(codebook, ensemble.settings(codebook, settings), codes, train_texts,
                                               train_labels, both[test], ensemble.encode)
            elif method == "ensemble-lr-chars":
                assert both is not None
                scored[test] = lr_chars_scores(train_texts, both[train], train_labels, test_texts, both[test],
                                               len(codes))
            elif method == "fine-tuned":
                share = None
                if time_budget is not None:
                    share = max(0.0, time_budget - seconds) / (len(folds) - number)
                scored[test], run = finetuned_scores(base, train_texts, train_labels, test_texts, negatives,
                                                     len(codes), finetune_settings, seed, share, progress)
                runs.append(run)
            else:
                from nlp_coder.errors import InputError

                raise InputError(f"unknown method '{method}'", "methods", f"Use {', '.join(METHODS)}", code="E130")
            seconds += time.perf_counter() - start
        scored[~np.isin(groups, [g for fold in folds for g in fold])] = np.nan  # a group with no passage
        predicted = _top1(scored[:n]) if n else predicted
        predictions[method] = predicted
        if oof is not None:
            oof[method] = scored
        if runs and any(r.stopped_early for r in runs):
            note = (f"the time budget stopped the fine-tuning after {min(r.steps for r in runs)} of "
                    f"{runs[0].planned} steps in some folds")
            warnings.append(f"fine-tuned: {note}")
        results.append(_scores(method, truth, predicted, codes, seconds, note, tuple(runs)))
    if FROZEN in predictions:
        results = [r if r.method == FROZEN or r.method not in predictions or r.kappa is None else
                   replace(r, gain_se=gain_standard_error(truth, predictions[r.method], predictions[FROZEN],
                                                          len(codes), seed))
                   for r in results]
    return tuple(results), folds, tuple(warnings)


def min_gain_for(labelled: LabelledSet) -> float:
    """:data:`MIN_GAIN` when most of ``labelled``'s passages come from no known document, else 0."""
    return MIN_GAIN if labelled.mostly_ungrouped else 0.0


def best_method(scores: Sequence[MethodScore], min_gain: float = 0.0) -> str:
    """The method with the highest kappa (ties: the earlier in :data:`METHODS`) among the frozen
    default and the learned methods that beat it clearly: a learned method's kappa must be above
    0 (better than chance) and above the frozen default's by more than ``min_gain`` plus
    :data:`NOISE_Z` standard errors of that difference (:attr:`MethodScore.gain_se`: a gain
    within the noise of the labelled passages is no evidence). The frozen default when none has
    a kappa."""
    frozen = next((s.kappa for s in scores if s.method == FROZEN and s.kappa is not None), None)

    def eligible(s: MethodScore) -> bool:
        if s.kappa is None:
            return False
        if s.method == FROZEN or frozen is None:
            return s.method == FROZEN or s.kappa > 0
        return (s.kappa > 0 and s.kappa - frozen > min_gain + NOISE_Z * (s.gain_se or 0.0) - 1e-9
                and s.kappa > frozen)

    ranked = [s for s in scores if eligible(s)]
    if not ranked:
        return FROZEN
    order = {m: i for i, m in enumerate(METHODS)}
    return min(ranked, key=lambda s: (-s.kappa, order.get(s.method, len(order)))).method  # type: ignore[operator]


def gain_text(method: MethodScore, frozen: MethodScore | None) -> str | None:
    """A learned method's kappa gain over the frozen default with its standard error
    (``+0.07 ± 0.08``); None when either is unknown."""
    if method.gain_se is None or method.kappa is None or frozen is None or frozen.kappa is None:
        return None
    return f"{method.kappa - frozen.kappa:+.2f} ± {method.gain_se:.2f}"


def kept_reason(report: LearnReport) -> str | None:
    """Why the frozen default was kept (None: a learned method was chosen, or none was compared),
    with the best learned method's kappa."""
    others = [m for m in report.methods if m.method != FROZEN and m.kappa is not None]
    if report.choice != FROZEN or not others:
        return None
    best = max(others, key=lambda m: m.kappa)  # type: ignore[arg-type, return-value]
    said = f"{best.method} {best.kappa:.2f}"
    frozen = report.method(FROZEN)
    if frozen is not None and frozen.kappa is not None and best.kappa <= frozen.kappa:  # type: ignore[operator]
        return f"no learned method beat its cross-validated kappa ({said})"
    if best.kappa <= 0 or frozen is None or frozen.kappa is None:  # type: ignore[operator]
        return f"no learned method agreed better than chance ({said})"
    gain = best.kappa - frozen.kappa  # type: ignore[operator]
    noise = f"{best.gain_se:.2f}" if best.gain_se is not None else "0"
    extra = (f" plus {report.min_gain:g}, as asked when most passages come from no known document"
             if report.min_gain else "")
    return (f"no learned method beat its cross-validated kappa by more than the noise of {report.passages} passages "
            f"({NOISE_Z:g} standard errors){extra} ({said}: {gain:+.2f}, standard error {noise}; more labelled "
            "passages, such as pilot coding, narrow it)")


def exemplars_line(located: tuple[int, int]) -> tuple[str, ...]:
    """The report's line on where the codebook's exemplars were found (none without exemplars)."""
    found, exemplars = located
    if not exemplars:
        return ()
    if found == exemplars:
        return (f"exemplars: all {exemplars} found in one document of the corpus each, and held out with it",)
    rest = "dealt into codebook groups, as from no known document"
    if not found:
        return (f"exemplars: none of the {exemplars} found in one document of the corpus: {rest} (an exemplar quoted "
                "word for word from a single document is held out with it)",)
    return (f"exemplars: {found} of {exemplars} found in one document of the corpus and held out with it; the other "
            f"{exemplars - found} (in no document, or in several) {rest}",)


def report_text(report: LearnReport) -> str:
    """The report as ``nlp-coder learn`` prints it."""
    pilot = f" ({report.pilot_passages} from pilot coding or review)" if report.pilot_passages else ""
    lines = [f"{report.passages} labelled passages{pilot} of {len(report.codes)} codes in {report.groups} groups"]
    if report.too_few:
        lines.append(f"choice: {report.choice} (the default; too few labels to compare methods)")
        return "\n".join(lines)
    lines.extend(exemplars_line(report.exemplars_located))
    lines.append(f"cross-validated by group, {len(report.folds)} folds (model {report.model}, seed {report.seed}):")
    frozen = report.method(FROZEN)
    lines.append(f"  {'method':<18} {'kappa':>6} {'vs frozen':>13} {'accuracy':>8} {'fit':>8}")
    for m in report.methods:
        if m.kappa is None and m.accuracy is None:
            lines.append(f"  {m.method:<18} {'-':>6} {'-':>13} {'-':>8} {'-':>8}  ({m.note})")
            continue
        kappa = f"{m.kappa:.2f}" if m.kappa is not None else "-"
        versus = gain_text(m, frozen) or "-"
        note = f"  ({m.note})" if m.note else ""
        lines.append(f"  {m.method:<18} {kappa:>6} {versus:>13} {m.accuracy:>8.2f} {m.fit_seconds:>7.1f}s{note}")
    why = kept_reason(report)
    if why is not None:
        lines.append(f"choice: {report.choice} (the frozen default kept: {why})")
    else:
        lines.append(f"choice: {report.choice} (highest cross-validated kappa)")
    chosen = report.method(report.choice)
    if chosen is not None and chosen.codes:
        width = max(len(c.code) for c in chosen.codes)
        lines.append(f"what to expect from these suggestions ({report.choice}, cross-validated top-1 code):")
        calibrated = {c.code: c for c in report.calibration.codes} if report.calibration is not None else {}
        extra = f" {'threshold':>9} {'at it: precision':>16} {'recall':>6}" if calibrated else ""
        lines.append(f"  {'code':<{width}} {'passages':>8} {'precision':>9} {'recall':>6}{extra}")
        for c in chosen.codes:
            line = f"  {c.code:<{width}} {c.passages:>8} {c.precision:>9.2f} {c.recall:>6.2f}"
            at = calibrated.get(c.code)
            if at is not None:
                precision = "-" if at.precision is None else f"{at.precision:.2f}"
                recall = "-" if at.recall is None else f"{at.recall:.2f}"
                threshold = "codebook" if at.status == "thin" else (
                    "never" if at.threshold is None else f"{at.threshold:.4f}")
                line += f" {threshold:>9} {precision:>16} {recall:>6}{'' if at.reached else '  (best reached)'}"
            lines.append(line)
    if report.calibration is not None:
        cal = report.calibration
        lines.append(f"thresholds aim at precision {cal.target_precision:g}; margin {cal.margin:g}; out of fold "
                     f"{cal.uncoded_share:.0%} of {cal.passages} passages left uncoded, "
                     f"{cal.overlap_share:.0%} overlap"
                     + (" (codes not calibrated counted as uncoded)" if cal.uncalibrated else ""))
        for c in cal.codes:
            if c.status != "calibrated":
                state = "never coded" if c.status == "missed" else "not calibrated, keeps the codebook's threshold"
                lines.append(f"  {c.code}: {state}: {c.why}")
    if report.artefact is not None:
        lines.append(f"learned model kept in {report.artefact} next to the store (suggest --learn reuses it)")
    return "\n".join(lines)
