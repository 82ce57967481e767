"""Codebooks between nlp_coder's YAML and REFI-QDA codes (``.qdc`` files, a project's CodeBook).

A REFI code has a name and one free-text ``Description``; nlp_coder's definition, criteria and
exemplar quotes travel inside it as sections a researcher can read and edit in their tool::

    The professional gave practical or emotional support.

    Examples:
    - She helped me fill in the housing forms.

    Counterexamples:
    - The waiting room was warm and stuffy.

    [nlp-coder id: support; threshold: 0.4]

The bracketed last line keeps what REFI has no place for (the code id, a threshold, a facet).
A description without sections is all definition. Facets become top-level codes that cannot be
coded, marked ``[nlp-coder facet: NAME]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import yaml

from nlp_coder.codebook import parse_codebook
from nlp_coder.readers import limits
from nlp_coder.readers.limits import exceeded
from nlp_coder.records import Code, Codebook, Facet
from nlp_coder.refi.model import RefiCode, make_guid, norm_guid, slug

_SECTIONS = {
    "include": "include", "includes": "include", "inclusion criteria": "include", "inclusion": "include",
    "exclude": "exclude", "excludes": "exclude", "exclusion criteria": "exclude", "exclusion": "exclude",
    "examples": "examples", "example": "examples", "exemplars": "examples", "exemplar": "examples",
    "anchor examples": "examples", "counterexamples": "counterexamples", "counterexample": "counterexamples",
    "counter-examples": "counterexamples", "counter examples": "counterexamples",
}
_HEADING = re.compile(r"[ \t]*([A-Za-z][A-Za-z -]*?)[ \t]*:[ \t]*$")
_ITEM = re.compile(r"[ \t]*(?:[-*•]|\d+[.)])[ \t]+(.*\S)[ \t]*$")
_META = re.compile(r"[ \t]*\[nlp-coder[ \t]+([^\]]*)\][ \t]*$")
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’"))
_ORDER = (("include", "Include"), ("exclude", "Exclude"), ("examples", "Examples"),
          ("counterexamples", "Counterexamples"))


def parse_description(text: str) -> tuple[str, dict[str, list[str]], dict[str, str]]:
    """Split a REFI code description into definition, sections and nlp-coder settings.

    Returns:
        The definition (the text outside any section), the items of each section
        (``include``, ``exclude``, ``examples``, ``counterexamples``), and the settings of the
        ``[nlp-coder ...]`` line.
    """
    definition: list[str] = []
    sections: dict[str, list[str]] = {}
    meta: dict[str, str] = {}
    current: str | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if (match := _META.match(line)) is not None:
            for part in match.group(1).split(";"):
                key, _, value = part.partition(":")
                if key.strip():
                    meta[key.strip().casefold()] = value.strip()
            current = None
            continue
        heading = _HEADING.match(line)
        if heading is not None and heading.group(1).casefold() in _SECTIONS:
            current = _SECTIONS[heading.group(1).casefold()]
            sections.setdefault(current, [])
            continue
        item = _ITEM.match(line)
        if current is not None and item is not None:
            sections[current].append(_unquote(item.group(1)))
            continue
        if current is not None and not line.strip():
            continue
        current = None
        definition.append(line)
    return "\n".join(definition).strip(), sections, meta


def _unquote(text: str) -> str:
    for left, right in _QUOTES:
        if len(text) >= 2 and text.startswith(left) and text.endswith(right):
            return text[1:-1].strip()
    return text


def render_description(code: Code) -> str:
    """The REFI description carrying a code's definition, criteria, exemplars and settings."""
    blocks = [code.definition] if code.definition else []
    for key, title in _ORDER:
        items = getattr(code, key)
        if items:
            blocks.append("\n".join([f"{title}:"] + [f"- {item}" for item in items]))
    meta = [f"id: {code.id}"]
    if code.threshold is not None:
        meta.append(f"threshold: {code.threshold:g}")
    blocks.append(f"[nlp-coder {'; '.join(meta)}]")
    return "\n\n".join(blocks)


