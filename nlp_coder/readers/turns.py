"""Speaker-turn parsing of transcript text (.txt, .md, and the lines of a .docx).

A line that starts with an accepted speaker label (``Interviewer:``, ``**P1:**``, ``[00:01:23]
R:``, ``Speaker 1  0:03``) opens a turn; the lines after it, up to the next label, a Markdown
heading or a horizontal rule, are the turn's text. Timestamps are metadata and are kept out of
every span. Spans are runs of consecutive non-blank text lines, so a sentence wrapped over two
lines stays one span.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from nlp_coder.records import Span, Turn

_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?"
# A bare m:ss is too easily part of speech ("at 10:30"), so bare times need hours, except on a
# label line of their own ("Speaker 1  0:03") where nothing else can follow.
_LONG_TIME = r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,3})?"
# Inside brackets a time is unambiguous, so typos seen in real transcripts ("[00:09:025]") pass.
_LOOSE_TIME = r"\d{1,2}:\d{2,3}(?::\d{2,3})?(?:[.,]\d{1,3})?"
_BRACKETED = rf"\[[ \t]*{_LOOSE_TIME}[ \t]*\]|\([ \t]*{_LOOSE_TIME}[ \t]*\)"
_STAMP = rf"(?:{_BRACKETED}|(?<![\w:.,]){_LONG_TIME}(?!\w|:\d))"
_SHORT_STAMP = rf"(?:{_STAMP}|(?<![\w:.,]){_TIME}(?!\w|:\d))"
# A label: 1-4 words starting with a letter; a later word may not start a time ("P2 00:01:23").
_LABEL = r"[^\W\d_][\w.'\-]*(?:[ \t](?!\d{1,2}:\d{2})[\w.'\-]+){0,3}"
_DECOR = r"(?:\*\*|__|\*|_)"
_MARKER = r"(?:[-*+>][ \t]+)"
_MAX_LABEL = 40

_LABEL_LINE = re.compile(
    rf"""[ \t]*{_MARKER}?
    (?:(?P<before>{_STAMP})[ \t]*)?
    (?P<open>{_DECOR})?(?P<label>{_LABEL})(?P<close>{_DECOR})?
    (?:[ \t]*(?P<mid>{_STAMP}))?
    :{_DECOR}?(?=[ \t]|$)""",
    re.VERBOSE,
)
# An export style where the label line holds the label and a time, and the text follows below.
_LABEL_ONLY_LINE = re.compile(
    rf"""[ \t]*{_MARKER}?
    (?P<open>{_DECOR})?(?P<label>{_LABEL})(?P<close>{_DECOR})?
    [ \t]+(?P<mid>{_SHORT_STAMP}):?[ \t]*$""",
    re.VERBOSE,
)
_LEADING_STAMP = re.compile(rf"[ \t]*({_STAMP})[ \t]*")
_INLINE_STAMP = re.compile(_BRACKETED)
_TIME_VALUE = re.compile(_LOOSE_TIME)
_QUOTE_MARKER = re.compile(r"[ \t]*(?:>[ \t]*)+")
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]|$)")
_RULE = re.compile(r"[ \t]{0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")

_ROLES = (
    "speaker", "participant", "respondent", "interviewer", "interviewee", "moderator",
    "facilitator", "researcher", "therapist", "client", "patient", "counsellor", "counselor",
    "mother", "father", "parent", "child",
)
# Short ids are upper case ("I", "R", "IV") unless they carry a number ("p1"), so that words
# such as "So:" are not taken for speakers.
_SPEAKER_ID = re.compile(
    rf"[A-Z]{{1,2}}\d*|[A-Za-z]{{1,2}}\d+|(?i:(?:{'|'.join(_ROLES)})(?:[ ._-]?(?:\d+|[a-z]))?)"
)


@dataclass(frozen=True)
class LabelMatch:
    """A speaker label found at the start of a line.

    ``content`` is the offset in the line where the text after the label starts; ``stamps`` are
    the timestamps written before or inside the label, in order.
    """

    label: str
    content: int
    stamps: tuple[str, ...]


def match_label(line: str, *, timed: bool = True) -> LabelMatch | None:
    """Find a candidate speaker label at the start of a line (one line, no newline).

    Args:
        line: the line.
        timed: also take a line holding only a label and a time ("Speaker 1  0:03").

    Returns:
        The label with its decorations stripped, or None when the line has no label shape.
    """
    if ":" not in line:  # both shapes end the label, or its time, with a colon
        return None
    match = _LABEL_LINE.match(line) or (_LABEL_ONLY_LINE.match(line) if timed else None)
    if match is None:
        return None
    label = match["label"]
    if match["open"] and "_" in match["open"]:
        label = label.rstrip("_")  # "__R__:" - the closing underscores are word characters
    label = " ".join(label.split())
    if not label or len(label) > _MAX_LABEL:
        return None
    groups = match.groupdict()
    stamps = tuple(timestamp_value(groups[g]) for g in ("before", "mid") if groups.get(g))
    return LabelMatch(label, match.end(), stamps)


def is_speaker_like(label: str) -> bool:
    """Whether a label looks like a speaker id ("I", "P1", "Speaker 2", "Interviewer")."""
    return _SPEAKER_ID.fullmatch(label) is not None


def timestamp_value(stamp: str) -> str:
    """The time of a timestamp as written, without brackets: ``[00:01:23]`` -> ``00:01:23``."""
    match = _TIME_VALUE.search(stamp)
    return match.group() if match else stamp.strip("[]() \t")


def is_timestamp(value: str) -> bool:
    """Whether a whole string is one timestamp, bracketed or bare (``1:23``, ``[00:01:23]``)."""
    return re.fullmatch(rf"[ \t]*(?:{_BRACKETED}|{_TIME})[ \t]*", value) is not None


def accepted_labels(labels: Collection[str], known: Collection[str] = ()) -> frozenset[str]:
    """The candidate labels (casefolded) taken as speakers.

    A label is a speaker when it opens at least two lines, looks like a speaker id, or is known
    (for example from a table's speaker column); "My answer: yes" is none of these.

    Args:
        labels: every candidate label of the document, one per line it opens.
        known: labels to accept whatever they look like.

    Returns:
        The accepted labels, casefolded.
    """
    counts = Counter(label.casefold() for label in labels)
    accepted = {key for key, count in counts.items() if count >= 2}
    accepted.update(label.casefold() for label in labels if is_speaker_like(label))
    accepted.update(label.casefold() for label in known)
    return frozenset(accepted)


def parse_turns(text: str, *, speakers: Collection[str] = ()) -> tuple[Turn, ...]:
    """Split normalised transcript text into speaker turns.

    Args:
        text: the document's normalised text (``\\n`` line endings).
        speakers: labels to accept as speakers even if seen once and not id-like.

    Returns:
        The turns in document order; text outside any speaker's turn (a preamble, or a document
        without labels) gives speaker-None turns, one per paragraph.
    """
    lines = _lines(text)
    breaks = [_is_break(text[s:e]) for s, e in lines]
    matches = [None if is_break else match_label(text[s:e]) for (s, e), is_break in zip(lines, breaks)]
    accepted = accepted_labels([m.label for m in matches if m is not None], speakers)
    builder = _TurnBuilder(text)
    for (start, end), match, is_break in zip(lines, matches, breaks):
        line = text[start:end]
        if not line.strip():
            builder.blank()
        elif is_break:
            builder.close()
        elif match is not None and match.label.casefold() in accepted:
            builder.open(match.label)
            for stamp in match.stamps:
                builder.stamp(stamp)
            builder.content(start + match.content, end)
        else:
            quote = _QUOTE_MARKER.match(line)  # "> " quoting is decoration, not speech
            builder.content(start + (quote.end() if quote else 0), end)
    return builder.finish()


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each line, without its newline."""
    bounds: list[tuple[int, int]] = []
    start = 0
    for line in text.split("\n"):
        bounds.append((start, start + len(line)))
        start += len(line) + 1
    return bounds


