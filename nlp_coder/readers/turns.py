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
from dataclasses import dataclass, field, replace

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
    [ \t\u00a0\u202f]?:{_DECOR}?(?=[ \t]|$)""",
    re.VERBOSE,
)
# A label alone on its line, without a colon ("INTERVIEWER", "**P1**"): the turn follows below.
# Taken only when it recurs and looks like a speaker (see parse_turns).
_BARE_LABEL_LINE = re.compile(
    rf"""[ \t]*(?P<open>{_DECOR})?(?P<label>{_LABEL})(?P<close>{_DECOR})?[ \t]*$""",
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
    # the same roles as often written in Dutch, French and German transcripts
    "interviewster", "geïnterviewde", "deelnemer", "spreker", "enquêteur", "enquêtrice",
    "intervieweur", "intervieweuse", "interviewé", "interviewée", "interviewerin", "befragter",
    "befragte", "teilnehmer", "teilnehmerin",
)
# A role word, in any case, with an optional number or letter: "Interviewer", "Interviewer1",
# "Interviewer 2", "Participant_3", "Parent B".
_ROLE_LABEL = re.compile(rf"(?i:(?:{'|'.join(_ROLES)})(?:[ ._-]?(?:\d+|[a-z]))?)")
# A short id: one or two capitals ("I", "R", "IV"), or one letter with a number ("P1", "P01",
# "p2"). Lower-case words ("So:") and two letters with a number ("RQ5:") are not ids: they count
# only when they recur.
_SHORT_ID = re.compile(r"[A-Z]{1,2}|[A-Za-z]\d{1,3}")
#: Words that open "Word:" lines in reports and papers, never speakers, even when they recur
#: (compared casefolded, without a trailing number: "Model 3" is "model", "RQ5" is "rq").
NOT_SPEAKERS: frozenset[str] = frozenset({
    "abstract", "aim", "aims", "answer key", "appendix", "background", "chapter", "conclusion",
    "conclusions", "date", "definition", "e.g", "edit", "eq", "equation", "example", "examples", "fig",
    "figure", "h", "hypothesis", "i.e", "keywords", "lemma", "location", "method", "methods", "model",
    "n.b", "nb", "note", "notes", "objective", "objectives", "part", "place", "proof", "ps", "purpose",
    "re", "remark", "result", "results", "rq", "section", "see", "source", "sources", "step", "subject",
    "summary", "table", "theorem", "time", "tip", "title", "update", "version", "warning",
})
#: The least share of a document's paragraphs that labels must open for labels that are not role
#: words (ids, recurring names) to count: a few "H1:" or "Smith:" lines in a paper are text.
MIN_LABELLED_SHARE = 0.25
# A paragraph of text before the first label (or after a heading) is a header, not speech, when
# each of its lines is a short line, a "Field: value" line or a whole-line note in emphasis or
# brackets ("_Recorded at home._", "[Transcript starts]").
_HEADER_WORDS = 10
_NOTE_WORDS = 40
_NOTE = re.compile(r"[ \t]*(?:(?P<d>\*\*|__|\*|_)(?=\S).*\S(?P=d)|\[[^\]]*\]|\([^)]*\))[ \t]*$")
_WORDS = re.compile(r"\w+")


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
    """Whether a label looks like a speaker: a role word with an optional number ("Interviewer",
    "Interviewer1", "Speaker 2") or a short id ("I", "R", "IV", "P1", "P01"), and is not a word
    of :data:`NOT_SPEAKERS` ("H1", "Note")."""
    return is_role_label(label) or (_SHORT_ID.fullmatch(label) is not None and not _not_a_speaker(label))


def is_role_label(label: str) -> bool:
    """Whether a label is a role word with an optional number or letter ("Interviewer 2")."""
    return _ROLE_LABEL.fullmatch(label) is not None


def _not_a_speaker(label: str) -> bool:
    base = re.sub(r"[\s_.-]*\d+$", "", label.casefold()).rstrip(".")
    return base in NOT_SPEAKERS


def timestamp_value(stamp: str) -> str:
    """The time of a timestamp as written, without brackets: ``[00:01:23]`` -> ``00:01:23``."""
    match = _TIME_VALUE.search(stamp)
    return match.group() if match else stamp.strip("[]() \t")


def is_timestamp(value: str) -> bool:
    """Whether a whole string is one timestamp, bracketed or bare (``1:23``, ``[00:01:23]``)."""
    return re.fullmatch(rf"[ \t]*(?:{_BRACKETED}|{_TIME})[ \t]*", value) is not None


def accepted_labels(labels: Collection[str], known: Collection[str] = (), *,
                    paragraphs: int | None = None) -> frozenset[str]:
    """The candidate labels (casefolded) taken as speakers.

    A label is a speaker when it is known (for example from a table's speaker column), is a
    role word ("Interviewer 2"), or, unless it is a word of :data:`NOT_SPEAKERS` ("Note",
    "Model 3", "RQ5", "H1"), when it is a short id ("I", "P01") or opens at least two lines
    ("Dr. Smith:" twice). "My answer: yes" once is none of these. With ``paragraphs``, ids and
    recurring labels count only when the labels open at least :data:`MIN_LABELLED_SHARE` of
    the document's paragraphs (from the first candidate label on), so that a few such lines in
    a paper stay text.

    Args:
        labels: every candidate label of the document, one per line it opens.
        known: labels to accept whatever they look like.
        paragraphs: the number of paragraphs of the document from the first candidate label on
            (None: no share is required).

    Returns:
        The accepted labels, casefolded.
    """
    counts = Counter(label.casefold() for label in labels)
    strong = {label.casefold() for label in known}
    strong.update(label.casefold() for label in labels if is_role_label(label))
    weak = {label.casefold() for label in labels if is_speaker_like(label)}
    weak.update(key for key, count in counts.items() if count >= 2 and not _not_a_speaker(key))
    weak -= strong
    if weak and paragraphs is not None:
        opened = sum(counts[key] for key in strong | weak)
        if opened < MIN_LABELLED_SHARE * paragraphs:
            weak = set()
    return frozenset(strong | weak)


@dataclass(frozen=True)
class TurnReading:
    """How a transcript's text was read into turns (:func:`read_turns`).

    Attributes:
        turns: the turns, as :func:`parse_turns` returns them.
        labels: the speaker labels taken, as written, in order of first appearance.
        rejected: candidate labels not taken as speakers (their lines are text), casefolded.
    """

    turns: tuple[Turn, ...]
    labels: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()


def parse_turns(text: str, *, speakers: Collection[str] = ()) -> tuple[Turn, ...]:
    """Split normalised transcript text into speaker turns.

    Args:
        text: the document's normalised text (``\\n`` line endings).
        speakers: labels to accept as speakers even if seen once and not id-like.

    Returns:
        The turns in document order; text outside any speaker's turn (a preamble, or a document
        without labels) gives speaker-None turns, one per paragraph. In a document with speaker
        labels, such a paragraph that is a header (short lines, ``Field: value`` lines, a note
        in emphasis or brackets) has ``header`` set: it is not coded.
    """
    return read_turns(text, speakers=speakers).turns


def read_turns(text: str, *, speakers: Collection[str] = ()) -> TurnReading:
    """:func:`parse_turns`, with the labels taken and rejected and the header turns."""
    lines = _lines(text)
    breaks = [_is_break(text[s:e]) for s, e in lines]
    matches = [None if is_break else match_label(text[s:e]) for (s, e), is_break in zip(lines, breaks)]
    found = [_bare_label(text[s:e]) if m is None and not b else None
             for (s, e), m, b in zip(lines, matches, breaks)]
    candidates = [m.label for m in matches if m is not None]
    bare_counts = Counter(f[0].casefold() for f in found if f is not None)
    colon_labels = {label.casefold() for label in candidates}
    # A label alone on its line counts when it looks like a speaker (an id, a role word, a name
    # in capitals or in bold, or a label written with a colon elsewhere in the document), recurs
    # (a role word need not), and text follows it.
    bare: list[str | None] = []
    for k, item in enumerate(found):
        if item is None:
            bare.append(None)
            continue
        label, bold = item
        key = label.casefold()
        looks = (is_speaker_like(label) or key in colon_labels
                 or ((bold or label.isupper()) and not _not_a_speaker(label)))
        recurs = bare_counts[key] + (key in colon_labels) >= 2 or is_role_label(label)
        bare.append(label if looks and recurs and _text_follows(text, lines, breaks, k) else None)
    candidates += [label for label in bare if label is not None]
    # The share of paragraphs that labels open leaves out the header paragraphs at the start, so
    # that a long header does not hide a short transcript.
    likely = accepted_labels(candidates, speakers)
    opens = [(m.label if m is not None else b) for m, b in zip(matches, bare)]
    paragraphs = _paragraphs(text, lines, breaks, opens, likely)
    accepted = accepted_labels(candidates, speakers, paragraphs=paragraphs)
    builder = _TurnBuilder(text)
    for (start, end), match, alone, is_break in zip(lines, matches, bare, breaks):
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
        elif alone is not None and alone.casefold() in accepted:
            builder.open(alone)
        else:
            quote = _QUOTE_MARKER.match(line)  # "> " quoting is decoration, not speech
            builder.content(start + (quote.end() if quote else 0), end)
    turns = builder.finish()
    taken = tuple(dict.fromkeys(t.speaker for t in turns if t.speaker is not None))
    rejected = tuple(sorted({label.casefold() for label in candidates} - accepted))
    if taken:
        turns = tuple(replace(t, header=True) if t.speaker is None and _is_header(text, t, accepted) else t
                      for t in turns)
    return TurnReading(turns, taken, rejected)


def _bare_label(line: str) -> tuple[str, bool] | None:
    """The label of a line that holds only a label without a colon, and whether it is bold."""
    match = _BARE_LABEL_LINE.match(line)
    if match is None:
        return None
    label = match["label"]
    if match["open"] and "_" in match["open"]:
        label = label.rstrip("_")
    label = " ".join(label.split())
    if not label or len(label) > _MAX_LABEL or (match["open"] or "") != (match["close"] or ""):
        return None
    return label, match["open"] in ("**", "__")


def _text_follows(text: str, lines: list[tuple[int, int]], breaks: list[bool], k: int) -> bool:
    """Whether the next non-blank line after line ``k`` is text (not a break, not the end)."""
    for (start, end), is_break in zip(lines[k + 1:], breaks[k + 1:]):
        if text[start:end].strip():
            return not is_break
    return False


def _paragraphs(text: str, lines: list[tuple[int, int]], breaks: list[bool], opens: list[str | None],
                likely: frozenset[str]) -> int:
    """Runs of consecutive non-blank, non-break lines, less the header paragraphs before the
    first paragraph with a line that a ``likely`` label opens or a line that is not a header line."""
    runs: list[list[int]] = []
    inside = False
    for k, ((start, end), is_break) in enumerate(zip(lines, breaks)):
        if is_break or not text[start:end].strip():
            inside = False
        elif inside:
            runs[-1].append(k)
        else:
            runs.append([k])
            inside = True
    leading = 0
    for run in runs:
        if any((opens[k] or "").casefold() in likely or not _header_line(text[slice(*lines[k])], likely)
               for k in run):
            break
        leading += 1
    return len(runs) - leading


def _is_header(text: str, turn: Turn, accepted: frozenset[str]) -> bool:
    """Whether every line of a speaker-None turn is a header line."""
    return all(_header_line(line, accepted)
               for span in turn.spans for line in text[span.start:span.end].split("\n"))


def _header_line(line: str, accepted: frozenset[str]) -> bool:
    """A line of a header: at most ten words, a note in emphasis or brackets (at most 40 words),
    or a ``Field: value`` line whose label is no speaker (at most 20 words)."""
    words = len(_WORDS.findall(line))
    if words <= _HEADER_WORDS:
        return True
    if _NOTE.match(line) and words <= _NOTE_WORDS:
        return True
    field_match = match_label(line, timed=False)
    return field_match is not None and field_match.label.casefold() not in accepted and words <= 2 * _HEADER_WORDS


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
