"""Match fragment vectors against a codebook and decide coded / overlap / uncoded.

A code's score for a fragment combines

* its exemplar part: the cosine similarity to the normalised mean of its exemplars
  (:class:`CentroidMatcher`, method ``centroid``, the default), or the mean cosine similarity to
  its ``top_k`` nearest exemplars (:class:`CodebookMatcher`, method ``topk``),
* the cosine similarity to its definition (``name. definition``), weighted by
  ``definition_weight`` (0.5 for ``centroid``, 0.25 for ``topk``), and
* a penalty when the fragment is nearer one of the code's counterexamples than to any of its
  exemplars: ``counterexample_weight`` times the difference.

A code without exemplars is scored on its definition alone. A container code (``codable:
false``) gets the best score of its descendants; it is reported as a roll-up, never suggested.

Per group (the main codes, and each facet on its own), a fragment is

* ``coded`` when exactly one code is at or above its threshold, or the best code leads every
  other code above threshold by more than the margin;
* ``overlap`` when two or more codes are above threshold within the margin of the best (a code
  and its own ancestor never compete);
* ``uncoded`` when no code reaches its threshold.

The matcher follows the scikit-learn estimator pattern: settings in ``__init__``, learned state
(ending in ``_``) in :meth:`CodebookMatcher.fit`, then :meth:`decision_function` and
:meth:`predict` on fragment vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nlp_coder.codebook import descendants
from nlp_coder.errors import InputError
from nlp_coder.records import (
    DEFAULT_METHOD,
    METHODS,
    Code,
    Codebook,
    Decision,
    Facet,
    Fragment,
    FragmentResult,
    MatchSettings,
    Suggestion,
)

Encode = Callable[[Sequence[str]], np.ndarray]
_CHUNK = 4096


@dataclass(frozen=True)
class Scores:
    """Per fragment (rows) and code (columns, codebook order): the combined score, the index of
    the nearest exemplar within the code's examples (-1 if none), its cosine similarity, and the
    cosine similarity to the code's definition (NaN where a code has none)."""

    score: np.ndarray
    nearest: np.ndarray
    nearest_similarity: np.ndarray
    definition_similarity: np.ndarray


@dataclass(frozen=True)
class _CodeVectors:
    code: Code
    examples: np.ndarray  # (n_examples, dims)
    definition: np.ndarray | None  # (dims,)
    counterexamples: np.ndarray  # (n_counter, dims)
    # Rows of the matcher's ``matrix_`` (every codebook text once) holding the vectors above.
    example_rows: tuple[int, ...] = ()
    definition_row: int | None = None
    counterexample_rows: tuple[int, ...] = ()


_Row = tuple[list[float], list[float], list[int], list[float], list[float]]
"""One fragment's row of :class:`_Columns`: raw score, rounded score, nearest exemplar, its
rounded similarity, rounded definition similarity (lists over codes)."""


@dataclass(frozen=True)
class _Columns:
    """:class:`Scores` as nested Python lists, rounded for output where shown."""

    raw: list[list[float]]
    score: list[list[float]]
    nearest: list[list[int]]
    nearest_similarity: list[list[float]]
    definition_similarity: list[list[float]]


def definition_text(code: Code) -> str:
    """The text embedded for a code's definition."""
    return f"{code.name}. {code.definition}".strip() if code.definition else ""


def codebook_texts(codebook: Codebook) -> list[str]:
    """Every distinct text the matcher embeds for a codebook, in codebook order."""
    texts: list[str] = []
    for code in codebook.codes:
        texts.extend(code.examples)
        texts.extend(code.counterexamples)
        if code.definition:
            texts.append(definition_text(code))
    return list(dict.fromkeys(texts))


