"""Records of a REFI-QDA project and of human or machine codings.

A :class:`Coding` is one code applied to one passage by one coder, with offsets into the
normalised text of a :class:`~nlp_coder.records.Document` (``\\n`` line endings), like every
other offset in nlp_coder. :class:`Source` keeps the text exactly as the QDA tool stored it, so
offsets can be mapped back to the tool's own positions (see :meth:`Source.raw_start`).
"""

from __future__ import annotations

import re
import uuid
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import cached_property

from nlp_coder.records import Codebook, Document

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
#: The user that nlp_coder's own codings (suggestions, audit flags) are recorded under.
MACHINE_USER = "nlp-coder"

# GUIDs nlp_coder writes are derived from content (uuid5), so the same input gives the same file.
_GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/nlp-coder/nlp-coder/refi-qda")


def make_guid(*parts: object) -> str:
    """A deterministic GUID for the given key parts (upper case, as most QDA tools write them)."""
    return str(uuid.uuid5(_GUID_NAMESPACE, "\x1f".join(str(p) for p in parts))).upper()


def norm_guid(value: str | None) -> str:
    """A GUID for comparison: without braces or spaces, lower case (tools differ in both)."""
    return (value or "").strip().strip("{}").strip().lower()


def slug(name: str) -> str:
    """A code id made from a code name: ``"Warm & kind"`` -> ``warm-kind``."""
    return re.sub(r"[^\w]+", "-", name.casefold()).strip("-_") or "code"


@dataclass(frozen=True)
class Coding:
    """One code applied to ``document.text[start:end]`` by one coder.

    ``coder`` is the REFI user's name (or the ``coder`` column of a codings CSV; ``nlp-coder``
    for the machine). ``note`` is the text of a note attached to the coding, if any.
    """

    document: str
    start: int
    end: int
    code: str
    coder: str
    note: str = ""


@dataclass(frozen=True)
class Source:
    """A text source of a project: its GUID, the document read from it, and its text as stored.

    ``raw`` is the text as the tool stored it (possibly with ``\\r\\n`` line endings, no BOM);
    REFI positions count code points of ``raw``. ``document.text`` is ``raw`` with line endings
    normalised, which is what nlp_coder's offsets count.
    """

    guid: str
    document: Document
    raw: str

    @cached_property
    def _removed(self) -> list[int]:
        # Positions in ``raw`` of the "\r" of every "\r\n": the characters normalisation drops.
        return [m.start() for m in re.finditer("\r\n", self.raw)]

    @cached_property
    def _shifted(self) -> list[int]:
        # Where each dropped "\r" sat in the normalised text.
        return [r - i for i, r in enumerate(self._removed)]

    def to_text(self, position: int) -> int:
        """A REFI position (into ``raw``) as an offset into ``document.text``."""
        return position - bisect_left(self._removed, position)

    def raw_start(self, offset: int) -> int:
        """An offset into ``document.text`` as a REFI start position (into ``raw``)."""
        return offset + bisect_right(self._shifted, offset)

    def raw_end(self, offset: int) -> int:
        """An offset into ``document.text`` as a REFI end position: a "\r\n" is never split."""
        return offset + bisect_left(self._shifted, offset)


@dataclass(frozen=True)
class RefiCode:
    """A code of a REFI codebook as the tool stored it (GUID, name, description, tree)."""

    guid: str
    name: str
    codable: bool
    description: str = ""
    color: str | None = None
    parent: str | None = None  # the parent's GUID


@dataclass(frozen=True)
class Project:
    """A REFI-QDA project read from a ``.qdpx`` file.

    ``code_ids`` map code GUIDs to the ids of ``codebook``; ``codings`` are every coding of a text
    source, in source order; ``markers`` are the fragments of a sample (selections without
    codings made by ``nlp-coder``). ``warnings`` concern the sources and codings,
    ``codebook_warnings`` the codebook (codes without description). ``qde`` and ``members`` are
    the archive as read, so that a project written back keeps everything nlp_coder does not
    model (notes, sets, links, other sources).
    """

    name: str
    path: str
    sources: tuple[Source, ...]
    codebook: Codebook | None
    refi_codes: tuple[RefiCode, ...]
    code_ids: tuple[tuple[str, str], ...]  # (normalised GUID, code id)
    users: tuple[tuple[str, str], ...]  # (normalised GUID, name)
    codings: tuple[Coding, ...]
    warnings: tuple[str, ...] = ()
    codebook_warnings: tuple[str, ...] = ()
    markers: tuple[tuple[str, int, int], ...] = ()  # uncoded selections by nlp-coder: a sample's fragments
    qde: bytes = field(default=b"", repr=False, compare=False)
    members: tuple[tuple[str, bytes], ...] = field(default=(), repr=False, compare=False)

    @property
    def documents(self) -> tuple[Document, ...]:
        return tuple(s.document for s in self.sources)

    @property
    def coders(self) -> tuple[str, ...]:
        """The coders of the project's codings, in order of first appearance."""
        return tuple(dict.fromkeys(c.coder for c in self.codings))

    def source(self, document_id: str) -> Source:
        for source in self.sources:
            if source.document.id == document_id:
                return source
        raise KeyError(document_id)
