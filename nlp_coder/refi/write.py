"""Writing REFI-QDA files: ``.qdpx`` projects and ``.qdc`` codebooks, byte for byte reproducible.

A project read from a ``.qdpx`` is written back from its own XML, so everything nlp_coder does not
model (notes, cases, sets, links, colours, dates, other sources) and every human coding stays
exactly as it was; only the codings of new users are added (an earlier run's ``nlp-coder``
codings are replaced). Source files stay as they were, and new offsets are mapped back to the
tool's positions (``\\r\\n`` counts as two code points there). A project made from other corpora
gets its sources as UTF-8 ``.txt`` files with ``\\n`` line endings.

GUIDs are derived from content (uuid5), files carry no timestamps, and zip members have a fixed
date, so the same input gives the same bytes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET
from xml.etree.ElementTree import Element

from nlp_coder.errors import InputError
from nlp_coder.records import Codebook, Document, FragmentResult
from nlp_coder.refi.codebook import codebook_to_refi
from nlp_coder.refi.model import (
    CODEBOOK_NS,
    MACHINE_USER,
    PROJECT_NS,
    Coding,
    Project,
    RefiCode,
    Source,
    make_guid,
    norm_guid,
)
from nlp_coder.refi.read import child, children, keep_carriage_returns, local, parse_xml

_PROJECT_ORDER = ("Users", "CodeBook", "Variables", "Cases", "Sources", "Notes", "Links", "Sets", "Graphs",
                  "Description", "NoteRef")
_SOURCE_ORDER = ("Description", "PlainTextContent", "PlainTextSelection", "Coding", "NoteRef", "VariableValue")
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Marker:
    """A passage to point a coder at, written as a selection with no coding (e.g. a sample)."""

    document: str
    start: int
    end: int
    label: str


def write_atomic_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes via a temporary file beside the target, so it is never half-written; a new file
    is owner-only (0600), a replaced one keeps its mode (:func:`nlp_coder.export.tables.atomic_output`).

    Raises:
        OutputError: ``E400``, the file cannot be written; no temporary file is left behind.
    """
    from nlp_coder.export.tables import write_atomic

    write_atomic(path, data)


def render_qdc(codebook: Codebook) -> str:
    """A codebook as a REFI-QDA ``.qdc`` document (exemplars and criteria in ``Description``)."""
    root = ET.Element(f"{{{CODEBOOK_NS}}}CodeBook", {"origin": "nlp-coder"})
    codes = ET.SubElement(root, f"{{{CODEBOOK_NS}}}Codes")
    _add_codes(codes, codebook_to_refi(codebook), CODEBOOK_NS, {})
    return _serialise(root, CODEBOOK_NS, indent=True)


def write_qdc(path: str | Path, codebook: Codebook) -> None:
    write_atomic_bytes(path, render_qdc(codebook).encode("utf-8"))


def _add_codes(parent: Element, codes: Sequence[RefiCode], ns: str, placed: dict[str, Element]) -> None:
    """Append codes under ``parent``, each under its parent code once that is placed."""
    pending = list(codes)
    while pending:
        ready = [c for c in pending if not c.parent or norm_guid(c.parent) in placed]
        if not ready:  # parents that are nowhere: put the codes at the top
            ready = pending
        for code in ready:
            holder = placed.get(norm_guid(code.parent), parent) if code.parent else parent
            attrs = {"guid": code.guid, "name": code.name, "isCodable": "true" if code.codable else "false"}
            if code.color:
                attrs["color"] = code.color
            element = ET.SubElement(holder, f"{{{ns}}}Code" if ns else "Code", attrs)
            if code.description:
                ET.SubElement(element, f"{{{ns}}}Description" if ns else "Description").text = code.description
            placed[norm_guid(code.guid)] = element
        pending = [c for c in pending if c not in ready]


def _serialise(root: Element, ns: str, *, indent: bool) -> str:
    ET.register_namespace("", ns)
    if indent:
        ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _ns(root: Element) -> str:
    return root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""


def _tag(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}" if ns else name


def _ensure(parent: Element, name: str, order: Sequence[str], ns: str) -> Element:
    """The child ``name`` of ``parent``, created at its place in the schema's order if missing."""
    found = child(parent, name)
    if found is not None:
        return found
    element = ET.Element(_tag(ns, name))
    _insert(parent, element, order)
    return element