def codebook_to_refi(codebook: Codebook) -> tuple[RefiCode, ...]:
    """The codes of a codebook as REFI codes (facets become non-codable top-level codes)."""
    out: list[RefiCode] = []
    facet_guid = {f.name: make_guid("facet", f.name) for f in codebook.facets}
    for group in [None, *(f.name for f in codebook.facets)]:
        if group is not None:
            facet = next(f for f in codebook.facets if f.name == group)
            meta = [f"facet: {facet.name}"]
            meta += [f"{key}: {value:g}" for key, value in (("threshold", getattr(facet, "threshold", None)),
                                                             ("margin", getattr(facet, "margin", None)))
                     if value is not None]
            description = "\n\n".join(p for p in (facet.description, f"[nlp-coder {'; '.join(meta)}]") if p)
            out.append(RefiCode(facet_guid[group], group, False, description))
        for code in codebook.group(group):
            if code.parent is not None:
                parent: str | None = make_guid("code", code.parent)
            else:
                parent = facet_guid[group] if group is not None else None
            out.append(RefiCode(make_guid("code", code.id), code.name, code.codable, render_description(code),
                                parent=parent))
    return tuple(out)


def refi_to_yaml(codes: Sequence[RefiCode], name: str) -> tuple[str, dict[str, str], tuple[str, ...]]:
    """Codebook YAML (format: docs/codebook.md) for REFI codes.

    Returns:
        The YAML text, the code id given to each code (by normalised GUID), and warnings (codes
        with no description, whose name is used as their definition).
    """
    by_guid = {norm_guid(c.guid): c for c in codes}
    metas = {norm_guid(c.guid): parse_description(c.description) for c in codes}
    facet_of: dict[str, str] = {}  # facet-root GUID -> facet name
    for g, (_, _, meta) in metas.items():
        if "facet" in meta and by_guid[g].parent is None:
            facet_of[g] = meta["facet"] or by_guid[g].name
    ids: dict[str, str] = {}
    used: set[str] = set()
    for code in codes:
        g = norm_guid(code.guid)
        if g in facet_of:
            continue
        wanted = metas[g][2].get("id") or slug(code.name)
        candidate, n = wanted, 2
        while candidate in used:
            candidate, n = f"{wanted}-{n}", n + 1
        used.add(candidate)
        ids[g] = candidate
    has_children = {norm_guid(c.parent) for c in codes if c.parent}
    main: list[dict[str, object]] = []
    facets: dict[str, dict[str, object]] = {}
    warnings: list[str] = []
    for g, name in facet_of.items():
        facets[name] = {"description": metas[g][0]}
        for key in ("threshold", "margin"):
            if metas[g][2].get(key):
                try:
                    facets[name][key] = float(metas[g][2][key])
                except ValueError:
                    warnings.append(f"facet '{name}': {key} {metas[g][2][key]!r} is not a number; ignored")
        facets[name]["codes"] = []
    for code in codes:
        g = norm_guid(code.guid)
        if g in facet_of:
            continue
        definition, sections, meta = metas[g]
        root, parent = _root(g, by_guid), norm_guid(code.parent) or None
        entry: dict[str, object] = {"id": ids[g], "name": code.name}
        if parent is not None and parent not in facet_of and parent in ids:
            entry["parent"] = ids[parent]
        codable = code.codable or g not in has_children
        if not definition and not sections.get("examples") and codable:
            definition = code.name
            warnings.append(f"code '{code.name}' has no description: its name is used as its definition")
        if definition:
            entry["definition"] = definition
        for key, _ in _ORDER:
            if sections.get(key):
                entry[key] = list(sections[key])
        if not codable:
            entry["codable"] = False
        if meta.get("threshold"):
            try:
                entry["threshold"] = float(meta["threshold"])
            except ValueError:
                warnings.append(f"code '{code.name}': threshold {meta['threshold']!r} is not a number; ignored")
        (facets[facet_of[root]]["codes"] if root in facet_of else main).append(entry)  # type: ignore[union-attr]
    data: dict[str, object] = {"name": name, "codes": main}
    kept = {k: {key: value for key, value in v.items() if key != "description" or value}
            for k, v in facets.items() if v["codes"]}
    if kept:
        data["facets"] = kept
    return dump_yaml(data), ids, tuple(warnings)


