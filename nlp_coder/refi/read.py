"""Reading REFI-QDA files safely: ``.qdpx`` projects and ``.qdc`` codebooks.

A ``.qdpx`` is a zip holding ``project.qde`` (XML) and a sources folder whose name tools
capitalise differently (``sources``, ``Sources``). Text sources hold their text inline
(``PlainTextContent``) or in the sources folder (``plainTextPath="internal://<guid>.txt"``).

Parsing is defensive: XML goes through defusedxml and a DTD is refused (no entity expansion, no
external entities), archives are read in memory within the limits of
:mod:`nlp_coder.readers.limits` (member count, sizes, compression ratio; no member is ever
extracted, so no path can escape), and every problem is an :class:`~nlp_coder.errors.InputError`
naming the file and what to do: ``E120`` for a malformed project, ``E110`` for a malformed
``.qdc`` codebook, ``E105`` for a safety limit.

Offsets: REFI positions count Unicode code points of the source text as the tool stored it,
zero-based, end exclusive. nlp_coder normalises ``\\r\\n`` to ``\\n``; positions are mapped so
that a coding covers the same characters (see :class:`~nlp_coder.refi.model.Source`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from xml.etree.ElementTree import Element

from nlp_coder.errors import InputError
from nlp_coder.readers import limits
from nlp_coder.readers.archive import read_file_bytes, read_zip
from nlp_coder.readers.decoding import normalise_newlines
from nlp_coder.readers.limits import exceeded, read_limited
from nlp_coder.readers.safexml import parse_xml as safe_parse_xml
from nlp_coder.readers.turns import parse_turns
from nlp_coder.records import Codebook, Document
from nlp_coder.refi.codebook import codebook_from_refi
from nlp_coder.refi.model import MACHINE_USER, Coding, Project, RefiCode, Source, norm_guid

PROJECT_CODE = "E120"
"""The catalogue code of a malformed project (a malformed ``.qdc`` codebook is ``E110``)."""


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def children(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element if local(child.tag) == name)


def child(element: Element, name: str) -> Element | None:
    return next(children(element, name), None)


def parse_xml(data: bytes, where: str, *, code: str = PROJECT_CODE,
              fix: str = "Export the project again from the QDA tool") -> Element:
    """Parse XML safely (:func:`nlp_coder.readers.safexml.parse_xml`), by default as a project's."""
    return safe_parse_xml(data, where, code=code, fix=fix)


def read_qdc(path: str | Path) -> tuple[RefiCode, ...]:
    """The codes of a REFI-QDA codebook file (``.qdc``), in document order."""
    path = Path(path)
    return _qdc_codes(_read_file(path), str(path))


def _qdc_codes(data: bytes, where: str) -> tuple[RefiCode, ...]:
    root = parse_xml(data, where, code="E110", fix="Export the codebook again from the QDA tool")
    if local(root.tag) != "CodeBook":
        raise InputError(f"the root element is <{local(root.tag)}>, not <CodeBook>", where,
                         "Give a REFI-QDA codebook (.qdc)", code="E110")
    return _codes(root, where, code="E110")


def load_qdc_codebook(path: str | Path) -> Codebook:
    """A ``.qdc`` file as a validated :class:`Codebook` (named after the file)."""
    path = Path(path)
    data = _read_file(path)
    codes = _qdc_codes(data, str(path))
    return codebook_from_refi(codes, path.stem, source=str(path), sha256=hashlib.sha256(data).hexdigest())[0]


def _codes(root: Element, where: str, *, code: str = PROJECT_CODE) -> tuple[RefiCode, ...]:
    """The codes of a CodeBook element in document order (depth first), their nesting bounded by
    :data:`~nlp_coder.readers.limits.MAX_CODE_DEPTH`."""
    codes_element = child(root, "Codes")
    out: list[RefiCode] = []
    if codes_element is None:
        return ()
    # Depth first without recursion: (the <Code> elements still to visit at each level, their parent).
    stack: list[tuple[Iterator[Element], str | None]] = [(children(codes_element, "Code"), None)]
    while stack:
        element = next(stack[-1][0], None)
        if element is None:
            stack.pop()
            continue
        guid, name = element.get("guid"), element.get("name")
        if not guid or name is None:
            raise InputError("a <Code> has no guid or name", where, "Export the codebook again", code=code)
        description = child(element, "Description")
        out.append(RefiCode(
            guid=guid, name=name, codable=(element.get("isCodable", "true").strip().lower() in ("true", "1")),
            description=(description.text or "") if description is not None else "",
            color=element.get("color"), parent=stack[-1][1],
        ))
        if len(stack) >= limits.MAX_CODE_DEPTH and child(element, "Code") is not None:
            raise exceeded(f"codes are nested more than {limits.MAX_CODE_DEPTH} levels deep (under '{name}')",
                           where, "MAX_CODE_DEPTH", "Flatten the code tree in the QDA tool")
        stack.append((children(element, "Code"), guid))
    return tuple(out)


