"""Load and validate codebooks written in YAML (format: ``docs/codebook.md``).

Validation errors name the file, the line and the field, and say how to fix them, e.g.::

    codebooks/x.yaml:41: code 'advice': parent 'promoting' is not a code id. Use one of: ...

Every problem is an :class:`~nlp_coder.errors.InputError`: ``E110`` for a codebook that is not
valid, ``E101``/``E102`` for a file that is missing or not UTF-8, ``E105`` for one beyond a safety
limit (:mod:`nlp_coder.readers.limits`: file size, nesting, aliases and their expansion, counted
before any alias is expanded).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nlp_coder.errors import InputError
from nlp_coder.readers import limits
from nlp_coder.readers.limits import exceeded, read_limited
from nlp_coder.records import Code, Codebook, Facet

_CODE_KEYS = {
    "id", "name", "parent", "definition", "include", "exclude", "examples",
    "counterexamples", "codable", "threshold",
}
_TOP_KEYS = {"name", "description", "version", "language", "threshold", "margin", "codes", "facets"}
_FACET_KEYS = {"description", "codes", "threshold", "margin"}
INVALID = "E110"
"""The catalogue code of a codebook that is not valid."""


@dataclass(frozen=True)
class _Node:
    """A YAML value with the line (1-based) it starts on."""

    value: Any
    line: int
    key_line: int | None = None  # for a mapping's value: the line of its key


def _to_nodes(node: yaml.Node, scalars: yaml.constructor.SafeConstructor) -> _Node:
    """The composed YAML as :class:`_Node` values (call :func:`_check_graph` first: aliases are
    expanded here)."""
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, _Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Problem(key_node.start_mark.line + 1, "a key is a list or mapping, not a name",
                               "Write keys as plain names followed by ':'")
            key = key_node.value
            if key in mapping:
                raise _Problem(key_node.start_mark.line + 1, f"key '{key}' appears twice", "Keep one")
            value = _to_nodes(value_node, scalars)
            mapping[key] = _Node(value.value, value.line, key_node.start_mark.line + 1)
        return _Node(mapping, line)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_to_nodes(v, scalars) for v in node.value], line)
    # Scalars: let the safe constructor resolve types (bool, int, float, null, str).
    try:
        return _Node(scalars.construct_object(node), line)
    except yaml.constructor.ConstructorError:
        raise _Problem(line, f"the value {_snippet(node.value)!r} has the tag {_snippet(node.tag)!r}, which is not "
                       "allowed in a codebook", "Remove the tag (the text after '!')") from None
    except (ValueError, OverflowError, TypeError, AttributeError) as error:
        # A date such as 2024-13-45, an integer of 5,000 digits; PyYAML's timestamp constructor
        # fails with AttributeError on a value tagged !!timestamp that is not one.
        raise _Problem(line, f"the value {_snippet(node.value)!r} cannot be read ({_snippet(str(error))})",
                       "Put it in quotes to keep it as text") from None


def _check_graph(root: yaml.Node, source: str) -> None:
    """Refuse a composed document beyond the YAML limits before anything is expanded.

    Aliases make the composed document a graph in which one node may be reached many times: the
    size once expanded (:data:`~nlp_coder.readers.limits.MAX_YAML_NODES`) and the depth
    (:data:`~nlp_coder.readers.limits.MAX_YAML_DEPTH`) are computed once per distinct node, and
    aliases are counted (:data:`~nlp_coder.readers.limits.MAX_YAML_ALIASES`), without recursion.
    An alias inside the value it refers to is refused.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    started: set[int] = set()  # begun and not finished: the ancestors of the node being visited
    aliases = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        items = _items(node)
        if finished:
            started.discard(key)
            sizes[key] = 1 + sum(sizes[id(item)] for item in items)
            depths[key] = (1 + max((depths[id(item)] for item in items), default=0)
                           if not isinstance(node, yaml.ScalarNode) else 0)
            if sizes[key] > limits.MAX_YAML_NODES:
                raise exceeded(f"the codebook holds more than {limits.MAX_YAML_NODES:,} values once its aliases "
                               "are expanded", source, "MAX_YAML_NODES", "Write the codebook without aliases ('*name')")
            if depths[key] > limits.MAX_YAML_DEPTH:
                raise exceeded(f"lists and mappings nest more than {limits.MAX_YAML_DEPTH} levels deep",
                               f"{source}:{node.start_mark.line + 1}", "MAX_YAML_DEPTH",
                               "See docs/codebook.md for the format")
            continue
        if key in sizes:  # reached again: through an alias
            aliases += 1
            if aliases > limits.MAX_YAML_ALIASES:
                raise exceeded(f"the codebook uses more than {limits.MAX_YAML_ALIASES:,} aliases",
                               f"{source}:{node.start_mark.line + 1}", "MAX_YAML_ALIASES",
                               "Write the values out instead of using aliases ('*name')")
            continue
        if key in started:
            raise InputError("an alias ('*name') refers to the list or mapping it is in", f"{source}:"
                             f"{node.start_mark.line + 1}", "Remove the alias", code=INVALID)
        started.add(key)
        stack.append((node, True))
        stack.extend((item, False) for item in items)