def _is_break(line: str) -> bool:
    """A Markdown heading or horizontal rule: not speech, and the end of the open turn."""
    return _HEADING.match(line) is not None or _RULE.match(line) is not None


@dataclass
class _Draft:
    """A turn being built."""

    speaker: str | None
    timestamp: str | None = None
    spans: list[Span] = field(default_factory=list)


class _TurnBuilder:
    """Collects turns, spans and timestamps line by line."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.drafts: list[_Draft] = []
        self.current: _Draft | None = None
        # A timestamp not yet followed by text belongs to whichever turn speaks next.
        self.pending: str | None = None

    def open(self, speaker: str) -> None:
        self.close()
        self.current = _Draft(speaker, self.pending)
        self.pending = None

    def close(self) -> None:
        if self.current is not None:
            self.drafts.append(self.current)
            self.current = None

    def blank(self) -> None:
        # Unlabelled text is split into paragraphs; a speaker's turn runs on to the next label.
        if self.current is not None and self.current.speaker is None:
            self.close()

    def stamp(self, value: str) -> None:
        current = self.current
        if current is not None and current.timestamp is None and not current.spans:
            current.timestamp = value
        elif self.pending is None:
            self.pending = value

    def content(self, start: int, end: int) -> None:
        """Add the text of one line from ``start`` to ``end``, minus its timestamps."""
        for piece in _pieces(self.text, start, end):
            if isinstance(piece, str):
                self.stamp(piece)
            else:
                self._add(*piece)

    def _add(self, start: int, end: int) -> None:
        if self.current is None:
            self.current = _Draft(None)
        current = self.current
        if current.timestamp is None:
            current.timestamp = self.pending
        self.pending = None
        if current.spans:
            last = current.spans[-1]
            gap = self.text[last.end:start]
            # Only a single line break joins two lines into one span: a blank line, a stripped
            # decoration or a timestamp between them splits it.
            if not gap.strip() and gap.count("\n") == 1:
                current.spans[-1] = Span(last.start, end)
                return
        current.spans.append(Span(start, end))

    def finish(self) -> tuple[Turn, ...]:
        self.close()
        drafts = [d for d in self.drafts if d.spans]  # a label with nothing said is no turn
        return tuple(
            Turn(index=i, speaker=d.speaker, spans=tuple(d.spans), timestamp=d.timestamp)
            for i, d in enumerate(drafts)
        )


def _pieces(text: str, start: int, end: int) -> Iterator[str | tuple[int, int]]:
    """The timestamps (as values) and stripped text ranges of ``text[start:end]``, in order."""
    if text.find(":", start, end) < 0:  # every timestamp has a colon: most lines have none
        yield from _stripped(text, start, end)
        return
    pos = start
    while (match := _LEADING_STAMP.match(text, pos, end)) is not None:
        yield timestamp_value(match.group(1))
        pos = match.end()
    for match in _INLINE_STAMP.finditer(text, pos, end):
        yield from _stripped(text, pos, match.start())
        yield timestamp_value(match.group())
        pos = match.end()
    yield from _stripped(text, pos, end)


def _stripped(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The range without surrounding whitespace, if anything is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end