def read_qdpx(path: str | Path) -> Project:
    """Read a REFI-QDA project: its text sources as documents, codebook, users and codings.

    Raises:
        InputError: the file is not a readable zip, has no ``project.qde``, is too large, or its
            XML is malformed or unsafe.
    """
    path = Path(path)
    where = str(path)
    members = _read_zip(path)
    qde_name = _find_qde(members, where)
    qde = dict(members)[qde_name]
    root = parse_xml(keep_carriage_returns(qde), f"{where}:{qde_name}")
    if local(root.tag) != "Project":
        raise InputError(f"project.qde's root element is <{local(root.tag)}>, not <Project>", where,
                         "Give a REFI-QDA project (.qdpx)", code=PROJECT_CODE)
    warnings: list[str] = []
    sources_folder = {name.split("/", 1)[1].casefold(): name for name, _ in members
                      if "/" in name and name.split("/", 1)[0].casefold() == "sources"}
    by_basename = {PurePosixPath(name).name.casefold(): name for name, _ in members}
    content = dict(members)

    users = tuple((norm_guid(u.get("guid")), u.get("name") or u.get("id") or u.get("guid") or "")
                  for u in _path(root, "Users", "User"))
    user_names = dict(users)
    codebook_element = child(root, "CodeBook")
    refi_codes = _codes(codebook_element, where) if codebook_element is not None else ()
    codebook: Codebook | None = None
    code_ids: dict[str, str] = {}
    codebook_warnings: tuple[str, ...] = ()
    if refi_codes:
        codebook, code_ids, code_warnings = codebook_from_refi(
            refi_codes, root.get("name") or path.stem, source=where,
            sha256=hashlib.sha256(b"".join(c.guid.encode() + c.name.encode() + c.description.encode()
                                           for c in refi_codes)).hexdigest())
        codebook_warnings = tuple(f"{where}: {w}" for w in code_warnings)
    attributes = _attributes(root)

    notes = {norm_guid(n.get("guid")): _inline_text(n) for n in _path(root, "Notes", "Note")}
    sources: list[Source] = []
    codings: list[Coding] = []
    markers: list[tuple[str, int, int]] = []
    used_ids: set[str] = set()
    for element in _path(root, "Sources", "TextSource"):
        guid = element.get("guid") or ""
        name = element.get("name") or guid
        raw = _source_text(element, content, sources_folder, by_basename, where, name, warnings)
        if raw is None:
            continue
        doc_id = name if name not in used_ids else f"{name} ({norm_guid(guid)[:8]})"
        number = 2
        while doc_id in used_ids:  # two sources with the same name and GUID
            doc_id, number = f"{name} ({norm_guid(guid)[:8]}, {number})", number + 1
        used_ids.add(doc_id)
        text = normalise_newlines(raw)
        turns = parse_turns(text)
        if not turns:
            warnings.append(f"{where}: source '{name}' has no text; skipped")
            continue
        document = Document(doc_id, text, f"{where}:{name}", "qdpx", turns,
                            attributes=attributes.get(norm_guid(guid), {}))
        source = Source(guid, document, raw)
        sources.append(source)
        codings.extend(_codings(element, source, code_ids, user_names, notes, where, warnings))
        markers.extend(_markers(element, source, user_names))
    for element in _path(root, "Sources"):
        for other in element:
            if local(other.tag) != "TextSource":
                warnings.append(f"{where}: {local(other.tag)} '{other.get('name') or other.get('guid')}' is not "
                                "a text source; left out (only text sources are coded)")
    rest = tuple((name, data) for name, data in members if name != qde_name)
    return Project(
        name=root.get("name") or path.stem, path=where, sources=tuple(sources), codebook=codebook,
        refi_codes=refi_codes, code_ids=tuple(code_ids.items()), users=users, codings=tuple(codings),
        warnings=tuple(warnings), codebook_warnings=codebook_warnings, markers=tuple(markers), qde=qde,
        members=rest,
    )


