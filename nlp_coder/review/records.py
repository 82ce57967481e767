"""Frozen records of a review: what the page shows of a fragment, a decision, the progress."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from nlp_coder.store import ReviewRow

Action = Literal["accept", "reject", "recode"]
ACTIONS: tuple[str, ...] = ("accept", "reject", "recode")
Drawn = Literal["active", "random", "chosen", "batch"]
"""How a fragment came to be decided: the informative part of the queue, its random share, picked
from a filtered list, or accepted with a filtered list."""

DEFAULT_REVIEWER = "reviewer"
DEFAULT_REFIT_EVERY = 20
DEFAULT_RANDOM_SHARE = 0.25


@dataclass(frozen=True)
class ReviewOptions:
    """How a review runs.

    Args:
        reviewer: the reviewer's name: their decisions are stored, and exported, under it.
        refit_every: after this many new decisions the suggestions are refitted on the decisions
            in the background and the queue is re-scored (0: never).
        random_share: the share of the queue drawn at random (the rest is the most informative
            fragments); the random draws give the unbiased precision estimate.
        seed: the seed of the random draws (the same seed, the same queue).
        before, after: the turns of context shown before and after a fragment's turn.
    """

    reviewer: str = DEFAULT_REVIEWER
    refit_every: int = DEFAULT_REFIT_EVERY
    random_share: float = DEFAULT_RANDOM_SHARE
    seed: int = 0
    before: int = 2
    after: int = 1


@dataclass(frozen=True)
class SuggestionView:
    """A code suggested for a fragment, with its evidence: the score, the code's threshold, the
    nearest exemplar and the code's definition."""

    code: str
    name: str
    score: float
    threshold: float
    above_threshold: bool
    exemplar: str | None
    exemplar_similarity: float | None
    definition: str


@dataclass(frozen=True)
class ContextTurn:
    """A turn around a fragment. ``role`` is ``before``, ``question`` (the last turn of another
    speaker before the fragment's turn), ``turn`` (the fragment's own turn: ``highlight`` holds
    the fragment's offsets in ``text``) or ``after``."""

    speaker: str | None
    text: str
    role: str
    highlight: tuple[int, int] | None = None


@dataclass(frozen=True)
class FragmentView:
    """One fragment as the review shows it: its text and place, the machine's status and codes,
    the suggestions with their evidence, the turns around it, how it was drawn, the reviewer's
    current decision on it (``None`` while pending), and the spans of the sentences before and
    after it in the same turn (to widen the coded span to; ``None`` where there is none)."""

    key: str
    document: str
    fragment_id: str
    speaker: str | None
    start: int
    end: int
    text: str
    status: str
    codes: tuple[str, ...]
    suggestions: tuple[SuggestionView, ...]
    context: tuple[ContextTurn, ...]
    drawn: str
    decision: ReviewRow | None = None
    sentence_before: tuple[int, int] | None = None
    sentence_after: tuple[int, int] | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Estimate:
    """A share estimated from the random sample, with its 95 % Wilson interval: ``hits`` of ``n``.
    ``value``, ``low`` and ``high`` are ``None`` when the sample has nothing to go on (``n == 0``)."""

    name: str
    n: int
    hits: int
    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class CodeProgress:
    """Per code: fragments the machine gives it now, decisions that kept it, and the precision
    of the machine's suggestions of it, estimated on the random sample."""

    code: str
    name: str
    suggested: int
    decided: int
    kept: int
    precision: Estimate


@dataclass(frozen=True)
class DocumentProgress:
    document: str
    fragments: int
    decided: int


@dataclass(frozen=True)
class Progress:
    """Where a review stands: fragments decided (per action), per code and per document; the
    random sample's size, the precision estimates and the share of missed codes among the
    machine's uncoded fragments; refits done and whether one is running."""

    reviewer: str
    fragments: int
    decided: int
    actions: tuple[tuple[str, int], ...]
    codes: tuple[CodeProgress, ...]
    documents: tuple[DocumentProgress, ...]
    sample: int
    missed: Estimate
    refits: int
    refitting: bool
    next_refit: int | None
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return asdict(self)