def _insert(parent: Element, element: Element, order: Sequence[str]) -> None:
    rank = order.index(local(element.tag))
    position = 0
    for i, existing in enumerate(parent):
        name = local(existing.tag)
        if name in order and order.index(name) <= rank:
            position = i + 1
    parent.insert(position, element)


def build_qdpx(*, documents: Sequence[Document], codebook: Codebook | None, codings: Sequence[Coding] = (),
               markers: Sequence[Marker] = (), base: Project | None = None, name: str = "nlp-coder project") -> bytes:
    """A ``.qdpx`` archive: ``base`` (a project as read) or a new project of ``documents``, plus
    ``codings`` (one user per coder) and ``markers`` (selections without codes).

    Codings by a coder who already has codings in ``base`` are refused, except those of
    nlp_coder's own users (``nlp-coder``, ``nlp-coder check``), which replace that user's earlier
    codings: human codings are never changed.
    """
    if base is not None:
        root = parse_xml(keep_carriage_returns(base.qde), base.path)
        members = dict(base.members)
        sources = {s.document.id: s for s in base.sources}
        original = {norm_guid(c.guid): c.guid for c in base.refi_codes}
        code_guids = {code_id: original[guid] for guid, code_id in base.code_ids}
        clash = {c.coder for c in codings if not _is_machine(c.coder)} & set(base.coders)
        if clash:
            raise InputError(f"the project already holds codings by {', '.join(sorted(clash))}", base.path,
                             "Write new codings under another coder name", code="E120")
    else:
        root, members, sources, code_guids = _new_project(documents, codebook, name)
    ns = _ns(root)
    new_coders = sorted({c.coder for c in codings} | ({MACHINE_USER} if markers else set()))
    user_guids = _users(root, ns, new_coders, base)
    if base is not None:
        for coder in new_coders:
            if _is_machine(coder):
                _drop_user_codings(root, user_guids.get(coder))
    if codebook is not None:
        _add_missing_codes(root, ns, codebook, code_guids)
    unknown = {c.code for c in codings} - set(code_guids)
    if unknown:
        raise InputError(f"codes {', '.join(sorted(unknown))} are not in the project's codebook", base.path if base
                         else name, "Give the codebook with --codebook", code="E120")
    source_elements = {norm_guid(e.get("guid")): e for s in root if local(s.tag) == "Sources" for e in s}
    notes: list[Element] = []
    merged: dict[tuple[str, int, int, str, str], list[str]] = {}  # one coding per passage, coder and code
    for coding in codings:
        notes_of = merged.setdefault((coding.document, coding.start, coding.end, coding.coder, coding.code), [])
        if coding.note and coding.note not in notes_of:
            notes_of.append(coding.note)
    grouped: dict[tuple[str, int, int, str], list[Coding]] = {}
    for (doc_id, start, end, coder, code), texts in sorted(merged.items()):
        grouped.setdefault((doc_id, start, end, coder), []).append(
            Coding(doc_id, start, end, code, coder, "\n\n".join(texts)))
    selections: dict[str, list[tuple[int, int, Element]]] = {}
    for (doc_id, start, end, coder), items in grouped.items():
        source = _source(sources, doc_id)
        user = user_guids[coder]
        element = _selection(ns, source, start, end, user, ("selection", doc_id, start, end, coder))
        for coding in items:
            key = ("coding", doc_id, start, end, coder, coding.code)
            made = ET.SubElement(element, _tag(ns, "Coding"), {"guid": make_guid(*key), "creatingUser": user})
            ET.SubElement(made, _tag(ns, "CodeRef"), {"targetGUID": code_guids[coding.code]})
            if coding.note:
                note_guid = make_guid("note", *key)
                ET.SubElement(made, _tag(ns, "NoteRef"), {"targetGUID": note_guid})
                note = ET.Element(_tag(ns, "Note"), {"guid": note_guid, "name": f"{coder}: {coding.code}",
                                                     "creatingUser": user})
                ET.SubElement(note, _tag(ns, "PlainTextContent")).text = coding.note
                notes.append(note)
        selections.setdefault(source.guid, []).append((start, end, element))
    for marker in sorted(markers, key=lambda m: (m.document, m.start, m.end)):
        source = _source(sources, marker.document)
        element = _selection(ns, source, marker.start, marker.end, user_guids[MACHINE_USER],
                             ("marker", marker.document, marker.start, marker.end))
        element.insert(0, ET.Element(_tag(ns, "Description")))
        element[0].text = marker.label
        selections.setdefault(source.guid, []).append((marker.start, marker.end, element))
    for guid, items in selections.items():
        holder = source_elements[norm_guid(guid)]
        for _, _, element in sorted(items, key=lambda item: (item[0], item[1])):
            _insert(holder, element, _SOURCE_ORDER)
    if notes:
        container = _ensure(root, "Notes", _PROJECT_ORDER, ns)
        container.extend(notes)
    qde = _serialise(root, ns or PROJECT_NS, indent=base is None).encode("utf-8")
    return _zip(qde, members)


