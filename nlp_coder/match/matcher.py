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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import numpy as np

from nlp_coder.errors import InputError
from nlp_coder.match.decide import STATUSES, Decisions, Pick, best_and_rivals, ranked_codes, row_lists
from nlp_coder.match.settings import DEFINITION_WEIGHTS, SCORING_METHODS
from nlp_coder.records import Code, Codebook, Facet, Fragment, FragmentResult, MatchSettings

Encode = Callable[[Sequence[str]], np.ndarray]

if TYPE_CHECKING:
    from nlp_coder.embed.protocol import Embedder
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


Embeddings = Union[Mapping[str, np.ndarray], np.ndarray, Encode, "Embedder"]
"""What :meth:`CodebookMatcher.fit` takes for the codebook's texts: vectors by text, an array
with one row per :func:`codebook_texts` text, an embedder, or a function from texts to vectors."""

_PARAMS = ("threshold", "margin", "top_k", "definition_weight", "counterexample_weight", "suggestions")


class CodebookMatcher:
    """Scores fragments against every code of a codebook and decides per group.

    It follows scikit-learn's estimator contract: the parameters are set in ``__init__`` (and by
    :meth:`set_params`), :meth:`fit` learns from the codebook and returns the matcher, the learned
    state ends in ``_``, and :meth:`decision_function` and :meth:`predict` take fragment vectors.
    A new threshold or margin (:meth:`set_params`) needs no refit and no embedding.

    Args:
        threshold: the score a code needs (a code's or facet's own threshold wins).
        margin: how close a rival must be to the best code to make an overlap.
        top_k: nearest exemplars averaged per code (``topk``).
        definition_weight: weight of the definition in a code's score (default: the method's).
        counterexample_weight: weight of the counterexample penalty.
        suggestions: codes listed per fragment.

    :meth:`from_settings` builds one from a resolved :class:`~nlp_coder.records.MatchSettings`
    (:func:`nlp_coder.match.settings.resolve_settings`).
    """

    method = "topk"
    """The scoring method (``suggest --method``) this class implements."""

    def __init__(self, threshold: float = 0.30, margin: float = 0.02, top_k: int = 3,
                 definition_weight: float | None = None, counterexample_weight: float = 1.0,
                 suggestions: int = 3) -> None:
        if isinstance(threshold, MatchSettings):
            raise TypeError(f"{type(self).__name__}(settings) takes parameters; use "
                            f"{type(self).__name__}.from_settings(settings)")
        self.threshold = threshold
        self.margin = margin
        self.top_k = top_k
        self.definition_weight = definition_weight
        self.counterexample_weight = counterexample_weight
        self.suggestions = suggestions
        self._origin: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_settings(cls, settings: MatchSettings) -> CodebookMatcher:
        """An unfitted matcher with resolved ``settings`` (their method must be this class's)."""
        matcher = cls(**{name: getattr(settings, name) for name in _PARAMS})
        matcher._origin = settings.origin
        return matcher

    @property
    def settings(self) -> MatchSettings:
        """The parameters as one record (the definition weight resolved to the method's default)."""
        weight = DEFINITION_WEIGHTS[self.method] if self.definition_weight is None else self.definition_weight
        return MatchSettings(threshold=self.threshold, margin=self.margin, top_k=self.top_k, definition_weight=weight,
                             counterexample_weight=self.counterexample_weight, suggestions=self.suggestions,
                             method=self.method, origin=self._origin)

    def get_params(self, deep: bool = True) -> dict[str, object]:
        """The parameters, as scikit-learn's ``get_params`` gives them."""
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params: object) -> CodebookMatcher:
        """Set parameters (a fitted matcher stays fitted: the scores are recomputed, the codebook
        is not embedded again). Unknown names raise ``ValueError``, as in scikit-learn."""
        for name, value in params.items():
            if name not in _PARAMS:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {', '.join(_PARAMS)}")
            setattr(self, name, value)
            self._origin = tuple((k, v) for k, v in self._origin if k != name) + ((name, "option"),)
        return self

    def fit(self, codebook: Codebook, embeddings: Embeddings) -> CodebookMatcher:
        """Learn the codebook: the vectors of its exemplars, definitions and counterexamples.

        Args:
            codebook: a validated codebook.
            embeddings: the vectors of :func:`codebook_texts` by the model that embeds the
                fragments, as a mapping from text to vector, an array with one row per text (in
                :func:`codebook_texts` order), an embedder, or a function from texts to vectors.

        Raises:
            InputError: ``E130`` when vectors given for the codebook are missing or misshapen.
        """
        unique = codebook_texts(codebook)
        matrix = codebook_matrix(unique, embeddings)
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
        # ancestry_[j, k]: code k is code j or one of its ancestors (codebook order).
        position = {code_id: k for k, code_id in enumerate(self.codes_)}
        self.ancestry_ = np.eye(len(self.codes_), dtype=bool)
        for j, code_id in enumerate(self.codes_):
            self.ancestry_[j, [position[a] for a in codebook.ancestors(code_id)]] = True
        return self

    def with_settings(self, settings: MatchSettings) -> CodebookMatcher:
        """A copy of this fitted matcher with other settings (threshold, margin, weights): no refit."""
        clone = type(self).from_settings(settings)
        clone.__dict__.update({k: v for k, v in self.__dict__.items() if k.endswith("_")})
        return clone

    def decision_function(self, vectors: np.ndarray) -> np.ndarray:
        """Scores of every code (columns, codebook order, :attr:`codes_`) for every fragment
        vector (rows)."""
        return self.score(_vectors(vectors)).score

    def score(self, vectors: np.ndarray) -> Scores:
        """Scores with their evidence (nearest exemplar, definition similarity)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.matrix_.size and (vectors.ndim != 2 or vectors.shape[1] != self.matrix_.shape[1]):
            raise InputError(f"vectors of shape {vectors.shape} for a codebook embedded in {self.matrix_.shape[1]} "
                             "dimensions", "vectors", "Embed fragments and codebook with the same model", code="E130")
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
                    score = score - self.counterexample_weight * np.maximum(0.0, worst - best_positive)
                scores[lo:lo + len(x), j] = score
        self._roll_up(scores)
        return Scores(scores, nearest, nearest_sim, definition_sim)

    def _exemplar_score(self, x: np.ndarray, sims: np.ndarray, examples: np.ndarray) -> np.ndarray:
        """The exemplar part of a code's score: the mean of the ``top_k`` highest similarities."""
        top = min(self.top_k, sims.shape[1])
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

    def predict(self, vectors: np.ndarray, fragments: Sequence[Fragment] | None = None,
                scored: Scores | None = None) -> tuple[FragmentResult, ...]:
        """A decision for the main codes and for each facet of every fragment vector (rows).

        ``fragments`` (one per row) are carried into the results; without them each row gets a
        fragment whose id is its row number and whose text is empty. ``scored`` may pass scores
        already computed by :meth:`score` for these vectors.
        """
        return self.decide(vectors, fragments, scored).results()

    def decide(self, vectors: np.ndarray, fragments: Sequence[Fragment] | None = None,
               scored: Scores | None = None) -> Decisions:
        """What :meth:`predict` decides, kept as columns (:class:`Decisions`): the whole chunk is
        decided with array operations, and result objects are built only when asked for."""
        vectors = _vectors(vectors)
        if fragments is None:
            fragments = [Fragment(str(i), "", None, i, 0, 0, "") for i in range(len(vectors))]
        elif len(fragments) != len(vectors):
            raise InputError(f"{len(fragments)} fragments for {len(vectors)} vectors", "fragments",
                             "Give one fragment per row of vectors", code="E130")
        scored = scored if scored is not None else self.score(vectors)
        n = len(fragments)
        groups = (None, *(facet.name for facet in self.codebook_.facets))
        raw = scored.score.astype(np.float64)
        limits = np.array([self.threshold_for(cv.code) for cv in self.code_vectors_], dtype=np.float64)
        above = raw >= limits
        chosen_any = np.zeros(raw.shape, dtype=bool)
        per_group = [self._decide_group(raw, above, g, chosen_any) for g in groups]
        assigned = (chosen_any.astype(np.int32) @ self.ancestry_.astype(np.int32)) > 0
        return Decisions(
            fragments=tuple(fragments),
            codes=tuple(cv.code for cv in self.code_vectors_),
            groups=groups,
            score=np.round(raw, 4).tolist(),
            above=above.tolist(),
            nearest=scored.nearest.tolist(),
            exemplar_similarity=np.round(scored.nearest_similarity.astype(np.float64), 4).tolist(),
            definition_similarity=np.round(scored.definition_similarity.astype(np.float64), 4).tolist(),
            picks=list(zip(*per_group)) if n else [],
            assigned=assigned,
        )

    def _decide_group(self, raw: np.ndarray, above: np.ndarray, group: str | None,
                      chosen_any: np.ndarray) -> list[Pick]:
        """One group's decision for every row: its status, the codes chosen and the codes shown
        (indices into the codebook, best first). Marks the chosen codes in ``chosen_any``."""
        n = raw.shape[0]
        members = np.array([j for j, cv in enumerate(self.code_vectors_)
                            if cv.code.facet == group and cv.code.codable], dtype=np.int64)
        if not members.size:
            return [("uncoded", [], [])] * n
        m, rows = members.size, np.arange(n)
        sub, fits = raw[:, members], above[:, members]
        order = ranked_codes(sub)
        coded, best, rivals = best_and_rivals(sub, fits, order, self.related(members), self.margin_for(group))
        chosen = rivals.copy()
        chosen[rows[coded], best[coded]] = True
        chosen_any[:, members] |= chosen
        status = np.where(coded, np.where(rivals.any(axis=1), 1, 0), 2).tolist()
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.broadcast_to(np.arange(m), (n, m)), axis=1)
        # Shown: the best few, and every chosen code even when ranked lower.
        shown = (rank < self.suggestions) | chosen
        ranked = members[order]
        chosen_codes, chosen_bounds = row_lists(ranked, np.take_along_axis(chosen, order, axis=1))
        shown_codes, shown_bounds = row_lists(ranked, np.take_along_axis(shown, order, axis=1))
        return [
            (STATUSES[st], chosen_codes[chosen_bounds[i]:chosen_bounds[i + 1]],
             shown_codes[shown_bounds[i]:shown_bounds[i + 1]])
            for i, st in enumerate(status)
        ]

    def related(self, members: np.ndarray) -> np.ndarray:
        """Among the codes ``members`` (codebook indices), which pairs are ancestor and descendant:
        such codes never compete with each other."""
        own = self.ancestry_[np.ix_(members, members)]
        return own | own.T

    def threshold_for(self, code: Code) -> float:
        """The code's own threshold, else its facet's, else the global one."""
        if code.threshold is not None:
            return code.threshold
        facet = self.facets_.get(code.facet) if code.facet is not None else None
        if facet is not None and facet.threshold is not None:
            return facet.threshold
        return self.threshold

    def margin_for(self, facet: str | None) -> float:
        """The facet's margin, else the global one (main codes always use the global one)."""
        spec = self.facets_.get(facet) if facet is not None else None
        return spec.margin if spec is not None and spec.margin is not None else self.margin


