"""The reading report: for every file read, what was found in it and what will be coded.

:func:`reading_report` describes each document (:class:`FileReading`): its format, the speakers
found with their turn counts, which of them are coded and which are left out (the interviewer,
an excluded or unselected speaker), its language, the characters read and the characters
skipped with the reason. Its warnings say what a researcher should check: a file in which no
speaker label was recognised while others have them, text skipped as a header. ``segment`` and
``suggest`` print it as a short table (:meth:`ReadingReport.table`), the run manifest records it
and the HTML report shows it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nlp_coder.records import Document

if TYPE_CHECKING:
    from nlp_coder.readers.corpus import CorpusReading
    from nlp_coder.segment import SegmentOptions

#: What happens to a speaker's turns: coded, left out as the interviewer, left out by
#: ``--exclude-speaker``, or left out because ``--speaker`` chose others.
SPEAKER_STATUSES = ("coded", "interviewer", "excluded", "not selected")
_TRANSCRIPT_FORMATS = frozenset({"txt", "md", "docx", "vtt", "srt"})


@dataclass(frozen=True)
class SpeakerReading:
    """One speaker of a file: the label as written, its turns, and what happens to them."""

    label: str
    turns: int
    status: str  # one of SPEAKER_STATUSES


@dataclass(frozen=True)
class FileReading:
    """What was read from one document.

    Attributes:
        document: the document's id (its path in the corpus folder, or its table's name).
        source: the file it was read from.
        format: ``txt``, ``md``, ``docx``, ``vtt``, ``srt``, ``csv``, ``jsonl`` or ``qdpx``.
        speakers: the speakers found, in order of first appearance, with their turns.
        language: the language detected (:func:`nlp_coder.language.detect_language`; ``und``
            when it cannot be told).
        characters: characters of the document's text.
        unlabelled_turns: turns without a speaker (text before the first label, a document
            without labels); coded unless they are a header.
        skipped: characters not coded, with why (``("header", 97)``); speakers left out are in
            ``speakers``.
        labels_as_text: words that look like speaker labels ("Note:", "RQ5:") but were read as
            text, casefolded.
    """

    document: str
    source: str
    format: str
    speakers: tuple[SpeakerReading, ...]
    language: str
    characters: int
    unlabelled_turns: int = 0
    skipped: tuple[tuple[str, int], ...] = ()
    labels_as_text: tuple[str, ...] = ()

    @property
    def coded(self) -> tuple[str, ...]:
        """The speakers whose turns are coded."""
        return tuple(s.label for s in self.speakers if s.status == "coded")

    @property
    def interviewers(self) -> tuple[str, ...]:
        """The speakers left out as the interviewer."""
        return tuple(s.label for s in self.speakers if s.status == "interviewer")

    @property
    def skipped_characters(self) -> int:
        return sum(n for _, n in self.skipped)

    def speaker_text(self) -> str:
        """``Mother 24, Interviewer 25 (interviewer)``: each speaker with turns and, when not coded, why."""
        parts = [f"{s.label} {s.turns}" + ("" if s.status == "coded" else f" ({s.status})") for s in self.speakers]
        return ", ".join(parts) if parts else "no speaker labels"

    def skipped_text(self) -> str:
        return ", ".join(f"{n:,} ({why})" for why, n in self.skipped) if self.skipped else "0"


@dataclass(frozen=True)
class ReadingReport:
    """The :class:`FileReading` of every document, and the warnings about them (one line each)."""

    files: tuple[FileReading, ...]
    warnings: tuple[str, ...] = ()

    def table(self, verbose: bool = False) -> str:
        """A short table, one line per file; with ``verbose`` every detail, a block per file."""
        if verbose:
            return "\n".join(_detail(f) for f in self.files)
        header = ("file", "format", "language", "characters", "skipped", "speakers (turns)")
        rows = [(f.document, f.format, f.language, f"{f.characters:,}", f.skipped_text(), f.speaker_text())
                for f in self.files]
        widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header) - 1)]
        lines = []
        for row in [header, *rows]:
            cells = [cell.rjust(w) if k in (3,) else cell.ljust(w) for k, (cell, w) in enumerate(zip(row, widths))]
            lines.append("  ".join([*cells, row[-1]]).rstrip())
        return "\n".join(lines)


def _detail(f: FileReading) -> str:
    lines = [f"{f.document} ({f.format}, from {f.source})",
             f"  language: {f.language}",
             f"  characters: {f.characters:,} read, {f.skipped_characters:,} skipped"
             + (f" ({', '.join(f'{why}: {n:,}' for why, n in f.skipped)})" if f.skipped else "")]
    if f.speakers:
        for s in f.speakers:
            lines.append(f"  speaker {s.label}: {s.turns} turn{'s' if s.turns != 1 else ''}, {s.status}")
    else:
        lines.append("  speakers: no speaker labels recognised; all text is coded")
    if f.unlabelled_turns:
        lines.append(f"  turns without a speaker: {f.unlabelled_turns}")
    if f.labels_as_text:
        lines.append(f"  read as text, not speakers: {', '.join(label + ':' for label in f.labels_as_text)}")
    return "\n".join(lines)


def reading_report(documents: Sequence[Document] | CorpusReading, options: SegmentOptions | None = None, *,
                   languages: Mapping[str, str] | None = None) -> ReadingReport:
    """The reading report of documents read with :func:`nlp_coder.read_corpus`, for the speakers
    and headers that ``options`` code.

    Args:
        documents: the documents, or a corpus read.
        options: the segmentation options (which speakers are coded); default
            :class:`~nlp_coder.segment.SegmentOptions`.
        languages: each document's language by id, when already known (as the segmenter
            reads them); otherwise detected (:func:`nlp_coder.language.detect_language`).

    Returns:
        A :class:`FileReading` per document, in order, with the warnings.
    """
    from nlp_coder.readers.corpus import CorpusReading
    from nlp_coder.segment import SegmentOptions, coded_turns

    if isinstance(documents, CorpusReading):
        documents = documents.documents
    options = options or SegmentOptions()
    languages = languages or {}
    files = tuple(_file_reading(doc, options, coded_turns(doc, options), languages.get(doc.id))
                  for doc in documents)
    return ReadingReport(files, _warnings(files, options))


def _file_reading(doc: Document, options: SegmentOptions, coded: set[int], language: str | None) -> FileReading:
    from nlp_coder.language import detect_language
    from nlp_coder.segment import is_interviewer as interviewer_label

    turns = Counter(t.speaker for t in doc.turns if t.speaker is not None)
    coded_turns = Counter(t.speaker for t in doc.turns if t.speaker is not None and t.index in coded)
    wanted = {s.lower() for s in options.speakers}
    excluded = {s.lower() for s in options.exclude_speakers}
    speakers = []
    for label in doc.speakers:
        if coded_turns[label]:
            status = "coded"
        elif label.lower() in excluded:
            status = "excluded"
        elif wanted:
            status = "not selected"
        elif interviewer_label(label, options.interviewer_labels):
            status = "interviewer"
        else:  # pragma: no cover - every other rule codes the speaker
            status = "not selected"
        speakers.append(SpeakerReading(label, turns[label], status))
    header = sum(s.end - s.start for t in doc.turns if t.header and t.index not in coded for s in t.spans)
    return FileReading(
        document=doc.id, source=doc.source, format=doc.format, speakers=tuple(speakers),
        language=language or detect_language(doc.text).code, characters=len(doc.text),
        unlabelled_turns=sum(1 for t in doc.turns if t.speaker is None),
        skipped=(("header", header),) if header else (),
        labels_as_text=_labels_as_text(doc),
    )


def _labels_as_text(doc: Document) -> tuple[str, ...]:
    if doc.format not in ("txt", "md", "docx") or doc.presegmented:
        return ()
    from nlp_coder.readers.turns import read_turns

    return read_turns(doc.text, speakers=doc.speakers).rejected


def _warnings(files: Sequence[FileReading], options: SegmentOptions) -> tuple[str, ...]:
    warnings: list[str] = []
    transcripts = [f for f in files if f.format in _TRANSCRIPT_FORMATS]
    labelled = [f for f in transcripts if f.speakers]
    if labelled:
        for f in transcripts:
            if not f.speakers:
                warnings.append(
                    f"{f.document}: no speaker label recognised, while {len(labelled)} other "
                    f"file{'s' if len(labelled) != 1 else ''} have them: all its text is coded as one "
                    "speaker's, the interviewer's too (check its labels: docs/transcripts.md#speaker-labels)")
    for f in files:
        for why, n in f.skipped:
            if why == "header":
                warnings.append(f"{f.document}: {n:,} characters without a speaker read as a header "
                                "(a title, a date line) and not coded (--all-speakers codes them)")
    return tuple(warnings)