class CodebookMatcher:
    """Scores fragments against every code of a codebook and decides per group.

    Args:
        settings: threshold, margin and scoring weights.
    """

    def __init__(self, settings: MatchSettings) -> None:
        self.settings = settings

    def fit(self, codebook: Codebook, encode: Encode) -> CodebookMatcher:
        """Embed the codebook's exemplars, definitions and counterexamples.

        Args:
            codebook: a validated codebook.
            encode: turns texts into unit-length vectors (the same model as the fragments).
        """
        unique = codebook_texts(codebook)
        matrix = np.asarray(encode(unique), dtype=np.float32) if unique else np.zeros((0, 0), dtype=np.float32)
        row = {text: i for i, text in enumerate(unique)}
        dims = matrix.shape[1] if matrix.size else 0

        def stack(items: Sequence[str]) -> np.ndarray:
            if not items:
                return np.zeros((0, dims), dtype=np.float32)
            return matrix[[row[t] for t in items]]

        self.codebook_ = codebook
        self.code_vectors_ = tuple(
            _CodeVectors(
                code=code,
                examples=stack(code.examples),
                definition=matrix[row[definition_text(code)]] if code.definition else None,
                counterexamples=stack(code.counterexamples),
                example_rows=tuple(row[t] for t in code.examples),
                definition_row=row[definition_text(code)] if code.definition else None,
                counterexample_rows=tuple(row[t] for t in code.counterexamples),
            )
            for code in codebook.codes
        )
        self.matrix_ = matrix
        self.codes_ = tuple(code.id for code in codebook.codes)
        self.facets_: dict[str, Facet] = {f.name: f for f in codebook.facets}
        self.lineage_ = tuple(set(codebook.ancestors(code_id)) | set(descendants(codebook, code_id))
                              for code_id in self.codes_)
        return self

    def with_settings(self, settings: MatchSettings) -> CodebookMatcher:
        """The same fitted matcher with other settings (threshold, margin, weights): no refit."""
        clone = type(self)(settings)
        clone.__dict__.update({k: v for k, v in self.__dict__.items() if k.endswith("_")})
        return clone

    def decision_function(self, vectors: np.ndarray) -> np.ndarray:
        """Scores of every code (columns, codebook order) for every fragment vector (rows)."""
        return self.score(vectors).score

    def score(self, vectors: np.ndarray) -> Scores:
        """Scores with their evidence (nearest exemplar, definition similarity)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        n, k = vectors.shape[0], len(self.code_vectors_)
        scores = np.zeros((n, k), dtype=np.float32)
        nearest = np.full((n, k), -1, dtype=np.int64)
        nearest_sim = np.full((n, k), np.nan, dtype=np.float32)
        definition_sim = np.full((n, k), np.nan, dtype=np.float32)
        weight = self.settings.definition_weight
        for lo in range(0, n, _CHUNK):
            x = vectors[lo:lo + _CHUNK]
            # One product with every codebook text at once: many small products are far slower.
            every = x @ self.matrix_.T if self.matrix_.size else np.zeros((len(x), 0), dtype=np.float32)
            for j, cv in enumerate(self.code_vectors_):
                if not cv.code.codable:
                    continue
                best_positive = None
                ex_score = None
                if cv.example_rows:
                    sims = every[:, cv.example_rows]
                    ex_score = self._exemplar_score(x, sims, cv.examples)
                    nearest[lo:lo + len(x), j] = sims.argmax(axis=1)
                    best_positive = sims.max(axis=1)
                    nearest_sim[lo:lo + len(x), j] = best_positive
                def_score = None
                if cv.definition_row is not None:
                    def_score = every[:, cv.definition_row]
                    definition_sim[lo:lo + len(x), j] = def_score
                if ex_score is not None and def_score is not None:
                    score = (1 - weight) * ex_score + weight * def_score
                else:
                    score = ex_score if ex_score is not None else def_score
                    best_positive = best_positive if best_positive is not None else def_score
                if cv.counterexample_rows and best_positive is not None:
                    worst = every[:, cv.counterexample_rows].max(axis=1)
                    score = score - self.settings.counterexample_weight * np.maximum(0.0, worst - best_positive)
                scores[lo:lo + len(x), j] = score
        self._roll_up(scores)
        return Scores(scores, nearest, nearest_sim, definition_sim)

    def _exemplar_score(self, x: np.ndarray, sims: np.ndarray, examples: np.ndarray) -> np.ndarray:
        """The exemplar part of a code's score: the mean of the ``top_k`` highest similarities."""
        top = min(self.settings.top_k, sims.shape[1])
        if top < sims.shape[1]:  # the top_k largest, by a partial sort
            sims = np.partition(sims, -top, axis=1)[:, -top:]
        return np.sort(sims, axis=1).mean(axis=1)  # sorted: the mean never depends on their order

    def _roll_up(self, scores: np.ndarray) -> None:
        index = {code_id: j for j, code_id in enumerate(self.codes_)}
        children: dict[str, list[int]] = {}
        for cv in self.code_vectors_:
            if cv.code.parent is not None:
                children.setdefault(cv.code.parent, []).append(index[cv.code.id])

        def rolled(code_id: str) -> np.ndarray:
            j = index[code_id]
            own = [scores[:, j]] if self.code_vectors_[j].code.codable else []
            parts = own + [rolled(self.codes_[c]) for c in children.get(code_id, [])]
            return np.max(np.stack(parts), axis=0)

        for cv in self.code_vectors_:
            if not cv.code.codable:
                scores[:, index[cv.code.id]] = rolled(cv.code.id)

    def predict(self, vectors: np.ndarray, fragments: Sequence[Fragment],
                scored: Scores | None = None) -> tuple[FragmentResult, ...]:
        """A decision for the main codes and for each facet of every fragment.

        ``scored`` may pass scores already computed by :meth:`score` for these vectors.
        """
        scored = scored if scored is not None else self.score(vectors)
        groups = [None] + [facet.name for facet in self.codebook_.facets]
        # Rank, round and convert once for the whole matrix; the per-fragment loop below then
        # works on plain Python lists (numpy scalars are slow one at a time).
        raw = scored.score.astype(np.float64)
        ranked_by_group = {}
        for g in groups:
            members = np.array([j for j, cv in enumerate(self.code_vectors_)
                                if cv.code.facet == g and cv.code.codable], dtype=np.int64)
            # Best first; ties broken by codebook order so the output never depends on float noise.
            order = np.argsort(-np.round(raw[:, members], 6), axis=1, kind="stable") if members.size else None
            ranked_by_group[g] = members[order].tolist() if order is not None else [[] for _ in fragments]
        columns = _Columns(
            raw=raw.tolist(),
            score=np.round(raw, 4).tolist(),
            nearest=scored.nearest.tolist(),
            nearest_similarity=np.round(scored.nearest_similarity.astype(np.float64), 4).tolist(),
            definition_similarity=np.round(scored.definition_similarity.astype(np.float64), 4).tolist(),
        )
        limits = [self.threshold_for(cv.code) for cv in self.code_vectors_]
        margins = {g: self.margin_for(g) for g in groups}
        facets = groups[1:]
        results = []
        for i, fragment in enumerate(fragments):
            row = (columns.raw[i], columns.score[i], columns.nearest[i], columns.nearest_similarity[i],
                   columns.definition_similarity[i])
            results.append(FragmentResult(
                fragment=fragment,
                decision=self._decide(row, ranked_by_group[None][i], limits, margins[None]),
                facets=tuple((g, self._decide(row, ranked_by_group[g][i], limits, margins[g])) for g in facets),
            ))
        return tuple(results)

    def threshold_for(self, code: Code) -> float:
        """The code's own threshold, else its facet's, else the global one."""
        if code.threshold is not None:
            return code.threshold
        facet = self.facets_.get(code.facet) if code.facet is not None else None
        if facet is not None and facet.threshold is not None:
            return facet.threshold
        return self.settings.threshold

    def margin_for(self, facet: str | None) -> float:
        """The facet's margin, else the global one (main codes always use the global one)."""
        spec = self.facets_.get(facet) if facet is not None else None
        return spec.margin if spec is not None and spec.margin is not None else self.settings.margin

    def _decide(self, row: _Row, ranked: list[int], limits: list[float], margin: float) -> Decision:
        raw = row[0]
        above = [j for j in ranked if raw[j] >= limits[j]]
        if not above:
            status, chosen = "uncoded", []
        else:
            best = above[0]
            related = self.lineage_[best]
            floor = raw[best] - margin
            rivals = [j for j in above[1:] if raw[j] >= floor and self.codes_[j] not in related]
            status, chosen = ("overlap", [best, *rivals]) if rivals else ("coded", [best])
        top = ranked[: self.settings.suggestions]
        # The suggestions listed: the best few, and every assigned code even when ranked lower.
        fits = not chosen or (chosen[0] in top if len(chosen) == 1 else set(chosen).issubset(top))
        shown = top if fits else [j for j in ranked if j in chosen or j in top]
        return Decision(status, tuple([self.codes_[j] for j in chosen]),
                        tuple([self._suggestion(j, row, limits[j]) for j in shown]))

    def _suggestion(self, j: int, row: _Row, limit: float) -> Suggestion:
        raw, score, nearest, nearest_sim, definition_sim = row
        code = self.code_vectors_[j].code
        exemplar_sim = nearest_sim[j]
        definition = definition_sim[j]
        return Suggestion(
            code.id,
            code.name,
            score[j],
            code.examples[nearest[j]] if nearest[j] >= 0 else None,
            None if exemplar_sim != exemplar_sim else exemplar_sim,  # NaN: the code has no exemplar
            None if definition != definition else definition,  # NaN: the code has no definition
            raw[j] >= limit,
        )