class CentroidMatcher(CodebookMatcher):
    """A :class:`CodebookMatcher` whose exemplar part is the cosine similarity to the normalised
    mean of a code's exemplars (its centroid) instead of the mean of the ``top_k`` nearest.

    Everything else is the same: the definition blend (``definition_weight``), the counterexample
    penalty, roll-ups and the coded/overlap/uncoded decision; the nearest exemplar is still the
    reason shown. The default method (``centroid``); in ``nlp-coder evaluate`` it is the method
    ``centroid-def``. See docs/evaluation.md for the evidence.
    """

    method = "centroid"

    def _exemplar_score(self, x: np.ndarray, sims: np.ndarray, examples: np.ndarray) -> np.ndarray:
        centroid = examples.mean(axis=0)
        norm = float(np.linalg.norm(centroid))
        return x @ (centroid / norm if norm else centroid)


MATCHERS: dict[str, type[CodebookMatcher]] = {"topk": CodebookMatcher, "centroid": CentroidMatcher}
"""Scoring methods by name (``MatchSettings.method``, ``suggest --method``)."""

assert set(MATCHERS) == set(SCORING_METHODS)

__all__ = ["DEFINITION_WEIGHTS", "STATUSES", "Decisions"]  # re-exported from settings and decide


def build_matcher(settings: MatchSettings) -> CodebookMatcher:
    """An unfitted matcher of ``settings.method``."""
    try:
        kind = MATCHERS[settings.method]
    except KeyError:
        raise InputError(f"unknown method '{settings.method}'", "--method",
                         f"Use one of: {', '.join(MATCHERS)}", code="E130") from None
    return kind.from_settings(settings)


