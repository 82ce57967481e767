"""How fragile are the codebook's category boundaries? (``nlp-coder sensitivity``)

On the main codes of a coded corpus it measures:

* **threshold and margin sweep**: fragments coded / overlap / uncoded, and fragments per code,
  as the threshold and the margin move around their values;
* **exemplar stability**: each fragment's label (its best code, or ``uncoded``) recomputed with
  each exemplar left out in turn, and over bootstrap resamples of each code's exemplars: the
  share of runs that keep the label, per fragment and per code;
* **a second model** (optional): how often its labels agree with the default model's (Cohen's κ);
* **confusability**: per pair of codes, the cosine similarity of their exemplar centroids, and
  how often they compete for the same fragment (they are the fragment's two best codes, the best
  is above its threshold, and the second is within twice the margin of it);
* **boundary fragments**: for each competing pair, the fragments with the smallest gap between
  the two;
* **recommendations** with their evidence: sharpen a boundary, merge, split, add exemplars;
* **a recommended threshold** (:func:`recommend_threshold`), from the exemplars' own scores: the
  median over codes of the score that 90 % of a code's exemplars reach when each is left out of
  its code (``suggest --threshold auto`` uses it).

Everything is computed from vectors already in the project store's cache, with fixed seeds: the
same input gives the same report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nlp_coder.errors import InputError
from nlp_coder.match.decide import best_and_rivals, ranked_codes
from nlp_coder.match.matcher import CodebookMatcher, build_matcher
from nlp_coder.records import Code, Codebook, FragmentResult, MatchSettings

if TYPE_CHECKING:
    from nlp_coder.embed.protocol import Embedder
    from nlp_coder.run import CodebookSource, CorpusSource, StoreSource, SuggestOptions, SuggestResult
    from nlp_coder.segment import SegmentOptions

UNCODED = -1


@dataclass(frozen=True)
class SweepPoint:
    threshold: float
    margin: float
    coded: int
    overlap: int
    uncoded: int
    per_code: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class CodeStability:
    code: str
    fragments: int
    leave_one_out: float | None
    bootstrap: float | None
    within_similarity: float | None


@dataclass(frozen=True)
class PairConfusion:
    a: str
    b: str
    centroid_similarity: float | None
    competing: int
    boundary: tuple[tuple[str, float], ...]  # (fragment id, gap between the two scores)


@dataclass(frozen=True)
class Recommendation:
    action: str  # sharpen | merge | split | add-exemplars | fragile-threshold
    codes: tuple[str, ...]
    evidence: str


@dataclass(frozen=True)
class ModelComparison:
    model: str
    agreement: float
    kappa: float


@dataclass(frozen=True)
class ThresholdAdvice:
    """A threshold fitted to the codebook, with its evidence.

    Attributes:
        threshold: the recommended threshold (two decimals).
        quantile: the share of each code's exemplars left below their code's threshold.
        per_code: each code's leave-one-out threshold (codes with at least 3 exemplars).
        evidence: one sentence saying how it was found.
    """

    threshold: float
    quantile: float
    per_code: tuple[tuple[str, float], ...]
    evidence: str

    @property
    def origin(self) -> str:
        """How a run records where the threshold came from (``settings_from``)."""
        return f"auto (exemplar leave-one-out, q={self.quantile:g}, median of {len(self.per_code)} codes)"


def recommend_threshold(codebook: Codebook, lookup: dict[str, np.ndarray], settings: MatchSettings,
                        quantile: float | None = None) -> ThresholdAdvice | None:
    """The threshold at which the codebook's own exemplars would be coded.

    Each exemplar of a main code is scored against its code's centroid without it, blended with
    the definition as the matcher does (:func:`nlp_coder.analyses.methods.loo_thresholds`); a
    code's threshold is the ``quantile`` of those scores (0.1: 90 % of its exemplars reach it),
    and the recommendation is the median over codes, rounded to two decimals. None when no code
    has three exemplars.

    Args:
        codebook: the codebook.
        lookup: vectors of its texts (exemplars and definitions), as the matcher was fitted on.
        settings: the run's settings (their definition weight).
        quantile: default :data:`nlp_coder.analyses.methods.LOO_QUANTILE`.
    """
    from nlp_coder.analyses.methods import LOO_QUANTILE, TrainingSet, loo_thresholds
    from nlp_coder.match.matcher import definition_text

    quantile = LOO_QUANTILE if quantile is None else quantile
    codes = [codebook.codes[j] for j in _main_codable(codebook) if len(codebook.codes[j].examples) >= 3]
    if not codes:
        return None
    texts = [e for c in codes for e in c.examples]
    dims = len(next(iter(lookup.values())))
    definitions = np.stack([lookup[definition_text(c)] if c.definition else np.zeros(dims, np.float32)
                            for c in codes])
    train = TrainingSet(codebook=codebook, codes=tuple(c.id for c in codes), texts=tuple(texts),
                        labels=np.array([j for j, c in enumerate(codes) for _ in c.examples], dtype=np.int64),
                        vectors=np.stack([lookup[t] for t in texts]), contexts=np.zeros((len(texts), dims)),
                        definitions=definitions, settings=settings,
                        encode=lambda _: np.zeros((0, dims)))
    per_code = loo_thresholds(train, quantile=quantile)
    value = round(float(np.median(list(per_code.values()))), 2)
    evidence = (f"{value:g} is the median over {len(per_code)} codes of the score that {1 - quantile:.0%} of a "
                "code's own exemplars reach when each is left out of its code (leave-one-out, definition "
                f"weight {settings.definition_weight:g})")
    return ThresholdAdvice(value, quantile, tuple((c, round(t, 4)) for c, t in per_code.items()), evidence)


@dataclass(frozen=True)
class Sensitivity:
    threshold: float
    margin: float
    fragments: int
    sweep: tuple[SweepPoint, ...]
    stability: tuple[CodeStability, ...]
    unstable_fragments: tuple[tuple[str, float], ...]
    pairs: tuple[PairConfusion, ...]
    comparison: ModelComparison | None
    recommendations: tuple[Recommendation, ...]
    recommended: ThresholdAdvice | None = None
    """The threshold fitted to the codebook's exemplars (:func:`recommend_threshold`)."""
    at_recommended: tuple[int, int, int] | None = None
    """Fragments coded, overlap and uncoded at the recommended threshold."""
    warnings: tuple[str, ...] = ()
    """What reading the corpus skipped or guessed (the coding run's warnings, in its manifest too)."""


