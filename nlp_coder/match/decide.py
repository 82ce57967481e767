"""The decision rule and its result: per group (the main codes, and each facet on its own), a
fragment is ``coded`` when exactly one code is at or above its threshold, or the best code leads
every other code above threshold by more than the margin; ``overlap`` when two or more codes are
above threshold within the margin of the best (a code and its own ancestor never compete);
``uncoded`` when no code reaches its threshold.

:class:`Decisions` keeps a chunk's decisions as columns; every output, summary and selection is
made from it, and :class:`~nlp_coder.records.FragmentResult` objects are derived on demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nlp_coder.records import Code, Decision, Fragment, FragmentResult, Suggestion

STATUSES = ("coded", "overlap", "uncoded")

Pick = tuple[str, list[int], list[int]]
"""One group's decision on one fragment: status, codes chosen and codes shown (indices into the
codebook's codes, best first)."""


@dataclass(frozen=True)
class Decisions:
    """The decisions on a chunk of fragments, kept as columns (one row per fragment).

    The lists hold plain Python values over the codebook's codes (rounded where shown), so that
    output lines are made without building a :class:`~nlp_coder.records.Suggestion` per code;
    :meth:`results` builds the records for callers that keep them. ``picks`` holds, per fragment,
    one :data:`Pick` per group (main codes first, then the facets in codebook order);
    ``assigned[i, k]`` says whether fragment ``i`` is assigned code ``k`` or a descendant of it.
    """

    fragments: tuple[Fragment, ...]
    codes: tuple[Code, ...]
    groups: tuple[str | None, ...]
    score: list[list[float]]
    above: list[list[bool]]
    nearest: list[list[int]]
    exemplar_similarity: list[list[float]]  # NaN where a code has no exemplar
    definition_similarity: list[list[float]]  # NaN where a code has no definition
    picks: list[tuple[Pick, ...]]
    assigned: np.ndarray = field(repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.fragments)

    def suggestion(self, i: int, j: int) -> Suggestion:
        """Code ``j`` as suggested for fragment ``i``."""
        code, nearest = self.codes[j], self.nearest[i][j]
        exemplar, definition = self.exemplar_similarity[i][j], self.definition_similarity[i][j]
        return Suggestion(
            code.id,
            code.name,
            self.score[i][j],
            code.examples[nearest] if nearest >= 0 else None,
            None if exemplar != exemplar else exemplar,  # NaN: the code has no exemplar
            None if definition != definition else definition,  # NaN: the code has no definition
            self.above[i][j],
        )

    def results(self) -> tuple[FragmentResult, ...]:
        """One :class:`~nlp_coder.records.FragmentResult` per fragment."""
        out = []
        for i, fragment in enumerate(self.fragments):
            decisions = [Decision(status, tuple([self.codes[j].id for j in chosen]),
                                  tuple([self.suggestion(i, j) for j in shown]))
                         for status, chosen, shown in self.picks[i]]
            out.append(FragmentResult(fragment, decisions[0], tuple(zip(self.groups[1:], decisions[1:]))))
        return tuple(out)

    def codes_of(self, i: int) -> set[str]:
        """Every code fragment ``i`` is assigned, in the main group and the facets, with their
        ancestors."""
        return {self.codes[k].id for k in np.flatnonzero(self.assigned[i]).tolist()}

    def having(self, codes: Sequence[str]) -> np.ndarray:
        """Which fragments are assigned every code in ``codes`` (a container code: any of its
        descendants), as a boolean mask."""
        position = {code.id: k for k, code in enumerate(self.codes)}
        return self.assigned[:, [position[c] for c in codes]].all(axis=1)

    def take(self, rows: Sequence[int]) -> Decisions:
        """The decisions of the fragments at ``rows``, in that order."""
        def pick(values: list) -> list:  # type: ignore[type-arg]
            return [values[i] for i in rows]

        return Decisions(tuple(pick(list(self.fragments))), self.codes, self.groups, pick(self.score),
                         pick(self.above), pick(self.nearest), pick(self.exemplar_similarity),
                         pick(self.definition_similarity), pick(self.picks),
                         self.assigned[np.asarray(rows, dtype=np.int64)])

    @staticmethod
    def concat(parts: Sequence[Decisions]) -> Decisions:
        """Decisions of consecutive chunks as one (at least one part; one codebook)."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]

        def joined(name: str) -> list:  # type: ignore[type-arg]
            return [v for d in parts for v in getattr(d, name)]

        return Decisions(tuple(joined("fragments")), first.codes, first.groups, joined("score"), joined("above"),
                         joined("nearest"), joined("exemplar_similarity"), joined("definition_similarity"),
                         joined("picks"), np.concatenate([d.assigned for d in parts]))

    @staticmethod
    def join(parts: Sequence[tuple[np.ndarray, Decisions]]) -> Decisions:
        """Decisions made apart (``(rows, decisions)``: the rows each part decided) put back in
        row order. The parts must cover rows ``0 .. n-1`` once each and share one codebook."""
        parts = [(np.asarray(rows, dtype=np.int64), d) for rows, d in parts if len(rows)]
        every = np.concatenate([rows for rows, _ in parts])
        order = np.argsort(every, kind="stable")
        assert np.array_equal(every[order], np.arange(len(every))), "the parts must cover every row once"

        def joined(name: str) -> list:  # type: ignore[type-arg]
            values = [v for _, d in parts for v in getattr(d, name)]
            return [values[i] for i in order.tolist()]

        first = parts[0][1]
        return Decisions(tuple(joined("fragments")), first.codes, first.groups, joined("score"), joined("above"),
                         joined("nearest"), joined("exemplar_similarity"), joined("definition_similarity"),
                         joined("picks"), np.concatenate([d.assigned for _, d in parts])[order])


def ranked_codes(sub: np.ndarray) -> np.ndarray:
    """Per row, the columns of one group's scores best first; ties broken by codebook order
    (scores rounded to 6 decimals), so that a decision never depends on float noise."""
    return np.argsort(-np.round(sub, 6), axis=1, kind="stable")


def best_and_rivals(sub: np.ndarray, fits: np.ndarray, order: np.ndarray, related: np.ndarray,
                    margin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The decision rule of one group, for every row at once.

    Args:
        sub: the group's scores (rows: fragments; columns: the group's codes).
        fits: which scores are at or above their code's threshold.
        order: :func:`ranked_codes` of ``sub``.
        related: which pairs of the group's codes are ancestor and descendant.
        margin: how far below the best score a rival may be.

    Returns:
        Whether each row is coded (some code fits), its best fitting column (meaningful where
        coded), and its rivals: the other fitting codes within the margin of the best and not
        related to it (any rival makes an overlap).
    """
    rows = np.arange(sub.shape[0])
    fits_ranked = np.take_along_axis(fits, order, axis=1)
    coded = fits_ranked.any(axis=1)
    best = order[rows, fits_ranked.argmax(axis=1)]
    floor = sub[rows, best] - margin
    rivals = fits & (sub >= floor[:, None]) & ~related[best] & coded[:, None]
    return coded, best, rivals


def row_lists(values: np.ndarray, mask: np.ndarray) -> tuple[list[int], list[int]]:
    """The masked values of every row, in row order, flattened, and where each row's run starts
    (row ``i``: ``flat[bounds[i]:bounds[i + 1]]``)."""
    rows, cols = np.nonzero(mask)
    bounds = np.concatenate(([0], np.cumsum(mask.sum(axis=1))))
    return values[rows, cols].tolist(), bounds.tolist()
