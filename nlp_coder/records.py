"""Frozen records passed between the pipeline steps.

Reading gives :class:`Document` objects (with their :class:`Turn` spans), segmentation gives
:class:`Fragment` objects, the codebook loader gives a :class:`Codebook` of :class:`Code` objects,
and matching gives one :class:`FragmentResult` per fragment. Every step takes and returns these
records, never loose dictionaries, so each step can be tested and swapped on its own.

Offsets are character offsets into ``Document.text``, the normalised text of the document (line
endings ``\\n``, no byte-order mark). For every fragment ``fragment.text ==
document.text[fragment.start:fragment.end]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from nlp_coder.readers.report import FileReading

Status = Literal["coded", "overlap", "uncoded"]
Unit = Literal["sentence", "turn", "window"]


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` of a document's text."""

    start: int
    end: int


@dataclass(frozen=True)
class Turn:
    """One speaker turn: the text a speaker says before the next speaker label.

    ``spans`` cover the spoken text only: the speaker label and timestamps are outside them, so a
    turn interrupted by a timestamp line has several spans. ``fragment_id`` is set when the turn
    comes from a pre-segmented fragment table, where each row is one fragment. ``header`` marks
    a paragraph without a speaker that is a header (a title, a date line) in a transcript with
    speaker labels: it is not coded unless every speaker is.
    """

    index: int
    speaker: str | None
    spans: tuple[Span, ...]
    timestamp: str | None = None
    fragment_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict, compare=False)
    header: bool = False

    @property
    def start(self) -> int:
        return self.spans[0].start

    @property
    def end(self) -> int:
        return self.spans[-1].end


@dataclass(frozen=True)
class Document:
    """A transcript read into memory with its speaker turns.

    ``id`` is the document's name as researchers see it (the file name relative to the corpus
    folder, or the ``document`` column of a fragment table). ``presegmented`` documents come from
    fragment tables: each turn is already one fragment and is not split again.
    """

    id: str
    text: str
    source: str
    format: str
    turns: tuple[Turn, ...]
    attributes: dict[str, str] = field(default_factory=dict, compare=False)
    presegmented: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def speakers(self) -> tuple[str, ...]:
        """Speaker labels in order of first appearance."""
        seen: dict[str, None] = {}
        for turn in self.turns:
            if turn.speaker is not None:
                seen.setdefault(turn.speaker, None)
        return tuple(seen)


@dataclass(frozen=True)
class Fragment:
    """A unit of respondent talk to be coded, with exact offsets into its document."""

    id: str
    document: str
    speaker: str | None
    turn: int
    start: int
    end: int
    text: str
    timestamp: str | None = None
    attributes: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Code:
    """One category of the codebook.

    ``facet`` is ``None`` for the main codes and the facet's name for codes of a facet (an
    independent group such as ``phase`` or ``valence``). ``line`` is the codebook line where the
    code is defined, for error messages.
    """

    id: str
    name: str
    definition: str = ""
    parent: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    counterexamples: tuple[str, ...] = ()
    codable: bool = True
    threshold: float | None = None
    facet: str | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Facet:
    """An independent group of codes coded side by side with the main codes."""

    name: str
    description: str = ""
    threshold: float | None = None
    margin: float | None = None


@dataclass(frozen=True)
class Codebook:
    """A validated codebook: main codes, facet codes and matching defaults."""

    name: str
    codes: tuple[Code, ...]
    facets: tuple[Facet, ...] = ()
    description: str = ""
    threshold: float | None = None
    margin: float | None = None
    source: str = ""
    sha256: str = ""

    def code(self, code_id: str) -> Code:
        for code in self.codes:
            if code.id == code_id:
                return code
        raise KeyError(code_id)

    def group(self, facet: str | None) -> tuple[Code, ...]:
        """The codes of one group: the main codes (``None``) or one facet's codes."""
        return tuple(c for c in self.codes if c.facet == facet)

    def ancestors(self, code_id: str) -> tuple[str, ...]:
        """Parent, grandparent, ... of a code, nearest first."""
        return self._ancestors[code_id]

    @cached_property
    def _ancestors(self) -> dict[str, tuple[str, ...]]:
        # Computed once: matching and summaries ask for ancestors per fragment.
        parents = {c.id: c.parent for c in self.codes}
        chains: dict[str, tuple[str, ...]] = {}
        for code_id in parents:
            chain: list[str] = []
            parent = parents[code_id]
            while parent is not None:
                chain.append(parent)
                parent = parents[parent]
            chains[code_id] = tuple(chain)
        return chains


@dataclass(frozen=True)
class Suggestion:
    """A code suggested for a fragment, with its score and the reason (nearest exemplar)."""

    code: str
    name: str
    score: float
    exemplar: str | None
    exemplar_similarity: float | None = None
    definition_similarity: float | None = None
    above_threshold: bool = False


@dataclass(frozen=True)
class Decision:
    """The decision for one code group (main codes or one facet) on one fragment.

    ``codes`` are the codes assigned: the best code when ``coded``, the competing codes when
    ``overlap``, none when ``uncoded``. ``suggestions`` are the best-scoring codes, best first,
    whatever the status, so a reviewer sees what nearly fitted.
    """

    status: Status
    codes: tuple[str, ...]
    suggestions: tuple[Suggestion, ...]


@dataclass(frozen=True)
class FragmentResult:
    """A fragment with its decision for the main codes and for each facet."""

    fragment: Fragment
    decision: Decision
    facets: tuple[tuple[str, Decision], ...] = ()


@dataclass(frozen=True)
class MatchSettings:
    """Parameters of matching and of the coded/overlap/uncoded decision."""

    threshold: float
    margin: float
    top_k: int = 3
    definition_weight: float = 0.25
    counterexample_weight: float = 1.0
    suggestions: int = 3
    method: str = "centroid"  # nlp_coder.match.settings.DEFAULT_METHOD
    origin: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    """Where each resolved value came from (``("threshold", "codebook")``, ...): see
    :func:`nlp_coder.match.settings.resolve_settings`."""


@dataclass(frozen=True)
class RunManifest:
    """What produced a run's output: enough to reproduce it. ``reading`` is what was read from
    each file (:class:`~nlp_coder.readers.report.FileReading`) and ``warnings`` every warning
    of the run, one line each."""

    tool_version: str
    model: str
    model_weights_sha256: str
    codebook: str
    codebook_sha256: str
    corpus_sha256: str
    parameters: tuple[tuple[str, object], ...]
    documents: int
    fragments: int
    reading: tuple[FileReading, ...] = ()
    warnings: tuple[str, ...] = ()