def _root(guid: str, by_guid: dict[str, RefiCode]) -> str:
    seen = {guid}
    while (parent := norm_guid(by_guid[guid].parent)) and parent in by_guid and parent not in seen:
        seen.add(parent)
        guid = parent
    return guid


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, except that text holding U+0085, U+2028 or U+2029 is written in double
    quotes (as ``\\N``, ``\\L``, ``\\P``): PyYAML writes those characters raw, as line breaks,
    and reading the text back turns them into spaces."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if any(c in text for c in _FOLDED_BREAKS):
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')
    return dumper.represent_str(text)


_FOLDED_BREAKS = "\x85\u2028\u2029"
_Dumper.add_representer(str, _represent_text)


def dump_yaml(data: dict[str, object]) -> str:
    """Codebook data as YAML text that reads back as the same data."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)


def codebook_to_yaml(codebook: Codebook) -> str:
    """A codebook as YAML in nlp_coder's format (what ``codebook convert`` writes)."""
    def entry(code: Code) -> dict[str, object]:
        out: dict[str, object] = {"id": code.id, "name": code.name}
        if code.parent:
            out["parent"] = code.parent
        if code.definition:
            out["definition"] = code.definition
        for key, _ in _ORDER:
            if getattr(code, key):
                out[key] = list(getattr(code, key))
        if not code.codable:
            out["codable"] = False
        if code.threshold is not None:
            out["threshold"] = code.threshold
        return out

    data: dict[str, object] = {"name": codebook.name}
    if codebook.description:
        data["description"] = codebook.description
    if codebook.threshold is not None:
        data["threshold"] = codebook.threshold
    if codebook.margin is not None:
        data["margin"] = codebook.margin
    data["codes"] = [entry(c) for c in codebook.group(None)]
    if codebook.facets:
        data["facets"] = {f.name: _facet_entry(f) | {"codes": [entry(c) for c in codebook.group(f.name)]}
                          for f in codebook.facets}
    return dump_yaml(data)


def _facet_entry(facet: Facet) -> dict[str, object]:
    out: dict[str, object] = {"description": facet.description} if facet.description else {}
    for key in ("threshold", "margin"):  # facets gained their own threshold and margin
        if getattr(facet, key, None) is not None:
            out[key] = getattr(facet, key)
    return out


def codebook_from_refi(codes: Sequence[RefiCode], name: str, *, source: str,
                       sha256: str | None = None) -> tuple[Codebook, dict[str, str], tuple[str, ...]]:
    """A validated :class:`Codebook` from REFI codes, with the code id of each GUID and warnings.

    Raises:
        InputError: the codes hold more text than
            :data:`~nlp_coder.readers.limits.MAX_CODEBOOK_BYTES` (``E105``), or do not make a valid
            codebook (``E110``).
    """
    size = sum(len(c.name) + len(c.description) + len(c.guid) for c in codes)
    if size > limits.MAX_CODEBOOK_BYTES:
        raise exceeded(f"the codebook's codes hold {size:,} characters of text, more than "
                       f"{limits.size_text(limits.MAX_CODEBOOK_BYTES)}", source, "MAX_CODEBOOK_BYTES",
                       "Is this the right project? Shorten the code descriptions in the QDA tool")
    text, ids, warnings = refi_to_yaml(codes, name)
    return parse_codebook(text, source=source, sha256=sha256), ids, warnings
