"""Output files: which format a file gets, and the writer of ``suggest``'s suggestions.

:func:`format_for` is the one place where an output file's suffix decides its format (every
command that writes a file uses it). :class:`SuggestionWriter` writes the suggestions of a run
(:func:`nlp_coder.run.suggest`): JSONL as the corpus streams through, chunk by chunk; CSV, JSON,
Markdown or a REFI-QDA project once every fragment is decided. It checks that the output can be
written before any work is done, and its :meth:`~SuggestionWriter.finish` runs before the run is
recorded as finished, so a run whose output could not be written is recorded as failed.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from nlp_coder.errors import InputError

if TYPE_CHECKING:
    from nlp_coder.match.decide import Decisions
    from nlp_coder.privacy.pseudonymise import Pseudonymiser
    from nlp_coder.records import Codebook
    from nlp_coder.run import SuggestResult

SUFFIXES: dict[str, str] = {
    "jsonl": "jsonl", "csv": "csv", "json": "json", "md": "md", "markdown": "md", "qdpx": "qdpx", "qdc": "qdc",
    "yaml": "yaml", "yml": "yaml", "html": "html", "htm": "html", "txt": "text",
}
"""Output file suffixes (lower case, without the dot) and the format each one means."""

SUGGESTION_FORMATS = ("jsonl", "csv", "json", "md", "qdpx")
"""The formats :class:`SuggestionWriter` writes (``docs/output.md``, ``docs/refi-qda.md``)."""


def format_for(path: str | Path | None, fmt: str | None, default: str | None, *,
               formats: Sequence[str] | None = None, what: str = "the output", option: str = "--out") -> str:
    """The format of an output: ``fmt`` when given, else the one ``path``'s suffix names (among
    ``formats``, when given), else ``default``.

    Args:
        path: the output file, or None (standard output).
        fmt: the format asked for (``--format``), or None.
        default: the format when neither ``fmt`` nor the suffix decides; None: the suffix must.
        formats: the formats the output can have (None: any in :data:`SUFFIXES`).
        what: the output, for the error message ("a sample").
        option: where the file was given, for the error message ("--out", "a TARGET").

    Raises:
        InputError: (``E104``) ``default`` is None and the suffix names none of ``formats``.
    """
    if fmt:
        return fmt
    suffix = Path(path).suffix if path is not None else ""
    found = SUFFIXES.get(suffix.casefold().lstrip("."))
    if found is not None and (formats is None or found in formats):
        return found
    if default is not None:
        return default
    allowed = formats if formats is not None else tuple(dict.fromkeys(SUFFIXES.values()))
    raise InputError(f"cannot write {what} as {suffix or 'a file without suffix'}", str(path),
                     f"Give {option} ending in {' or '.join('.' + f for f in allowed)}", code="E104")


def check_output(path: str | Path | None) -> None:
    """Refuse (``E400``) an output file that cannot be written, before any work is done; None
    (standard output) is always fine."""
    from nlp_coder.export.tables import check_writable

    if path is not None:
        check_writable(path)


def emit(text: str | bytes, path: str | Path | None) -> None:
    """Write a whole output: to ``path`` (written whole or not at all), or to standard output."""
    from nlp_coder.export.tables import write_atomic

    if path is not None:
        write_atomic(path, text)
        return
    if isinstance(text, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


class SuggestionWriter:
    """Writes a run's suggestions to a file, or to standard output.

    Use it as a context manager around :func:`nlp_coder.run.suggest`, passing :attr:`sink`,
    :attr:`keep_results` and :meth:`finish`::

        with SuggestionWriter(out, "jsonl", corpus=corpus) as writer:
            result = suggest(corpus, codebook, store, sink=writer.sink, keep_results=writer.keep_results,
                             finish=writer.finish)

    JSONL lines are written as each chunk is decided (memory stays flat); the file appears, complete,
    when :meth:`finish` runs. Other formats are written by :meth:`finish`. If the run fails, no
    file is left behind.

    Args:
        out: the output file, or None for standard output (not for ``qdpx``).
        fmt: one of :data:`SUGGESTION_FORMATS`.
        corpus: the corpus coded (a ``.qdpx`` corpus is the base of a ``qdpx`` output).
        where: write only fragments assigned every one of these codes (or a descendant).
        codebook: the codebook (or its file), needed with ``where`` to check the code ids before any
            work.
        pseudonymiser: replace names in what is written (``--pseudonymise``,
            :class:`~nlp_coder.privacy.pseudonymise.Pseudonymiser`, already scanned); offsets still
            point into the original documents, but for a ``qdpx``, whose text is pseudonymised.

    Raises:
        InputError: an unknown format, a ``qdpx`` without a file, or an unknown ``where`` code.
        OutputError: ``out`` cannot be written (``E400``).
    """

    def __init__(self, out: str | Path | None, fmt: str, *, corpus: str | Path | None = None,
                 where: Sequence[str] = (), codebook: Codebook | str | Path | None = None,
                 pseudonymiser: Pseudonymiser | None = None) -> None:
        from nlp_coder.export.tables import check_codes

        if fmt not in SUGGESTION_FORMATS:
            raise InputError(f"unknown format '{fmt}'", "--format", f"Use one of: {', '.join(SUGGESTION_FORMATS)}",
                             code="E130")
        if fmt == "qdpx" and (out is None or corpus is None):
            raise InputError("a .qdpx project is written to a file", "--format", "Give --out FILE.qdpx",
                             code="E131")
        if where:
            if codebook is None:
                raise ValueError("where needs the codebook")
            if isinstance(codebook, (str, Path)):
                from nlp_coder.codebook import load_codebook

                codebook = load_codebook(codebook)
            check_codes(codebook, tuple(where))  # unknown codes are refused before any work
        check_output(out)
        self.out = Path(out) if out is not None else None
        self.fmt = fmt
        self.corpus = corpus
        self.where = tuple(where)
        self.pseudonymiser = pseudonymiser
        self.written = 0
        """Fragments written (after the ``where`` selection)."""
        self._stack = contextlib.ExitStack()
        self._handle = None

    @property
    def streams(self) -> bool:
        """Whether results are written as they are decided (JSONL)."""
        return self.fmt == "jsonl"

    @property
    def keep_results(self) -> bool:
        """Whether the run must keep every result for :meth:`finish` (every format but JSONL)."""
        return not self.streams

    @property
    def sink(self):  # type: ignore[no-untyped-def]
        """The run's ``sink`` (None when nothing is written before the end)."""
        return self._write_chunk if self.streams else None

    def __enter__(self) -> SuggestionWriter:
        from nlp_coder.export.tables import atomic_output

        if self.streams:
            self._handle = self._stack.enter_context(atomic_output(self.out))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # After an error the temporary file is removed; after finish() there is nothing left to do.
        self._stack.__exit__(exc_type, exc, tb)

    def _write_chunk(self, decided: Decisions, lines: Sequence[str]) -> None:
        if self._handle is None:
            raise RuntimeError("SuggestionWriter is used outside its with block")
        if self.pseudonymiser is not None:
            from nlp_coder.export.tables import decision_lines

            lines = decision_lines(self.pseudonymiser.decisions(decided))
        if self.where:
            lines = [line for line, keep in zip(lines, decided.having(self.where).tolist()) if keep]
        self._handle.write("".join(line + "\n" for line in lines).encode("utf-8"))
        self.written += len(lines)

    def finish(self, result: SuggestResult) -> None:
        """Complete the output: move the streamed JSONL into place, or write the other formats.
        It raises (and so fails the run) when the output cannot be written."""
        if self.streams:
            self._stack.close()  # the JSONL file is moved into place now, or the error is raised here
            self._handle = None
            return
        from nlp_coder.export.tables import render_results, select

        assert result.decisions is not None, "the run must keep its results (keep_results)"
        shown = select(result.decisions, result.codebook, self.where)
        if self.pseudonymiser is not None and self.fmt == "qdpx":
            from nlp_coder.privacy.pseudonymise import write_pseudonymised_qdpx

            assert self.out is not None and self.corpus is not None
            write_pseudonymised_qdpx(self.out, self.corpus, result.segmentation.documents, result.codebook,
                                     shown.results(), self.pseudonymiser)
        elif self.pseudonymiser is not None:
            notes = result.summary.notes if result.summary is not None else ()
            p = self.pseudonymiser
            emit(render_results(p.decisions(shown), self.fmt, p.manifest(result.manifest), p.walk(result.codebook),
                                p.walk(notes)), self.out)
        elif self.fmt == "qdpx":  # the sources, any human codings untouched, and the suggestions as user nlp-coder
            from nlp_coder.refi import write_suggestions_qdpx

            assert self.out is not None and self.corpus is not None
            write_suggestions_qdpx(self.out, self.corpus, result.segmentation.documents, result.codebook,
                                   shown.results())
        else:
            notes = result.summary.notes if result.summary is not None else ()
            emit(render_results(shown, self.fmt, result.manifest, result.codebook, notes), self.out)
        self.written = len(shown)