def _main_codable(book: Codebook) -> list[int]:
    return [j for j, c in enumerate(book.codes) if c.facet is None and c.codable]


def labels(matcher: CodebookMatcher, scores: np.ndarray, threshold: float | None = None,
           margin: float | None = None, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Best main code per fragment (a column index, or ``UNCODED``) and whether it is an overlap,
    decided by the matcher's own rule (:func:`~nlp_coder.match.matcher.best_and_rivals`) for any
    threshold and margin, vectorised over fragments. ``order`` may pass
    :func:`main_order` of these scores (it does not depend on the threshold or margin)."""
    book = matcher.codebook_
    cols = np.array(_main_codable(book))
    base = matcher.settings.threshold if threshold is None else threshold
    shift = base - matcher.settings.threshold
    margin = matcher.settings.margin if margin is None else margin
    limits = np.array([(c.threshold if c.threshold is not None else matcher.settings.threshold) + shift
                       for c in (book.codes[j] for j in cols)], dtype=np.float64)
    s = scores[:, cols].astype(np.float64)
    order = ranked_codes(s) if order is None else order
    coded, best, rivals = best_and_rivals(s, s >= limits, order, matcher.related(cols), margin)
    return np.where(coded, cols[best], UNCODED), rivals.any(axis=1)


def main_order(matcher: CodebookMatcher, scores: np.ndarray) -> np.ndarray:
    """The main codes best first per fragment, for :func:`labels`."""
    return ranked_codes(scores[:, np.array(_main_codable(matcher.codebook_))].astype(np.float64))


def _sweep(matcher: CodebookMatcher, scores: np.ndarray, thresholds: Sequence[float],
           margins: Sequence[float]) -> list[SweepPoint]:
    book = matcher.codebook_
    order = main_order(matcher, scores)
    points = []
    for t in thresholds:
        for m in margins:
            best, overlap = labels(matcher, scores, t, m, order)
            per_code = [(book.codes[j].id, int((best == j).sum())) for j in _main_codable(book)]
            points.append(SweepPoint(round(t, 4), round(m, 4), int(((best != UNCODED) & ~overlap).sum()),
                                     int(overlap.sum()), int((best == UNCODED).sum()), tuple(per_code)))
    return points


def _refit(matcher: CodebookMatcher, book: Codebook, vectors: np.ndarray, lookup: dict[str, np.ndarray]) -> np.ndarray:
    refit = build_matcher(matcher.settings).fit(book, lookup)
    return labels(refit, refit.decision_function(vectors))[0]


def _with_examples(book: Codebook, code_id: str, examples: tuple[str, ...]) -> Codebook:
    return replace(book, codes=tuple(replace(c, examples=examples) if c.id == code_id else c for c in book.codes))


def _stability_runs(matcher: CodebookMatcher, vectors: np.ndarray, lookup: dict[str, np.ndarray],
                    bootstrap: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    book = matcher.codebook_
    codable = [book.codes[j] for j in _main_codable(book)]
    leave_one_out = []
    for code in codable:
        if len(code.examples) < 2:
            continue
        for i in range(len(code.examples)):
            kept = code.examples[:i] + code.examples[i + 1:]
            leave_one_out.append(_refit(matcher, _with_examples(book, code.id, kept), vectors, lookup))
    rng = np.random.default_rng(seed)
    resampled = []
    for _ in range(bootstrap):
        variant = book
        for code in codable:
            if code.examples:
                picks = rng.integers(0, len(code.examples), len(code.examples))
                variant = _with_examples(variant, code.id, tuple(code.examples[p] for p in picks))
        resampled.append(_refit(matcher, variant, vectors, lookup))
    return leave_one_out, resampled


def _within(vectors: np.ndarray) -> float | None:
    n = len(vectors)
    if n < 2:
        return None
    sims = vectors @ vectors.T
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def _pairs(matcher: CodebookMatcher, scores: np.ndarray, results: Sequence[FragmentResult],
           lookup: dict[str, np.ndarray], boundary: int) -> list[PairConfusion]:
    book = matcher.codebook_
    cols = _main_codable(book)
    s = scores[:, cols]
    order = np.argsort(-s, axis=1, kind="stable")
    first, second = order[:, 0], order[:, 1] if len(cols) > 1 else order[:, 0]
    rows = np.arange(len(s))
    gap = s[rows, first] - s[rows, second]
    limits = np.array([matcher.threshold_for(book.codes[j]) for j in cols])
    competing = (s[rows, first] >= limits[first]) & (gap <= 2 * matcher.settings.margin)
    centroids = {}
    for j in cols:
        code = book.codes[j]
        if code.examples:
            c = np.stack([lookup[e] for e in code.examples]).mean(axis=0)
            centroids[code.id] = c / (np.linalg.norm(c) or 1.0)
    out = []
    for a, b in combinations(range(len(cols)), 2):
        ida, idb = book.codes[cols[a]].id, book.codes[cols[b]].id
        pair = ((first == a) & (second == b)) | ((first == b) & (second == a))
        # Boundary fragments are the pair's close calls among text a code actually fits.
        where = np.flatnonzero(pair & (s[rows, first] >= limits[first]))
        nearest = sorted(where.tolist(), key=lambda i: (round(float(gap[i]), 6), i))[:boundary]
        sim = float(centroids[ida] @ centroids[idb]) if ida in centroids and idb in centroids else None
        out.append(PairConfusion(
            a=ida, b=idb, centroid_similarity=None if sim is None else round(sim, 4),
            competing=int((pair & competing).sum()),
            boundary=tuple((results[i].fragment.id, round(float(gap[i]), 4)) for i in nearest),
        ))
    out.sort(key=lambda p: (-p.competing, -(p.centroid_similarity or 0.0), p.a, p.b))
    return out


def _recommend(book: Codebook, sweep: list[SweepPoint], base: SweepPoint, stability: list[CodeStability],
               pairs: list[PairConfusion], threshold: float) -> list[Recommendation]:
    out: list[Recommendation] = []
    assigned = dict(base.per_code)
    sharpen = 0  # pairs come most competing first: name the five that matter most
    for p in pairs:
        share = p.competing / max(assigned.get(p.a, 0) + assigned.get(p.b, 0), 1)
        if p.competing >= 3 and p.centroid_similarity is not None and p.centroid_similarity >= 0.75 and share >= 0.2:
            out.append(Recommendation("merge", (p.a, p.b), f"exemplar centroids are {p.centroid_similarity:.2f} "
                                      f"similar and they compete for {p.competing} fragments ({share:.0%} of those "
                                      "coded with either): merge them, or sharpen both definitions"))
        elif p.competing >= max(3, 0.1 * (assigned.get(p.a, 0) + assigned.get(p.b, 0))) and sharpen < 5:
            sharpen += 1
            examples = ", ".join(f for f, _ in p.boundary)
            out.append(Recommendation("sharpen", (p.a, p.b), f"they compete for {p.competing} fragments; the "
                                      f"closest calls are {examples}: sharpen the boundary in both definitions "
                                      "(include/exclude) and add exemplars on each side"))
    withins = [s.within_similarity for s in stability if s.within_similarity is not None]
    median_within = float(np.median(withins)) if withins else None
    for s in stability:
        code = book.code(s.code)
        # Resampling five exemplars with replacement moves any code a lot; only the weakest are news.
        weak = []
        if s.leave_one_out is not None and s.leave_one_out < 0.8:
            weak.append(f"leave-one-out stability {s.leave_one_out:.2f}")
        if s.bootstrap is not None and s.bootstrap < 0.5:
            weak.append(f"bootstrap stability {s.bootstrap:.2f}")
        if len(code.examples) < 3:
            weak.append(f"only {len(code.examples)} exemplar(s)")
        if weak and s.fragments:
            out.append(Recommendation("add-exemplars", (s.code,), f"{'; '.join(weak)} over {s.fragments} "
                                      "fragments: its suggestions hang on single exemplars; add more varied exemplars"))
        if (median_within is not None and s.within_similarity is not None and len(code.examples) >= 4
                and s.within_similarity < median_within - 0.1):
            out.append(Recommendation("split", (s.code,), f"its exemplars are less alike ({s.within_similarity:.2f}) "
                                      f"than those of the median code ({median_within:.2f}): it may hold two themes"))
    for code_id, count in base.per_code:
        around = [dict(p.per_code)[code_id] for p in sweep
                  if p.margin == base.margin and abs(p.threshold - threshold) <= 0.0201]
        if count >= 5 and around and (min(around) == 0 or max(around) >= 2.5 * min(around)):
            out.append(Recommendation("fragile-threshold", (code_id,), f"{code_id} codes between {min(around)} and "
                                      f"{max(around)} fragments as the threshold moves by ±0.02 around {threshold}"))
    return out


def sensitivity(results: Sequence[FragmentResult], vectors: np.ndarray, matcher: CodebookMatcher,
                lookup: dict[str, np.ndarray], *, bootstrap: int = 20, seed: int = 0, boundary: int = 3,
                compare: tuple[str, np.ndarray, CodebookMatcher] | None = None) -> Sensitivity:
    """Measure how the suggestions move with thresholds, exemplars and models.

    Args:
        results: the fragment results of ``matcher`` on ``vectors``.
        vectors: fragment vectors, one row per result.
        matcher: the fitted matcher that produced ``results``.
        lookup: vectors of the codebook's texts (exemplars, definitions, counterexamples).
        bootstrap: resamples of each code's exemplars.
        seed: seed of the bootstrap.
        boundary: boundary fragments listed per pair of codes.
        compare: a second model's name, fragment vectors and fitted matcher.
    """
    book = matcher.codebook_
    threshold, margin = matcher.settings.threshold, matcher.settings.margin
    scores = matcher.decision_function(vectors)
    thresholds = [round(threshold + d, 4) for d in np.arange(-0.1, 0.1001, 0.02)]
    margins = sorted({0.0, 0.01, 0.02, 0.03, 0.05, round(margin, 4)})
    sweep = _sweep(matcher, scores, thresholds, margins)
    base = next(p for p in sweep if p.threshold == round(threshold, 4) and p.margin == round(margin, 4))
    base_labels = labels(matcher, scores)[0]
    loo, boot = _stability_runs(matcher, vectors, lookup, bootstrap, seed)
    keep_loo = np.mean([run == base_labels for run in loo], axis=0) if loo else None
    keep_boot = np.mean([run == base_labels for run in boot], axis=0) if boot else None
    stability = []
    for j in _main_codable(book):
        mine = base_labels == j
        code: Code = book.codes[j]
        stability.append(CodeStability(
            code=code.id,
            fragments=int(mine.sum()),
            leave_one_out=None if keep_loo is None or not mine.any() else round(float(keep_loo[mine].mean()), 4),
            bootstrap=None if keep_boot is None or not mine.any() else round(float(keep_boot[mine].mean()), 4),
            within_similarity=_round(_within(np.stack([lookup[e] for e in code.examples]))) if code.examples else None,
        ))
    overall = keep_boot if keep_boot is not None else keep_loo
    unstable: tuple[tuple[str, float], ...] = ()
    if overall is not None:
        order = sorted((i for i in range(len(results)) if overall[i] < 1.0),
                       key=lambda i: (round(float(overall[i]), 6), i))
        unstable = tuple((results[i].fragment.id, round(float(overall[i]), 4)) for i in order[:20])
    pairs = _pairs(matcher, scores, results, lookup, boundary)
    advice = recommend_threshold(book, lookup, matcher.settings)
    at_advice = None
    if advice is not None:
        best, overlap = labels(matcher, scores, advice.threshold)
        at_advice = (int(((best != UNCODED) & ~overlap).sum()), int(overlap.sum()), int((best == UNCODED).sum()))
    comparison = None
    if compare is not None:
        from sklearn.metrics import cohen_kappa_score

        name, other_vectors, other_matcher = compare
        other = labels(other_matcher, other_matcher.decision_function(other_vectors))[0]
        same = bool((other == base_labels).all())
        kappa = 1.0 if same else float(cohen_kappa_score(base_labels, other))
        comparison = ModelComparison(name, round(float((other == base_labels).mean()), 4),
                                     round(kappa if np.isfinite(kappa) else 0.0, 4))
    return Sensitivity(
        threshold=threshold, margin=margin, fragments=len(results), sweep=tuple(sweep),
        stability=tuple(stability), unstable_fragments=unstable, pairs=tuple(pairs), comparison=comparison,
        recommendations=tuple(_recommend(book, sweep, base, stability, pairs, threshold)),
        recommended=advice, at_recommended=at_advice,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def sensitivity_as_dict(report: Sensitivity) -> dict[str, object]:
    """The report as JSON-ready data (keys: docs/commands/sensitivity.md)."""
    return {
        "threshold": report.threshold,
        "margin": report.margin,
        "fragments": report.fragments,
        "sweep": [{"threshold": p.threshold, "margin": p.margin, "coded": p.coded, "overlap": p.overlap,
                   "uncoded": p.uncoded, "per_code": dict(p.per_code)} for p in report.sweep],
        "stability": [{"code": s.code, "fragments": s.fragments, "leave_one_out": s.leave_one_out,
                       "bootstrap": s.bootstrap, "within_similarity": s.within_similarity} for s in report.stability],
        "unstable_fragments": [{"fragment_id": f, "stability": v} for f, v in report.unstable_fragments],
        "pairs": [{"codes": [p.a, p.b], "centroid_similarity": p.centroid_similarity, "competing": p.competing,
                   "boundary": [{"fragment_id": f, "gap": g} for f, g in p.boundary]} for p in report.pairs],
        "model_comparison": None if report.comparison is None else {
            "model": report.comparison.model, "agreement": report.comparison.agreement,
            "kappa": report.comparison.kappa},
        "recommendations": [{"action": r.action, "codes": list(r.codes), "evidence": r.evidence}
                            for r in report.recommendations],
        "recommended_threshold": None if report.recommended is None else {
            "threshold": report.recommended.threshold, "quantile": report.recommended.quantile,
            "evidence": report.recommended.evidence, "per_code": dict(report.recommended.per_code),
            "coded": report.at_recommended[0] if report.at_recommended else None,
            "overlap": report.at_recommended[1] if report.at_recommended else None,
            "uncoded": report.at_recommended[2] if report.at_recommended else None},
    }


def sensitivity_as_markdown(report: Sensitivity, texts: dict[str, str] | None = None) -> str:
    """A readable report; ``texts`` maps fragment ids to their text for the boundary examples."""
    texts = texts or {}
    t0, m0 = round(report.threshold, 4), round(report.margin, 4)
    lines = ["# Sensitivity of the category boundaries", "",
             f"{report.fragments} fragments, threshold {report.threshold}, margin {report.margin}.", "",
             "## Recommendations", ""]
    lines += [f"- **{r.action}** {', '.join(r.codes)}: {r.evidence}." for r in report.recommendations] or ["- none"]
    lines += ["", "## Recommended threshold", "", threshold_advice_text(report)]
    lines += ["", f"## Threshold sweep (margin {m0})", "", "| threshold | coded | overlap | uncoded |",
              "|---|---|---|---|"]
    lines += [f"| {p.threshold}{' (current)' if p.threshold == t0 else ''} | {p.coded} | {p.overlap} | {p.uncoded} |"
              for p in report.sweep if p.margin == m0]
    lines += ["", f"## Margin sweep (threshold {t0})", "", "| margin | coded | overlap | uncoded |",
              "|---|---|---|---|"]
    lines += [f"| {p.margin}{' (current)' if p.margin == m0 else ''} | {p.coded} | {p.overlap} | {p.uncoded} |"
              for p in report.sweep if p.threshold == t0]
    shown = [p for p in report.sweep if p.margin == m0]
    codes = [c for c, _ in shown[0].per_code] if shown else []
    lines += ["", "## Fragments per code by threshold", "",
              "Fragments whose best code it is (coded or overlap). suggest's summary counts more: it also "
              "counts an overlap's other codes, and a parent includes its children.", "",
              "| code | " + " | ".join(str(p.threshold) for p in shown) + " |", "|---" * (len(shown) + 1) + "|"]
    lines += [f"| {c} | " + " | ".join(str(dict(p.per_code)[c]) for p in shown) + " |" for c in codes]
    lines += ["", "## Exemplar stability", "",
              "Share of runs in which a fragment keeps its label, averaged over the fragments of each code "
              "(leave one exemplar out; bootstrap resamples of the exemplars).", "",
              "| code | fragments | leave-one-out | bootstrap | exemplar similarity |", "|---|---|---|---|---|"]
    lines += [f"| {s.code} | {s.fragments} | {_fmt(s.leave_one_out)} | {_fmt(s.bootstrap)} | "
              f"{_fmt(s.within_similarity)} |"
              for s in report.stability]
    if report.comparison is not None:
        c = report.comparison
        lines += ["", "## Second model", "", f"{c.model}: the same label for {c.agreement:.0%} of fragments "
                  f"(Cohen's κ {c.kappa:.2f})."]
    lines += ["", "## Competing codes", "",
              "| codes | centroid similarity | competing fragments | closest calls |", "|---|---|---|---|"]
    for p in ([p for p in report.pairs if p.competing] or list(report.pairs))[:10]:
        calls = "<br>".join(f"{f} (gap {g}): \"{_short(texts.get(f, ''))}\"" for f, g in p.boundary)
        lines.append(f"| {p.a} / {p.b} | {_fmt(p.centroid_similarity)} | {p.competing} | {calls} |")
    return "\n".join(lines) + "\n"


def threshold_advice_text(report: Sensitivity) -> str:
    """One line: the recommended threshold, its evidence, and what it would change."""
    advice = report.recommended
    if advice is None:
        return "none: no code has the 3 exemplars a recommendation needs"
    text = f"{advice.threshold:g}: {advice.evidence}."
    if report.at_recommended is not None:
        coded, overlap, uncoded = report.at_recommended
        now = next((p for p in report.sweep if p.threshold == round(report.threshold, 4)
                    and p.margin == round(report.margin, 4)), None)
        text += (f" At {advice.threshold:g}: {coded} coded, {overlap} overlap, {uncoded} uncoded of "
                 f"{report.fragments} fragments")
        text += (f" (at {report.threshold:g}: {now.uncoded} uncoded)." if now is not None else ".")
    return text + f" Use it with suggest --threshold auto, or --threshold {advice.threshold:g}."


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def boundary_sensitivity(corpus: CorpusSource, codebook: CodebookSource, store_path: StoreSource, *,
                         segment_options: SegmentOptions | None = None, options: SuggestOptions | None = None,
                         metadata: str | Path | None = None, bootstrap: int = 20, seed: int = 0,
                         compare_model: str | None = None, embedder: Embedder | None = None,
                         progress: bool = False) -> tuple[Sensitivity, dict[str, str]]:
    """Code the corpus, then measure how its suggestions move (``nlp-coder sensitivity``).

    Returns:
        The report, and the text of every fragment by id (for readable output).
    """
    from nlp_coder.embed import load_registry
    from nlp_coder.run import SuggestOptions, open_store, suggest

    for value, name in ((bootstrap, "--bootstrap"), (seed, "--seed")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(f"{name} must be a whole number of 0 or more, not {value!r}", name, code="E130")
    if compare_model is not None:
        load_registry().model(compare_model)  # an unknown model is refused before any work
    options = options or SuggestOptions()
    with open_store(store_path) as store:  # one store for both steps (it may be in memory)
        coded = suggest(corpus, codebook, store, segment_options=segment_options, options=options,
                        metadata=metadata, embedder=embedder, progress=progress)
        report = sensitivity_of(coded, store, options, bootstrap=bootstrap, seed=seed,
                                compare_model=compare_model, progress=progress)
    return replace(report, warnings=tuple(coded.segmentation.warnings)), \
        {f.id: f.text for f in coded.segmentation.fragments}


def sensitivity_of(coded: SuggestResult, store_path: StoreSource, options: SuggestOptions, *, bootstrap: int,
                   seed: int, compare_model: str | None, progress: bool) -> Sensitivity:
    from nlp_coder.embed import load_embedder
    from nlp_coder.match.matcher import build_matcher, codebook_texts
    from nlp_coder.run import match_settings, open_store
    from nlp_coder.store import cache_key, embed_cached, text_sha256

    assert coded.vectors is not None and coded.matcher is not None
    texts = codebook_texts(coded.codebook)
    fragment_texts = [f.text for f in coded.segmentation.fragments]
    compare = None
    with open_store(store_path) as store:
        # suggest() has just cached every codebook text: read them back rather than load the model again.
        key = cache_key(coded.manifest.model, coded.manifest.model_weights_sha256)
        cached = store.cached_vectors(key, [text_sha256(t) for t in texts])
        lookup = {t: cached[text_sha256(t)] for t in texts}
        if compare_model is not None:
            other = load_embedder(compare_model)
            other_lookup = dict(zip(texts, embed_cached(store, other, texts)[0]))
            other_vectors = embed_cached(store, other, fragment_texts, progress=progress)[0]
            # --threshold auto was fitted to this model's vectors: the second model takes its own default
            auto = options.threshold == "auto"
            settings = match_settings(coded.codebook, replace(options, model=compare_model,
                                                              threshold=None if auto else options.threshold))
            other_matcher = build_matcher(settings).fit(coded.codebook, other_lookup)
            compare = (other.model_id, other_vectors, other_matcher)
    return sensitivity(coded.results, coded.vectors, coded.matcher, lookup, bootstrap=bootstrap, seed=seed,
                       compare=compare)