def _items(node: yaml.Node) -> list[yaml.Node]:
    """The nodes directly inside a node: a mapping's keys and values, a list's items."""
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _snippet(value: object, size: int = 40) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= size else text[: size - 1] + "…"


class _Problem(Exception):
    def __init__(self, line: int, what: str, fix: str | None = None) -> None:
        super().__init__(what)
        self.line, self.what, self.fix = line, what, fix


def load_codebook(path: str | Path) -> Codebook:
    """Read, validate and return the codebook in a YAML file.

    Args:
        path: the YAML file.

    Returns:
        A :class:`Codebook` whose ``sha256`` is the hash of the file's bytes.

    Raises:
        InputError: the file is missing, not YAML, or not a valid codebook; the message names
            the file, line and field.
    """
    path = Path(path)
    if path.suffix.casefold() in (".qdc", ".qdpx") and path.is_file():  # REFI-QDA codebook or project
        from nlp_coder.refi import load_codebook_any

        return load_codebook_any(path)
    if not path.is_file():
        raise InputError("codebook file not found", str(path), "Give the path of a codebook YAML file", code="E101")
    data = read_limited(path, str(path), limit="MAX_CODEBOOK_BYTES", what="codebook file",
                        fix="Is this a codebook? See docs/codebook.md for the format")
    if not data.strip():
        raise InputError("codebook file is empty", str(path), "See docs/codebook.md for the format", code=INVALID)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"codebook is not UTF-8 text (byte {exc.start})", str(path), "Save it as UTF-8",
                         code="E102") from None
    return parse_codebook(text, source=str(path), sha256=hashlib.sha256(data).hexdigest())