def _is_machine(coder: str) -> bool:
    return coder == MACHINE_USER or coder.startswith(MACHINE_USER + " ")


def _source(sources: dict[str, Source], doc_id: str) -> Source:
    try:
        return sources[doc_id]
    except KeyError:
        raise InputError(f"document '{doc_id}' is not in the project", None,
                         "Code documents of the project only", code="E120") from None


def _selection(ns: str, source: Source, start: int, end: int, user: str, key: tuple[object, ...]) -> Element:
    text = source.document.text[start:end]
    label = " ".join(text.split())
    return ET.Element(_tag(ns, "PlainTextSelection"), {
        "guid": make_guid(*key), "name": label[:80] + ("…" if len(label) > 80 else ""),
        "startPosition": str(source.raw_start(start)), "endPosition": str(source.raw_end(end)),
        "creatingUser": user,
    })


def _new_project(documents: Sequence[Document], codebook: Codebook | None,
                 name: str) -> tuple[Element, dict[str, bytes], dict[str, Source], dict[str, str]]:
    ns = PROJECT_NS
    root = ET.Element(_tag(ns, "Project"), {"name": name, "origin": "nlp-coder"})
    code_guids: dict[str, str] = {}
    if codebook is not None:
        codes = ET.SubElement(ET.SubElement(root, _tag(ns, "CodeBook")), _tag(ns, "Codes"))
        _add_codes(codes, codebook_to_refi(codebook), ns, {})
        code_guids = {c.id: make_guid("code", c.id) for c in codebook.codes}
    keys = sorted({k for d in documents for k in d.attributes})
    if keys:
        variables = ET.SubElement(root, _tag(ns, "Variables"))
        for key in keys:
            ET.SubElement(variables, _tag(ns, "Variable"),
                          {"guid": make_guid("variable", key), "name": key, "typeOfVariable": "Text"})
    members: dict[str, bytes] = {}
    sources: dict[str, Source] = {}
    container = ET.SubElement(root, _tag(ns, "Sources")) if documents else None
    for document in documents:
        guid = make_guid("source", document.id)
        members[f"sources/{guid}.txt"] = document.text.encode("utf-8")
        element = ET.SubElement(container, _tag(ns, "TextSource"),  # type: ignore[arg-type]
                                {"guid": guid, "name": document.id, "plainTextPath": f"internal://{guid}.txt"})
        for key in keys:
            if key in document.attributes:
                value = ET.SubElement(element, _tag(ns, "VariableValue"))
                ET.SubElement(value, _tag(ns, "VariableRef"), {"targetGUID": make_guid("variable", key)})
                ET.SubElement(value, _tag(ns, "TextValue")).text = document.attributes[key]
        sources[document.id] = Source(guid, document, document.text)
    return root, members, sources, code_guids


def _users(root: Element, ns: str, coders: Sequence[str], base: Project | None) -> dict[str, str]:
    known = {name: guid for guid, name in base.users} if base is not None else {}
    guids: dict[str, str] = {}
    users = _ensure(root, "Users", _PROJECT_ORDER, ns) if coders else None
    existing = {norm_guid(u.get("guid")): u.get("guid") or "" for u in children(users, "User")} if users is not None \
        else {}
    for coder in coders:
        if coder in known and known[coder] in existing:
            guids[coder] = existing[known[coder]]
            continue
        guid = make_guid("user", coder)
        if norm_guid(guid) not in existing:
            ET.SubElement(users, _tag(ns, "User"), {"guid": guid, "name": coder})  # type: ignore[arg-type]
        guids[coder] = guid
    return guids


