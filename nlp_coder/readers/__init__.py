"""Reading transcripts into :class:`~nlp_coder.records.Document` records.

Plain text (.txt, .md) and Word (.docx) transcripts are split into speaker turns by
:func:`parse_turns`; subtitles (.vtt, .srt) are laid out as turns from their cues; fragment
tables (.csv, .jsonl) give pre-segmented documents, one turn per row. All offsets are into the
normalised text returned by :func:`decode`. :func:`reading_report` says what was read from each
file.
"""

from nlp_coder.readers.corpus import CorpusReading, read_corpus, read_corpus_report, read_document
from nlp_coder.readers.decoding import SUPPORTED_SUFFIXES, decode
from nlp_coder.readers.report import FileReading, ReadingReport, SpeakerReading, reading_report
from nlp_coder.readers.turns import parse_turns

__all__ = [
    "SUPPORTED_SUFFIXES",
    "CorpusReading",
    "FileReading",
    "ReadingReport",
    "SpeakerReading",
    "decode",
    "parse_turns",
    "read_corpus",
    "read_corpus_report",
    "read_document",
    "reading_report",
]