_INLINE_OPEN = re.compile(rb"<(?:[\w.-]{1,100}:)?PlainTextContent(?:\s[^<>]{0,10000})?>")
_INLINE_CLOSE = re.compile(rb"</(?:[\w.-]{1,100}:)?PlainTextContent\s*>")


def keep_carriage_returns(qde: bytes) -> bytes:
    """Protect the "\r" of "\r\n" inside PlainTextContent from XML's end-of-line handling.

    An XML parser turns a literal "\r\n" into "\n", but the tool counted both characters in
    its positions; written as a character reference the "\r" survives parsing.
    """
    if b"\r" not in qde:
        return qde
    # One pass: each opening tag is paired with the first closing tag after it (a regex with a
    # lazy ".*?" between them would rescan the rest of the file for every unclosed opening tag).
    parts: list[bytes] = []
    position = 0
    while (opening := _INLINE_OPEN.search(qde, position)) is not None:
        closing = _INLINE_CLOSE.search(qde, opening.end())
        if closing is None:
            break
        parts.append(qde[position:opening.end()])
        parts.append(qde[opening.end():closing.start()].replace(b"\r", b"&#13;"))
        position = closing.start()
    parts.append(qde[position:])
    return b"".join(parts)


def _path(root: Element, *names: str) -> Iterator[Element]:
    level = [root]
    for name in names:
        level = [c for element in level for c in children(element, name)]
    return iter(level)


def _source_text(element: Element, content: dict[str, bytes], folder: dict[str, str], by_basename: dict[str, str],
                 where: str, name: str, warnings: list[str]) -> str | None:
    inline = child(element, "PlainTextContent")
    if inline is not None:
        return inline.text or ""
    text_path = element.get("plainTextPath")
    if not text_path:
        warnings.append(f"{where}: source '{name}' has no plain text (only rich text); skipped. "
                        "Export the project with plain text")
        return None
    scheme, _, rest = text_path.partition("://")
    if scheme.casefold() != "internal":
        warnings.append(f"{where}: source '{name}' is an external file ({text_path}); skipped")
        return None
    member = folder.get(rest.lstrip("/").casefold()) or by_basename.get(PurePosixPath(rest).name.casefold())
    if member is None:
        raise InputError(f"source '{name}' points at {text_path}, which is not in the archive", where,
                         "Export the project again with its sources", code=PROJECT_CODE)
    data = content[member]
    encoding = "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"  # the codec reads the byte order from the mark and drops it
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"source '{name}' ({member}) is not {encoding.upper()} text (byte {exc.start})", where,
                         "REFI-QDA sources are UTF-8; export the project again", code=PROJECT_CODE) from None


def _attributes(root: Element) -> dict[str, dict[str, str]]:
    """Per source GUID: its variable values, and the name and variables of the cases it is in."""
    variables = {norm_guid(v.get("guid")): v.get("name") or "" for v in _path(root, "Variables", "Variable")}

    def values(element: Element) -> dict[str, str]:
        out: dict[str, str] = {}
        for value in children(element, "VariableValue"):
            ref = child(value, "VariableRef")
            name = variables.get(norm_guid(ref.get("targetGUID"))) if ref is not None else None
            given = [c for c in value if local(c.tag) != "VariableRef"]
            if name and given:
                out[name] = (given[0].text or "").strip()
        return out

    result: dict[str, dict[str, str]] = {}
    for case in _path(root, "Cases", "Case"):
        case_values = values(case)
        for ref in children(case, "SourceRef"):
            target = result.setdefault(norm_guid(ref.get("targetGUID")), {})
            names = [n for n in target.get("case", "").split("; ") if n] + [case.get("name") or case.get("guid") or ""]
            target.update(case_values)
            target["case"] = "; ".join(names)
    for source in _path(root, "Sources", "TextSource"):
        result.setdefault(norm_guid(source.get("guid")), {}).update(values(source))
    return result


