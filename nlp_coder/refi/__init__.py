"""REFI-QDA exchange: read and write ``.qdpx`` projects and ``.qdc`` codebooks.

* :func:`read_qdpx` reads a project's text sources (as :class:`~nlp_coder.records.Document`),
  codebook, users and codings; :func:`qdpx_documents` is what the corpus reader uses.
* :func:`build_qdpx` writes a project back with new codings (suggestions, audit flags), or
  makes a new one from documents; :func:`write_qdc` / :func:`render_qdc` write codebooks.
* :func:`read_codings` reads codings from a ``.qdpx``, a codings CSV or a suggest JSONL.

Format notes and the offset convention: ``docs/refi-qda.md``.
"""

from dataclasses import replace
from pathlib import Path

from nlp_coder.errors import InputError
from nlp_coder.records import Codebook, Document
from nlp_coder.refi.codebook import codebook_to_yaml, parse_description, render_description
from nlp_coder.refi.codings import CodedInput, Unit, read_codings, read_codings_csv, read_suggest_jsonl
from nlp_coder.refi.model import MACHINE_USER, Coding, Project, RefiCode, Source
from nlp_coder.refi.read import load_qdc_codebook, read_qdc, read_qdpx
from nlp_coder.refi.write import (
    Marker,
    build_qdpx,
    render_qdc,
    suggestion_codings,
    write_atomic_bytes,
    write_qdc,
    write_suggestions_qdpx,
)

__all__ = [
    "MACHINE_USER", "CodedInput", "Coding", "Marker", "Project", "RefiCode", "Source", "Unit",
    "build_qdpx", "codebook_to_yaml", "load_codebook_any", "load_qdc_codebook", "parse_description",
    "qdpx_documents", "read_codings", "read_codings_csv", "read_qdc", "read_qdpx", "read_suggest_jsonl",
    "render_description", "render_qdc", "suggestion_codings", "write_atomic_bytes", "write_qdc",
    "write_suggestions_qdpx",
]


def qdpx_documents(path: str | Path) -> tuple[Document, ...]:
    """The text sources of a ``.qdpx`` as documents (what the corpus reader uses); the project's
    warnings ride on the first document."""
    project = read_qdpx(path)
    if not project.sources:
        raise InputError("the project has no text source with plain text", str(path),
                         "Export the project with its text sources", code="E120")
    documents = list(project.documents)
    documents[0] = replace(documents[0], warnings=project.warnings + documents[0].warnings)
    return tuple(documents)


def load_codebook_any(path: str | Path) -> Codebook:
    """The codebook of a ``.qdc`` file or of a ``.qdpx`` project."""
    path = Path(path)
    if path.suffix.casefold() == ".qdc":
        return load_qdc_codebook(path)
    project = read_qdpx(path)
    if project.codebook is None:
        raise InputError("the project has no codebook", str(path), "Give a codebook with codes in it", code="E120")
    return project.codebook