class CentroidMatcher(CodebookMatcher):
    """A :class:`CodebookMatcher` whose exemplar part is the cosine similarity to the normalised
    mean of a code's exemplars (its centroid) instead of the mean of the ``top_k`` nearest.

    Everything else is the same: the definition blend (``definition_weight``), the counterexample
    penalty, roll-ups and the coded/overlap/uncoded decision; the nearest exemplar is still the
    reason shown. The default method (``centroid``); in ``nlp-coder evaluate`` it is the method
    ``centroid-def``. See docs/evaluation.md for the evidence.
    """

    def _exemplar_score(self, x: np.ndarray, sims: np.ndarray, examples: np.ndarray) -> np.ndarray:
        centroid = examples.mean(axis=0)
        norm = float(np.linalg.norm(centroid))
        return x @ (centroid / norm if norm else centroid)


MATCHERS: dict[str, type[CodebookMatcher]] = {"topk": CodebookMatcher, "centroid": CentroidMatcher}
"""Scoring methods by name (``MatchSettings.method``, ``suggest --method``)."""

assert set(MATCHERS) == set(METHODS) and DEFAULT_METHOD in METHODS

DEFINITION_WEIGHTS = {"topk": 0.25, "centroid": 0.5}
"""Each method's default weight of the definition in a code's score."""


def build_matcher(settings: MatchSettings) -> CodebookMatcher:
    """An unfitted matcher of ``settings.method``."""
    try:
        return MATCHERS[settings.method](settings)
    except KeyError:
        raise InputError(f"unknown method '{settings.method}'", "--method",
                         f"Use one of: {', '.join(MATCHERS)}") from None