# libyaml's parser when PyYAML was built with it (about 10x faster), else the pure-Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_codebook(text: str, *, source: str = "<codebook>", sha256: str | None = None) -> Codebook:
    """Validate codebook YAML given as text (see :func:`load_codebook`).

    Raises:
        InputError: the text is not YAML or not a valid codebook (``E110``), or exceeds a YAML
            limit of :mod:`nlp_coder.readers.limits` (``E105``).
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: not text any file can hold
        raise InputError(f"the codebook holds a character that is not valid Unicode (at {exc.start})", source,
                         "Save it as UTF-8", code="E102") from None
    if len(data) > limits.MAX_CODEBOOK_BYTES:
        raise exceeded(f"the codebook is more than {limits.size_text(limits.MAX_CODEBOOK_BYTES)}", source,
                       "MAX_CODEBOOK_BYTES", "Is this a codebook? See docs/codebook.md for the format")
    sha = sha256 or hashlib.sha256(data).hexdigest()
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "nesting depth" in problem:  # libyaml's own bound, beyond MAX_YAML_DEPTH
            raise exceeded(f"lists and mappings nest more than {limits.MAX_YAML_DEPTH} levels deep", where,
                           "MAX_YAML_DEPTH", "See docs/codebook.md for the format") from None
        raise InputError(f"not valid YAML ({problem})", where, "Check indentation and quoting",
                         code=INVALID) from None
    except RecursionError:  # the pure-Python parser (PyYAML without libyaml) on deep nesting
        raise exceeded(f"lists and mappings nest more than {limits.MAX_YAML_DEPTH} levels deep", source,
                       "MAX_YAML_DEPTH", "See docs/codebook.md for the format") from None
    try:
        if root is None:
            raise _Problem(1, "codebook is empty", "See docs/codebook.md for the format")
        _check_graph(root, source)
        return _build(_to_nodes(root, yaml.constructor.SafeConstructor()), source, sha)
    except _Problem as problem:
        raise InputError(problem.what, f"{source}:{problem.line}", problem.fix, code=INVALID) from None


def _build(root: _Node, source: str, sha: str) -> Codebook:
    if not isinstance(root.value, dict):
        raise _Problem(root.line, "the codebook must be a mapping with 'name' and 'codes'",
                       "See docs/codebook.md for the format")
    top = root.value
    _check_keys(top, _TOP_KEYS, root.line, "the codebook")
    if "codes" not in top:
        raise _Problem(root.line, "the codebook has no 'codes' list", "Add 'codes:' with at least one code")
    parent_lines: dict[str, int] = {}
    codes = _codes(top["codes"], facet=None, parent_lines=parent_lines)
    facets: list[Facet] = []
    facet_nodes = top.get("facets")
    if facet_nodes is not None and facet_nodes.value is not None:
        if not isinstance(facet_nodes.value, dict):
            raise _Problem(facet_nodes.line, "'facets' must map facet names to {description, codes}")
        for name, node in facet_nodes.value.items():
            if not isinstance(node.value, dict) or "codes" not in node.value:
                raise _Problem(node.line, f"facet '{name}' needs a 'codes' list")
            _check_keys(node.value, _FACET_KEYS, node.line, f"facet '{name}'")
            facets.append(Facet(
                name=name,
                description=_text(node.value.get("description"), "description"),
                threshold=_score(node.value.get("threshold"), f"facet '{name}': threshold"),
                margin=_margin(node.value.get("margin"), f"facet '{name}': margin"),
            ))
            codes.extend(_codes(node.value["codes"], facet=name, parent_lines=parent_lines))
    _check_references(codes, parent_lines)
    threshold = _score(top.get("threshold"), "threshold")
    margin = _margin(top.get("margin"), "margin")
    return Codebook(
        name=_text(top.get("name"), "name") or Path(source).stem,
        description=_text(top.get("description"), "description"),
        codes=tuple(codes),
        facets=tuple(facets),
        threshold=threshold,
        margin=margin,
        source=source,
        sha256=sha,
    )


def _check_keys(mapping: dict[str, _Node], allowed: set[str], line: int, what: str) -> None:
    for key, node in mapping.items():
        if key not in allowed:
            raise _Problem(node.key_line or node.line, f"{what}: unknown field '{key}'",
                           f"Allowed fields: {', '.join(sorted(allowed))}")


def _codes(node: _Node, facet: str | None, parent_lines: dict[str, int]) -> list[Code]:
    where = "'codes'" if facet is None else f"facet '{facet}': 'codes'"
    if not isinstance(node.value, list) or not node.value:
        raise _Problem(node.line, f"{where} must be a non-empty list of codes")
    return [_code(item, facet, parent_lines) for item in node.value]


def _code(node: _Node, facet: str | None, parent_lines: dict[str, int]) -> Code:
    """One code; the line of its ``parent:`` field goes into ``parent_lines`` (for errors about it)."""
    if not isinstance(node.value, dict):
        raise _Problem(node.line, "each code must be a mapping with at least 'id'")
    fields = node.value
    _check_keys(fields, _CODE_KEYS, node.line, "code")
    code_id = _text(fields.get("id"), "id")
    if not code_id:
        raise _Problem(node.line, "code has no 'id'", "Give every code a unique id")
    label = f"code '{code_id}'"
    definition = _text(fields.get("definition"), f"{label}: definition")
    examples = _texts(fields.get("examples"), f"{label}: examples")
    codable_node = fields.get("codable")
    codable = True if codable_node is None else codable_node.value
    if not isinstance(codable, bool):
        raise _Problem(codable_node.line, f"{label}: 'codable' must be true or false")  # type: ignore[union-attr]
    if codable and not definition and not examples:
        raise _Problem(node.line, f"{label} has neither a definition nor examples",
                       "Add a 'definition' or 'examples' (or mark it 'codable: false')")
    threshold = _score(fields.get("threshold"), f"{label}: threshold")
    parent = _text(fields.get("parent"), f"{label}: parent") or None
    if parent is not None:
        parent_node = fields["parent"]
        parent_lines.setdefault(code_id, parent_node.key_line or parent_node.line)
    return Code(
        id=code_id,
        name=_text(fields.get("name"), f"{label}: name") or code_id,
        definition=definition,
        parent=parent,
        include=_texts(fields.get("include"), f"{label}: include"),
        exclude=_texts(fields.get("exclude"), f"{label}: exclude"),
        examples=examples,
        counterexamples=_texts(fields.get("counterexamples"), f"{label}: counterexamples"),
        codable=codable,
        threshold=threshold,
        facet=facet,
        line=node.line,
    )


def _text(node: _Node | None, field: str) -> str:
    if node is None or node.value is None:
        return ""
    if isinstance(node.value, (dict, list)) or isinstance(node.value, bool):
        raise _Problem(node.line, f"{field} must be text")
    return str(node.value).strip()


def _texts(node: _Node | None, field: str) -> tuple[str, ...]:
    if node is None or node.value is None:
        return ()
    if not isinstance(node.value, list):
        raise _Problem(node.line, f"{field} must be a list of quoted strings", "Start each item with '- '")
    out = []
    for item in node.value:
        text = _text(item, field)
        if not text:
            raise _Problem(item.line, f"{field} has an empty item", "Remove it or fill it in")
        out.append(text)
    return tuple(out)


def _number(node: _Node | None, field: str) -> float | None:
    if node is None or node.value is None:
        return None
    if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
        raise _Problem(node.line, f"{field} must be a number, not {node.value!r}")
    return float(node.value)


def _score(node: _Node | None, field: str) -> float | None:
    """A threshold: a number in [-1, 1] (scores are cosine based)."""
    value = _number(node, field)
    if value is not None and not -1.0 <= value <= 1.0:
        raise _Problem(node.line, f"{field} {value} is outside [-1, 1]")  # type: ignore[union-attr]
    return value


def _margin(node: _Node | None, field: str) -> float | None:
    value = _number(node, field)
    if value is not None and not 0.0 <= value <= 2.0:
        raise _Problem(node.line, f"{field} {value} is outside [0, 2]")  # type: ignore[union-attr]
    return value


def _check_references(codes: list[Code], parent_lines: dict[str, int]) -> None:
    by_id: dict[str, Code] = {}
    for code in codes:
        if code.id in by_id:
            raise _Problem(code.line or 1, f"duplicate code id '{code.id}' (first defined on line "
                           f"{by_id[code.id].line})", "Code ids must be unique across codes and facets")
        by_id[code.id] = code
    for code in codes:
        if code.parent is None:
            continue
        parent = by_id.get(code.parent)
        if parent is None:
            known = ", ".join(sorted(c.id for c in codes if c.facet == code.facet and c.id != code.id))
            raise _Problem(parent_lines.get(code.id, code.line or 1),
                           f"code '{code.id}': parent '{code.parent}' is not a code id",
                           f"Use one of: {known}" if known else "Remove the parent or add that code")
        if parent.facet != code.facet:
            def group(facet: str | None) -> str:
                return "the main codes" if facet is None else f"facet '{facet}'"

            raise _Problem(parent_lines.get(code.id, code.line or 1),
                           f"code '{code.id}' (in {group(code.facet)}): parent '{code.parent}' is "
                           f"in {group(parent.facet)}", "A code's parent must be in the same group")
    for code in codes:
        seen = [code.id]
        parent = code.parent
        while parent is not None:
            if parent in seen:
                cycle = " -> ".join(seen + [parent])
                raise _Problem(code.line or 1, f"parent cycle: {cycle}", "A code cannot be its own ancestor")
            seen.append(parent)
            parent = by_id[parent].parent
    for code in codes:
        if code.codable:
            continue
        if not any(c.parent == code.id for c in codes):
            raise _Problem(code.line or 1, f"code '{code.id}' is 'codable: false' but has no children",
                           "Add child codes or make it codable")


def descendants(codebook: Codebook, code_id: str) -> tuple[str, ...]:
    """All codes below a code, depth first in codebook order."""
    out: list[str] = []
    for code in codebook.codes:
        if code.parent == code_id:
            out.append(code.id)
            out.extend(descendants(codebook, code.id))
    return tuple(out)