def _codings(element: Element, source: Source, code_ids: dict[str, str], users: dict[str, str],
             notes: dict[str, str], where: str, warnings: list[str]) -> Iterator[Coding]:
    length = len(source.raw)
    name = source.document.id
    for selection in children(element, "PlainTextSelection"):
        try:
            start, end = int(selection.get("startPosition", "")), int(selection.get("endPosition", ""))
        except ValueError:
            raise InputError(f"a selection in '{name}' has no valid startPosition/endPosition", where,
                             "Export the project again", code=PROJECT_CODE) from None
        if not 0 <= start <= end:
            warnings.append(f"{where}: selection {start}-{end} in '{name}' is not a valid range; skipped")
            continue
        if end > length:
            warnings.append(f"{where}: selection {start}-{end} in '{name}' ends after the text ({length}); "
                            "cut at the end")
            end = length
        text_start, text_end = source.to_text(start), source.to_text(end)
        for coding in children(selection, "Coding"):
            ref = child(coding, "CodeRef")
            code = code_ids.get(norm_guid(ref.get("targetGUID"))) if ref is not None else None
            if code is None:
                warnings.append(f"{where}: a coding in '{name}' refers to no code of the codebook; skipped")
                continue
            user = norm_guid(coding.get("creatingUser") or selection.get("creatingUser"))
            yield Coding(name, text_start, text_end, code, users.get(user, user or "unknown"),
                         "\n\n".join(notes.get(norm_guid(r.get("targetGUID")), "")
                                    for r in children(coding, "NoteRef")).strip())


def _markers(element: Element, source: Source, users: dict[str, str]) -> Iterator[tuple[str, int, int]]:
    """Selections without codings made by nlp-coder: the fragments of a sample."""
    for selection in children(element, "PlainTextSelection"):
        if child(selection, "Coding") is not None:
            continue
        if users.get(norm_guid(selection.get("creatingUser"))) != MACHINE_USER:
            continue
        try:
            start, end = int(selection.get("startPosition", "")), int(selection.get("endPosition", ""))
        except ValueError:
            continue
        if 0 <= start < end <= len(source.raw):
            yield source.document.id, source.to_text(start), source.to_text(end)


def _inline_text(note: Element) -> str:
    content = child(note, "PlainTextContent")
    return normalise_newlines(content.text or "") if content is not None else ""


def _find_qde(members: list[tuple[str, bytes]], where: str) -> str:
    names = [name for name, _ in members]
    for name in names:
        if name.casefold() == "project.qde":
            return name
    top = [n for n in names if "/" not in n and n.casefold().endswith(".qde")]
    if len(top) == 1:
        return top[0]
    raise InputError("the archive holds no project.qde", where, "Give a REFI-QDA project exported as .qdpx",
                     code=PROJECT_CODE)


def _read_file(path: Path) -> bytes:
    """A ``.qdc`` file's bytes, within :data:`~nlp_coder.readers.limits.MAX_CODEBOOK_BYTES`."""
    data = read_limited(path, str(path), limit="MAX_CODEBOOK_BYTES", what="codebook file",
                        fix="Is this a REFI-QDA codebook? Shorten the code descriptions in the QDA tool")
    if not data.strip():
        raise InputError("file is empty", str(path), "Give a REFI-QDA file exported from the QDA tool", code="E110")
    return data


def _read_zip(path: Path) -> list[tuple[str, bytes]]:
    """The files of a ``.qdpx`` (names with ``/`` separators), within the limits of
    :mod:`nlp_coder.readers.limits`; names that could escape a folder are refused."""
    where = str(path)
    if not path.is_file():
        raise InputError("no such file", where, "Check the path", code="E101")
    members = read_zip(read_file_bytes(path, where, what="project"), where, code=PROJECT_CODE,
                       fix="A .qdpx is a zip file; export the project again")
    out: list[tuple[str, bytes]] = []
    for stored, data in members:
        name = stored.replace("\\", "/")
        if name.startswith("/") or ".." in PurePosixPath(name).parts:
            raise InputError(f"the archive holds an unsafe path {stored!r}", where,
                             "Refused: export the project again from the QDA tool", code=PROJECT_CODE)
        out.append((name, data))
    return out