def _vectors(vectors: object, what: str = "vectors") -> np.ndarray:
    """Vectors as a finite float32 matrix (one row each), or ``E130`` for anything else."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # too large for float32: refused below as infinite
            matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be numbers, one row per text ({exc})", what, code="E130") from None
    if matrix.ndim != 2:
        raise InputError(f"{what} must be a matrix (one row per text), not of shape {matrix.shape}", what,
                         code="E130")
    if not np.isfinite(matrix).all():
        raise InputError(f"{what} hold NaN or infinite values", what, code="E130")
    return matrix


def codebook_matrix(texts: Sequence[str], embeddings: Embeddings) -> np.ndarray:
    """The vectors of ``texts`` (one row each) from what :meth:`CodebookMatcher.fit` accepts."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    if isinstance(embeddings, Mapping):
        missing = [t for t in texts if t not in embeddings]
        if missing:
            raise InputError(f"no vector for {len(missing)} codebook text(s), e.g. {missing[0][:60]!r}",
                             "embeddings", "Give a vector for every text of codebook_texts(codebook)", code="E130")
        matrix = _vectors([embeddings[t] for t in texts], "embeddings")
    elif isinstance(embeddings, np.ndarray):
        matrix = _vectors(embeddings, "embeddings")
    elif callable(getattr(embeddings, "encode", embeddings)):
        encode = getattr(embeddings, "encode", embeddings)
        matrix = _vectors(encode(list(texts)), "embeddings")
    else:
        raise InputError(f"cannot make the codebook's vectors from a {type(embeddings).__name__}", "embeddings",
                         "Give an embedder, a function, a mapping from text to vector or an array", code="E130")
    if matrix.ndim != 2 or matrix.shape[0] != len(texts):
        raise InputError(f"the codebook's vectors have shape {matrix.shape}, not ({len(texts)}, dimensions)",
                         "embeddings", "Give one row per text of codebook_texts(codebook)", code="E130")
    if not np.isfinite(matrix).all():
        raise InputError("the codebook's vectors hold NaN or infinite values", "embeddings", code="E130")
    return matrix
