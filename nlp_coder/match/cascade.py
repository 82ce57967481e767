"""The cascade: score every fragment with the fast static model, then re-score with the full model
only the fragments whose decision is uncertain (``suggest --cascade SHARE``).

A fragment's *uncertainty* under the fast model is, per group (the main codes and each facet),
the smaller of

* the lead of its best code over the runner-up (a small lead: the top code may flip), and
* the distance of its best score from that code's threshold (near it: coded may become uncoded);

the fragment keeps its smallest value over the groups. At most ``share`` of the fragments are
re-scored with the full model (with ``band`` set, only among those whose value is below it), in
two stages:

1. the half of them least certain under the fast model (ties broken by fragment order, so runs
   are deterministic) are embedded by the full model; they and the codebook's texts teach the
   estimate described below;
2. the other fragments get estimated full-model vectors, and the rest of the budget goes to the
   ones whose *estimated* decision is least certain (the same measure, on the full model's
   scores).

The second stage aims the budget at the decisions that are actually kept. The re-scored
fragments take the full model's decision.

The others are not left with the fast model's decision. The re-scored fragments and the
codebook's texts, which both models have now embedded, teach an estimate of the full model's
vectors from the fast model's (:class:`FullEstimate`, learned per chunk of a run): a linear map
(ridge regression), whose errors on those texts are then passed on, by kernel ridge regression
on bags of tokens, to the texts that share their tokens. The other fragments are decided on
their estimated vectors by the full model's matcher, on its scale and thresholds. On the real
data this agrees far better with the full model than the fast model's own decisions, and each
step (two stages, the correction by tokens) narrows the gap (docs/results.md). With fewer than
:data:`MIN_PAIRS` pairs to learn from, the others keep the fast model's decision, made with every
threshold (global and per code) moved by the difference between the two models' registry
thresholds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from nlp_coder.embed.models import load_registry, normalise
from nlp_coder.errors import InputError
from nlp_coder.match.decide import Decisions
from nlp_coder.match.matcher import CodebookMatcher, Scores, build_matcher, codebook_texts
from nlp_coder.records import Codebook, Fragment, MatchSettings

FAST_MODEL = "fast"
DEFAULT_SHARE = 0.3
MIN_PAIRS = 64
"""Fewest (fast, full) vector pairs from which the cascade learns its estimate of the full model."""
RIDGE_ALPHA = 0.1
"""Regularisation of the linear map (chosen on AnnoMI and Manifesto UK: 0.01-0.1 alike, 10 far worse)."""
KERNEL_RIDGE = 0.3
"""Regularisation of the correction of the map by bags of tokens (0.1-1 alike on AnnoMI and
Manifesto UK)."""
FIRST_STAGE = 0.5
"""The part of the re-scoring budget chosen by the fast model's uncertainty; the rest is chosen by
the uncertainty of the decisions on estimated vectors (0.25 was worse on AnnoMI, 0.5 and 0.75 alike)."""


@dataclass(frozen=True)
class CascadeOptions:
    """How much the full model re-scores: at most ``share`` of the fragments (0..1), and with
    ``band`` only those whose uncertainty is below it."""

    share: float = DEFAULT_SHARE
    band: float | None = None
    fast_model: str = FAST_MODEL

    def check(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise InputError(f"cascade share {self.share} is outside [0, 1]", "--cascade")
        if self.band is not None and self.band < 0:
            raise InputError(f"cascade band {self.band} is negative", "--cascade-band", code="E130")


@dataclass(frozen=True)
class CascadeReport:
    """What the cascade did: how many fragments the full model re-scored, how many of those
    changed their main decision (status or codes) against the fast model's, and how many were
    decided through the learned map (the rest of the fast model's fragments kept its decision)."""

    fast_model: str
    full_model: str
    fragments: int
    rescored: int
    changed: int
    threshold_shift: float
    mapped: int = 0

    @property
    def share(self) -> float:
        return self.rescored / self.fragments if self.fragments else 0.0


def threshold_shift(fast_model: str, full_model: str, method: str = "topk") -> float:
    """How far the fast model's thresholds sit from the full model's (their registry defaults
    for the method); 0 when either model is not in the registry (test embedders)."""
    registry = load_registry()
    try:
        return registry.model(fast_model).threshold_for(method) - registry.model(full_model).threshold_for(method)
    except InputError:
        return 0.0


def shifted(codebook: Codebook, settings: MatchSettings, shift: float) -> tuple[Codebook, MatchSettings]:
    """The codebook and settings with every threshold moved by ``shift``."""
    if not shift:
        return codebook, settings
    codes = tuple(replace(c, threshold=None if c.threshold is None else c.threshold + shift) for c in codebook.codes)
    return replace(codebook, codes=codes), replace(settings, threshold=settings.threshold + shift)


def uncertainty(matcher: CodebookMatcher, scored: Scores) -> np.ndarray:
    """Per fragment, how near its fast-model decision is to flipping (smaller: less certain)."""
    scores = scored.score
    n = scores.shape[0]
    out = np.full(n, np.inf, dtype=np.float64)
    book = matcher.codebook_
    groups = [None] + [facet.name for facet in book.facets]
    for group in groups:
        columns = [j for j, cv in enumerate(matcher.code_vectors_) if cv.code.facet == group and cv.code.codable]
        if not columns:
            continue
        sub = scores[:, columns].astype(np.float64)
        thresholds = np.array([matcher.threshold_for(matcher.code_vectors_[j].code) for j in columns])
        order = np.argsort(-sub, axis=1, kind="stable")
        best = sub[np.arange(n), order[:, 0]]
        near_threshold = np.abs(best - thresholds[order[:, 0]])
        if len(columns) > 1:
            lead = best - sub[np.arange(n), order[:, 1]]
            value = np.minimum(lead, near_threshold)
        else:
            value = near_threshold
        out = np.minimum(out, value)
    return out


def select_uncertain(values: np.ndarray, options: CascadeOptions) -> np.ndarray:
    """Indices (ascending) of the fragments to re-score: the least certain, at most ``share`` of
    them, and below ``band`` when set."""
    n = len(values)
    budget = int(np.floor(options.share * n + 1e-9))
    order = np.lexsort((np.arange(n), values))[:budget]
    if options.band is not None:
        order = order[values[order] < options.band]
    return np.sort(order)


def select_in_two_stages(values: np.ndarray, options: CascadeOptions,
                         full_vectors_of: Callable[[np.ndarray], np.ndarray],
                         estimated_uncertainty: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
                         book_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """The fragments to re-score and their full-model vectors, chosen in two stages.

    Args:
        values: each fragment's uncertainty under the fast model (:func:`uncertainty`).
        options: the share and the band (which limits both stages to fragments below it).
        full_vectors_of: full-model vectors of the given fragment rows (called once per stage).
        estimated_uncertainty: ``(rows, their full vectors, other rows)``: the uncertainty
            of the full model's decisions on the other rows' vectors estimated from the
            re-scored ones and the codebook's texts (:class:`FullEstimate`, then
            :func:`uncertainty`).
        book_pairs: how many codebook texts the estimate learns from besides the rows.

    Returns:
        The chosen rows (ascending) and their full-model vectors (same order).
    """
    n = len(values)
    everything = select_uncertain(values, options)  # the whole budget by the fast model's uncertainty
    budget = len(everything)
    least_certain = everything[np.lexsort((everything, values[everything]))]
    first = np.sort(least_certain[:int(np.ceil(budget * FIRST_STAGE))])
    if not budget:
        return first, np.zeros((0, 0), np.float32)
    first_vectors = full_vectors_of(first)
    rest = budget - len(first)
    if not rest:
        return first, first_vectors
    if len(first) + book_pairs < MIN_PAIRS:  # too few pairs to learn from: all by the fast model
        second = np.sort(least_certain[len(first):])
    else:
        candidates = np.setdiff1d(np.arange(n), first)
        if options.band is not None:
            candidates = candidates[values[candidates] < options.band]
        later = estimated_uncertainty(first, first_vectors, candidates)
        second = np.sort(candidates[np.lexsort((candidates, later))[:rest]])
    if not len(second):
        return first, first_vectors
    rows = np.concatenate([first, second])
    order = np.argsort(rows, kind="stable")
    return rows[order], np.concatenate([first_vectors, full_vectors_of(second)])[order]


class FullEstimate:
    """Full-model vectors estimated from fast-model ones, learned from texts both models embedded.

    A linear map (ridge regression) takes the fast vectors into the full model's space; its
    errors on the learning pairs are then spread to other texts by kernel ridge regression on
    bags of tokens (two texts are as alike as the cosine of their binary token bags). The fast
    model is a bag of tokens, so its errors come with its tokens: a text that shares tokens with
    the re-scored texts takes their corrections. On the real data this narrows the gap to the
    full model that the map alone leaves by about 40 % (docs/results.md).

    Args:
        fast, full: the pairs' vectors by the two models (one row per text).
        bags: the pairs' bags of tokens (:func:`unit_bags`).
    """

    def __init__(self, fast: np.ndarray, full: np.ndarray, bags: Any) -> None:
        self._map = _fit_map(fast, full)
        self._bags = bags
        residuals = full.astype(np.float64) - self.mapped(fast)
        kernel = (bags @ bags.T).toarray().astype(np.float64)
        self._weights = np.linalg.solve(kernel + KERNEL_RIDGE * np.eye(len(kernel)), residuals)

    def mapped(self, fast: np.ndarray) -> np.ndarray:
        """The linear map alone (unit length, float32): :func:`map_vectors`."""
        return normalise(self._map.predict(fast.astype(np.float64)))

    def __call__(self, fast: np.ndarray, bags: Any) -> np.ndarray:
        """Estimated full-model vectors (unit length) of texts with these fast vectors and bags."""
        similarity = (bags @ self._bags.T).toarray().astype(np.float64)
        return normalise(self.mapped(fast) + similarity @ self._weights)


def estimate_full(fast_vectors: np.ndarray, bags: Any, book: tuple[np.ndarray, np.ndarray, Any],
                  rows: np.ndarray, vectors: np.ndarray, todo: np.ndarray) -> np.ndarray:
    """Full-model vectors of the fragments ``todo``, learned (:class:`FullEstimate`) from the
    fragments ``rows``, whose full-model ``vectors`` are known, and from the codebook's texts.

    Args:
        fast_vectors, bags: every fragment's fast-model vector and bag of tokens (:func:`unit_bags`).
        book: the codebook's texts' fast-model vectors, full-model vectors and bags.
        rows, vectors: the re-scored fragments and their full-model vectors.
        todo: the fragments to estimate.
    """
    from scipy.sparse import vstack

    book_fast, book_full, book_bags = book
    learned = FullEstimate(np.concatenate([fast_vectors[rows], book_fast]), np.concatenate([vectors, book_full]),
                           vstack([bags[rows], book_bags]).tocsr())
    return learned(fast_vectors[todo], bags[todo])


def unit_bags(bags: Any) -> Any:
    """Bags of tokens (a sparse matrix, one row per text) made binary and of unit length."""
    from scipy.sparse import csr_matrix

    binary = csr_matrix(bags, dtype=np.float64, copy=True)
    binary.sum_duplicates()
    binary.data[:] = 1.0
    norms = np.sqrt(np.asarray(binary.sum(axis=1)).ravel())
    return csr_matrix(binary.multiply(1.0 / np.maximum(norms, 1.0)[:, None]))


def word_bags(texts: Sequence[str]) -> Any:
    """Bags of words (scikit-learn's hashing of lower-cased words), for a fast model that has no
    bags of its own (:meth:`~nlp_coder.embed.models.StaticEmbedder.bags` has)."""
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(n_features=2 ** 20, binary=True, norm=None, alternate_sign=False,
                             token_pattern=r"(?u)\b\w+\b").transform(list(texts))


def cascade_predict(fragments: Sequence[Fragment], codebook: Codebook, settings: MatchSettings, *,
                    fast_vectors: np.ndarray, fast_codebook_vectors: dict[str, np.ndarray],
                    full_encode, fast_model: str, full_model: str,  # type: ignore[no-untyped-def]
                    options: CascadeOptions, fast_bags: Callable[[Sequence[str]], Any] | None = None,
                    ) -> tuple[Decisions, CascadeReport, CodebookMatcher, np.ndarray]:
    """Decide every fragment with the fast model, re-decide the uncertain ones (chosen in two
    stages) with the full model, and the others on full-model vectors estimated from the fast
    model's (:class:`FullEstimate`).

    Args:
        fragments: the fragments, in order; ``fast_vectors`` holds one row per fragment.
        codebook, settings: as for the full model (thresholds are shifted for the fast one).
        fast_codebook_vectors: fast-model vectors of :func:`~nlp_coder.match.matcher.codebook_texts`.
        full_encode: ``(fragment texts, codebook texts) -> (fragment vectors, codebook vectors)``
            with the full model; called once per stage of :func:`select_in_two_stages`, on the
            selected fragments only (and not at all when none is selected).
        fast_model, full_model: model ids (for the threshold shift and the report).
        fast_bags: the fast model's bags of tokens of texts (``StaticEmbedder.bags``);
            :func:`word_bags` when not given.

    Returns:
        The decisions (one row per fragment), the report, the matcher that decided the
        unselected fragments, and the vectors it decided them on (one row per fragment;
        full-model vectors where known).
    """
    options.check()
    shift = threshold_shift(fast_model, full_model, settings.method)
    fast_book, fast_settings = shifted(codebook, settings, shift)
    book_texts = codebook_texts(codebook)
    fast = build_matcher(fast_settings).fit(fast_book, fast_codebook_vectors)
    fast_scored = fast.score(fast_vectors)
    fast_book_vectors = np.stack([fast_codebook_vectors[t] for t in book_texts])
    full: CodebookMatcher | None = None
    full_book_vectors = np.zeros((0, 0), np.float32)

    def full_vectors_of(rows: np.ndarray) -> np.ndarray:
        nonlocal full, full_book_vectors
        vectors, full_book_vectors = full_encode([fragments[i].text for i in rows], book_texts)
        if full is None:
            lookup = dict(zip(book_texts, full_book_vectors))
            # The fast matcher's codebook has shifted thresholds: give the full matcher the original.
            full = build_matcher(settings).fit(codebook, lookup)
        return vectors

    bags_of = fast_bags or word_bags
    fragment_bags = unit_bags(bags_of([f.text for f in fragments]))
    book_bags = unit_bags(bags_of(book_texts))

    def estimate(rows: np.ndarray, vectors: np.ndarray, todo: np.ndarray) -> np.ndarray:
        return estimate_full(fast_vectors, fragment_bags, (fast_book_vectors, full_book_vectors, book_bags),
                             rows, vectors, todo)

    def estimated_uncertainty(rows: np.ndarray, vectors: np.ndarray, todo: np.ndarray) -> np.ndarray:
        assert full is not None
        return uncertainty(full, full.score(estimate(rows, vectors, todo)))

    chosen, full_vectors = select_in_two_stages(uncertainty(fast, fast_scored), options, full_vectors_of,
                                                estimated_uncertainty, len(book_texts))
    kept = np.setdiff1d(np.arange(len(fragments)), chosen)
    parts: list[tuple[np.ndarray, Decisions]] = []
    matcher, vectors, changed = fast, fast_vectors, 0
    if len(chosen):
        assert full is not None
        subset = [fragments[i] for i in chosen]
        before = fast.decide(fast_vectors[chosen], subset, scored=_rows(fast_scored, chosen))
        after = full.decide(full_vectors, subset)
        # A changed main decision: another status or other codes (picks: status, chosen, shown).
        changed = sum(old[0][:2] != new[0][:2] for old, new in zip(before.picks, after.picks))
        parts.append((chosen, after))
        if len(chosen) + len(book_texts) >= MIN_PAIRS and len(kept):
            vectors = np.zeros((len(fragments), full_vectors.shape[1]), dtype=np.float32)
            vectors[chosen], vectors[kept] = full_vectors, estimate(chosen, full_vectors, kept)
            matcher = full
    if len(kept):
        scored = _rows(fast_scored, kept) if matcher is fast else None
        parts.append((kept, matcher.decide(vectors[kept], [fragments[i] for i in kept], scored=scored)))
    report = CascadeReport(fast_model=fast_model, full_model=full_model, fragments=len(fragments),
                           rescored=int(len(chosen)), changed=changed, threshold_shift=round(shift, 6),
                           mapped=int(len(kept)) if matcher is not fast else 0)
    return Decisions.join(parts), report, matcher, vectors


def map_vectors(fast: np.ndarray, full: np.ndarray, todo: np.ndarray) -> np.ndarray:
    """``todo`` (fast-model vectors) mapped into the full model's space by a ridge regression
    fitted on the pairs ``fast`` -> ``full``, normalised to unit length: the linear part of
    :class:`FullEstimate` alone."""
    return normalise(_fit_map(fast, full).predict(todo.astype(np.float64)))


@dataclass(frozen=True)
class RidgeMap:
    """A linear map with an intercept, fitted by ridge regression (:func:`_fit_map`)."""

    coef: np.ndarray  # (input dimensions, output dimensions)
    intercept: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef + self.intercept


def _fit_map(fast: np.ndarray, full: np.ndarray) -> RidgeMap:
    """Ridge regression of ``full`` on ``fast`` with an intercept (penalty ``RIDGE_ALPHA``), in
    closed form on centred data: what scikit-learn's ``Ridge`` computes (a test compares them),
    without importing ``sklearn.linear_model``, which costs 1-2 s in every cascade run."""
    x, y = fast.astype(np.float64), full.astype(np.float64)
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - x_mean, y - y_mean
    coef = np.linalg.solve(xc.T @ xc + RIDGE_ALPHA * np.eye(x.shape[1]), xc.T @ yc)
    return RidgeMap(coef, y_mean - x_mean @ coef)


def _rows(scored: Scores, rows: np.ndarray) -> Scores:
    return Scores(scored.score[rows], scored.nearest[rows], scored.nearest_similarity[rows],
                  scored.definition_similarity[rows])