def _drop_user_codings(root: Element, user: str | None) -> None:
    """Remove an earlier run's codings, selections and notes of the machine user."""
    if user is None:
        return
    mine = norm_guid(user)
    dropped_notes: set[str] = set()
    for sources in children(root, "Sources"):
        for source in sources:
            for selection in list(children(source, "PlainTextSelection")):
                if norm_guid(selection.get("creatingUser")) != mine:
                    continue
                for coding in children(selection, "Coding"):
                    dropped_notes.update(norm_guid(r.get("targetGUID")) for r in children(coding, "NoteRef"))
                if all(norm_guid(c.get("creatingUser")) == mine for c in children(selection, "Coding")):
                    source.remove(selection)
    for notes in list(children(root, "Notes")):
        for note in list(notes):
            if norm_guid(note.get("guid")) in dropped_notes:
                notes.remove(note)
        if len(notes) == 0:
            root.remove(notes)


def _add_missing_codes(root: Element, ns: str, codebook: Codebook, code_guids: dict[str, str]) -> None:
    """Add the codebook's codes the project lacks (matched by code id), under their parents."""
    missing = {make_guid("code", c.id): c.id for c in codebook.codes if c.id not in code_guids}
    if not missing:
        return
    refi = codebook_to_refi(codebook)
    needed_facets = {norm_guid(c.parent) for c in refi if c.guid in missing and c.parent}
    todo = [c for c in refi if c.guid in missing or norm_guid(c.guid) in needed_facets]
    codes = _ensure(_ensure(root, "CodeBook", _PROJECT_ORDER, ns), "Codes", ("Codes",), ns)
    existing = {norm_guid(e.get("guid")): e for e in codes.iter() if local(e.tag) == "Code"}
    todo = [c for c in todo if norm_guid(c.guid) not in existing]
    # A new code's parent may be a code the project has under its own GUID.
    placed = {norm_guid(make_guid("code", cid)): existing[norm_guid(g)]
              for cid, g in code_guids.items() if norm_guid(g) in existing}
    placed.update(existing)
    _add_codes(codes, todo, ns, placed)
    code_guids.update({cid: guid for guid, cid in missing.items()})


def _zip(qde: bytes, members: dict[str, bytes]) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, data in [("project.qde", qde)] + sorted(members.items()):
            info = zipfile.ZipInfo(member, date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def suggestion_codings(results: Sequence[FragmentResult]) -> tuple[Coding, ...]:
    """The codes assigned to fragments (main codes and facets) as codings of the machine user,
    each with a note holding the status, score and reason."""
    out: list[Coding] = []
    for result in results:
        fragment = result.fragment
        for group, decision in [(None, result.decision), *result.facets]:
            scores = {s.code: s for s in decision.suggestions}
            for code in decision.codes:
                s = scores.get(code)
                lines = [f"status: {decision.status}" + (f" (facet {group})" if group else "")]
                if s is not None:
                    lines.append(f"score: {s.score:.3f}")
                    if s.exemplar:
                        sim = f" (similarity {s.exemplar_similarity:.3f})" if s.exemplar_similarity is not None else ""
                        lines.append(f"reason: nearest exemplar \"{s.exemplar}\"{sim}")
                    elif s.definition_similarity is not None:
                        lines.append(f"reason: similarity to the definition {s.definition_similarity:.3f}")
                if decision.status == "overlap":
                    lines.append("also fits: " + ", ".join(c for c in decision.codes if c != code))
                out.append(Coding(fragment.document, fragment.start, fragment.end, code, MACHINE_USER,
                                  "\n".join(lines)))
    return tuple(out)


def write_suggestions_qdpx(out: str | Path, corpus: str | Path, documents: Sequence[Document],
                           codebook: Codebook, results: Sequence[FragmentResult]) -> None:
    """Write suggestions as a ``.qdpx``: the corpus' own project (when it is a ``.qdpx``) with its
    human codings untouched, or a new project of the documents, plus the suggestions as codings
    of the user ``nlp-coder``, each with a note (status, score, reason)."""
    from nlp_coder.refi.read import read_qdpx

    base = read_qdpx(corpus) if Path(corpus).suffix.casefold() == ".qdpx" and Path(corpus).is_file() else None
    data = build_qdpx(documents=documents, codebook=codebook, codings=suggestion_codings(results), base=base,
                      name=Path(corpus).stem or "nlp-coder project")
    write_atomic_bytes(out, data)
