"""Reading subtitle transcripts (.vtt, .srt) into document text and turns.

The document text is built from the cues: a new speaker opens a line ``Speaker: text`` and the
cues that follow from the same speaker (or from no named speaker) are continuation lines of that
turn. Turns and spans are recorded while the text is built, so nothing is parsed twice.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import srt
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError
from webvtt.models import Caption

from nlp_coder.errors import InputError
from nlp_coder.readers.turns import accepted_labels, match_label
from nlp_coder.records import Span, Turn

# ">> Name: text" (broadcast style); a bare ">>" marks a change of speaker without a name.
_CHEVRONS = re.compile(r"[ \t]*>>[ \t]*")
_BRACKET_NAME = re.compile(r"\[(?P<name>[^\W\d_][^\]\n]{0,39})\][ \t]+(?=\S)")
# Bracketed sound descriptions are not speakers: "[Music] ...", "[LAUGHTER] yes".
_SOUNDS = frozenset(
    {"music", "laughter", "laughs", "laughing", "applause", "inaudible", "crosstalk", "silence",
     "noise", "background noise", "pause", "unintelligible", "indistinct", "coughs", "sighs"}
)
_SNIPPET = 60
MALFORMED = "E103"
"""The catalogue code of a malformed subtitle file."""
_MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True)
class _CueLine:
    """One line of cue text with the speaker it names, if any.

    ``named`` is True when the line carries an explicit speaker (a voice tag, ``[Name]`` or
    ``>>``); ``label`` is a ``Name:`` prefix still to be checked against the whole file.
    """

    text: str
    start_ms: int
    speaker: str | None = None
    named: bool = False
    label: str | None = None
    after_label: str = ""


@dataclass(frozen=True)
class CaptionText:
    """The document text and turns built from a subtitle file."""

    text: str
    turns: tuple[Turn, ...]


def read_vtt(text: str, where: str) -> CaptionText:
    """Build a document from WebVTT text.

    Args:
        text: the normalised file text.
        where: the file's name, for messages.

    Returns:
        The document text and its turns.

    Raises:
        InputError: the file is not WebVTT, a cue is malformed, or no cue has text.
    """
    try:
        # strict: a malformed cue is reported rather than silently dropped with its speech
        captions = webvtt.WebVTT.from_string(text, strict=True).captions
    except MalformedFileError:
        raise InputError(
            "is not a WebVTT file (its first line must be WEBVTT)", where,
            "Export the captions again as WebVTT, or give the file the suffix of its format", code=MALFORMED,
        ) from None
    except (MalformedCaptionError, ValueError) as error:
        raise InputError(
            f"has a malformed cue: {_snippet(str(error))}", where,
            "Correct the cue's timing line (hh:mm:ss.ttt --> hh:mm:ss.ttt) or remove the cue", code=MALFORMED,
        ) from None
    lines: list[_CueLine] = []
    for caption in captions:
        start_ms = caption.start_time.in_milliseconds()
        for raw in caption.lines:
            if "<" not in raw:  # no tag: the line is its own text (Caption would return it as it is)
                lines.append(_cue_line(html.unescape(raw.strip()), start_ms, None))
                continue
            cue = Caption(text=raw.strip())  # line by line, so each line's voice tag is seen
            lines.append(_cue_line(html.unescape(cue.text), start_ms, cue.voice))
    return _build(lines, where)


def read_srt(text: str, where: str) -> CaptionText:
    """Build a document from SubRip (.srt) text.

    Args:
        text: the normalised file text.
        where: the file's name, for messages.

    Returns:
        The document text and its turns.

    Raises:
        InputError: a subtitle block cannot be parsed, or no subtitle has text.
    """
    try:
        subtitles = parse_srt(text)
    except srt.SRTParseError as error:
        unmatched = error.unmatched_content
        first = error.expected_start + len(unmatched) - len(unmatched.lstrip())
        line = text.count("\n", 0, first) + 1
        raise InputError(
            f"cannot read the subtitle block at line {line}: "
            f"{_snippet(unmatched.strip())!r}",
            where,
            "Each block needs a number, a 'hh:mm:ss,mmm --> hh:mm:ss,mmm' line and text; "
            "correct or remove it",
            code=MALFORMED,
        ) from None
    except srt.TimestampParseError as error:
        raise InputError(
            f"has an unreadable time: {_snippet(str(error))}", where,
            "Write times as hh:mm:ss,mmm", code=MALFORMED,
        ) from None
    except (OverflowError, ValueError) as error:  # a time of more days than Python's timedelta holds
        raise InputError(
            f"has a time too large to read ({_snippet(str(error))})", where,
            "Write times as hh:mm:ss,mmm", code=MALFORMED,
        ) from None
    lines: list[_CueLine] = []
    for subtitle in subtitles:
        start_ms = subtitle.start // _MILLISECOND
        for raw in subtitle.content.split("\n"):
            # SubRip allows <i>, <b> and <font> tags; the WebVTT caption strips them the same way.
            lines.append(_cue_line(Caption(text=raw).text if "<" in raw else raw, start_ms, None))
    return _build(lines, where)


def parse_srt(text: str) -> list[srt.Subtitle]:
    """The subtitles of SubRip text, as ``srt.parse`` reads them, in linear time.

    ``srt.parse`` searches for each next block with ``finditer`` and checks afterwards that no
    text was skipped. Where a block cannot be parsed, the search tries every following position,
    and from each position inside a run of whitespace the pattern's leading ``\\s*`` scans to the
    end of the run: a run of 16,000 tabs in a broken time line takes ten seconds. Here the same
    pattern (``srt.SRT_REGEX``) is matched at the one position where the next block must start,
    which gives the same subtitles and, for a broken block, the same error at the same place
    (its unmatched content runs to the next blank line rather than to the next block read).

    Raises:
        srt.SRTParseError: a block cannot be parsed.
        srt.TimestampParseError, OverflowError: a time cannot be read.
    """
    position, size = 0, len(text)
    # srt.parse lets the text start with a byte-order mark or whitespace (the pattern's leading
    # \s* takes whitespace anyway: a block that fails after whitespace fails there too), and a
    # text of only whitespace has no subtitle.
    if text.startswith("\ufeff") and srt.SRT_REGEX.match(text) is None:
        position = 1
    subtitles: list[srt.Subtitle] = []
    while position < size and (match := srt.SRT_REGEX.match(text, position)) is not None:
        raw_index, raw_start, raw_end, proprietary, content = match.groups()
        subtitles.append(srt.Subtitle(
            index=None, start=srt.srt_timestamp_to_timedelta(raw_start),
            end=srt.srt_timestamp_to_timedelta(raw_end), content=content.replace("\r\n", "\n"),
            proprietary=proprietary,
        ))
        position = match.end()
    if not subtitles:
        position = 0
        if text.isspace() or text in ("", "\ufeff"):
            return subtitles
    if position < size:
        start = position + len(text[position:]) - len(text[position:].lstrip())
        end = text.find("\n\n", start)
        raise srt.SRTParseError(position, size, text[position:end if end >= 0 else size])
    return subtitles


def clock(milliseconds: int) -> str:
    """A time as ``HH:MM:SS``, with ``.mmm`` only when the milliseconds are not zero."""
    seconds, millis = divmod(milliseconds, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    value = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{value}.{millis:03d}" if millis else value


def _cue_line(text: str, start_ms: int, voice: str | None) -> _CueLine:
    """Find the speaker a line of cue text names."""
    text = text.strip()
    if voice:
        return _CueLine(text, start_ms, " ".join(voice.split()), named=True)
    chevrons = _CHEVRONS.match(text)
    if chevrons:
        rest = text[chevrons.end():]
        match = match_label(rest, timed=False)
        if match is not None:
            return _CueLine(rest[match.content:].strip(), start_ms, match.label, named=True)
        return _CueLine(rest.strip(), start_ms, None, named=True)
    bracket = _BRACKET_NAME.match(text)
    if bracket and bracket["name"][0].isupper() and bracket["name"].casefold() not in _SOUNDS:
        name = " ".join(bracket["name"].split())
        return _CueLine(text[bracket.end():].strip(), start_ms, name, named=True)
    # Only "Name: text": a cue ending in a time ("see you at 10:30") is speech, not a label.
    match = match_label(text, timed=False)
    if match is not None:
        return _CueLine(text, start_ms, label=match.label, after_label=text[match.content:].strip())
    return _CueLine(text, start_ms)


def _build(lines: Iterable[_CueLine], where: str) -> CaptionText:
    """Lay out the cue lines as turns of document text, recording offsets as they are written."""
    lines = list(lines)
    # A "Name:" prefix is a speaker on the same terms as in plain transcripts ("Note: ..." once
    # is speech) or when a voice tag, "[Name]" or ">>" names the same speaker elsewhere; named
    # lines are explicit and always open their speaker's turn.
    known = {line.speaker for line in lines if line.named and line.speaker is not None}
    accepted = accepted_labels([line.label for line in lines if line.label is not None], known)
    layout = _Layout()
    # A speaker named on a line of its own ("Anna:" then the text below) speaks the next line.
    carried: _CueLine | None = None
    for line in lines:
        named, speaker, text = line.named, line.speaker, line.text
        if line.label is not None and line.label.casefold() in accepted:
            named, speaker, text = True, line.label, line.after_label
        if not text:
            carried = _CueLine("", line.start_ms, speaker, named=True) if named else carried
            continue
        if carried is not None and not named:
            named, speaker = True, carried.speaker
        carried = None
        layout.add(text, line.start_ms, speaker, named=named)
    turns = layout.finish()
    if not turns:
        raise InputError("has no caption text", where, "Check that the cues hold text", code="E106")
    return CaptionText("".join(layout.parts), turns)


class _Layout:
    """Writes turns one line at a time and keeps each turn's single span."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.turns: list[Turn] = []
        self.speaker: str | None = None
        self.timestamp: str | None = None
        self.start: int | None = None
        self.end = 0

    def add(self, text: str, start_ms: int, speaker: str | None, *, named: bool) -> None:
        prefix = "\n" if self.parts else ""
        # ">>" names no one but still marks a new speaker, hence the "is None" case.
        if self.start is None or (named and (speaker != self.speaker or speaker is None)):
            self._close()
            self.speaker = speaker if named else None
            self.timestamp = clock(start_ms)
            if self.speaker is not None:
                prefix += f"{self.speaker}: "
            self.start = self.length + len(prefix)
        self.parts.append(prefix + text)
        self.length += len(prefix) + len(text)
        self.end = self.length

    def _close(self) -> None:
        if self.start is not None:
            span = Span(self.start, self.end)
            self.turns.append(Turn(len(self.turns), self.speaker, (span,), self.timestamp))
            self.start = None

    def finish(self) -> tuple[Turn, ...]:
        self._close()
        return tuple(self.turns)


def _snippet(value: str) -> str:
    """A short single-line excerpt for a message."""
    value = " ".join(value.split())
    return value if len(value) <= _SNIPPET else value[: _SNIPPET - 1] + "…"

