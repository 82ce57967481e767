"""Inter-coder reliability: percent agreement, Cohen's kappa and Krippendorff's alpha.

Coders are compared per code and overall, at two levels:

* **fragment level**: the units are the passages anyone coded (plus every fragment of a
  ``suggest`` run, coded or not). A coder applied a code to a unit when their codings with that
  code cover at least ``min_overlap`` of the unit's characters. Overall, a unit's category is
  the set of codes applied to it (``(none)`` when none), so a single-label scheme gets the usual
  nominal statistics.
* **character level**: the units are the characters of the documents every input covers; a
  character's category is the set of codes whose codings cover it.

Given a scope (the fragments of a sample), only those passages are compared: they are the
fragment-level units, and only their characters count.

Per code, the statistics are computed on the yes/no decisions for that code. With more than two
coders, percent agreement and kappa are the means over coder pairs (Light's kappa) and alpha
uses every coder at once. A statistic that is undefined (one category only) is ``None``.
"""

from __future__ import annotations

import json
import warnings
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from nlp_coder.errors import InputError
from nlp_coder.refi.codings import CodedInput, Unit
from nlp_coder.refi.model import Coding

OVERALL = "(overall)"
NONE = "(none)"


@dataclass(frozen=True)
class Rater:
    """One coder's codings, with the name shown in reports."""

    name: str
    codings: tuple[Coding, ...]


@dataclass(frozen=True)
class CodeAgreement:
    """Agreement on one code (or :data:`OVERALL`) at one level."""

    level: str
    code: str
    units: int
    applied: tuple[int, ...]  # units each coder applied the code to (overall: units with any code)
    percent: float | None
    kappa: float | None
    alpha: float | None


@dataclass(frozen=True)
class Agreement:
    """Agreement between coders, per code and overall, at the fragment and character levels."""

    raters: tuple[str, ...]
    documents: tuple[str, ...]
    rows: tuple[CodeAgreement, ...]
    warnings: tuple[str, ...] = ()

    def row(self, level: str, code: str = OVERALL) -> CodeAgreement:
        for row in self.rows:
            if row.level == level and row.code == code:
                return row
        raise KeyError((level, code))


def percent_agreement(labels: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Share of units on which two coders agree, averaged over coder pairs (rows of ``labels``);
    ``weights`` count each unit (column) that many times."""
    if labels.shape[1] == 0:
        return None
    return float(np.mean([np.average(labels[a] == labels[b], weights=weights)
                          for a, b in combinations(range(len(labels)), 2)]))


def cohen_kappa(labels: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Cohen's kappa (scikit-learn), averaged over coder pairs; None where undefined."""
    from sklearn.metrics import cohen_kappa_score

    values = []
    for a, b in combinations(range(len(labels)), 2):
        if labels.shape[1] == 0:
            continue
        if len(np.union1d(labels[a], labels[b])) < 2:
            continue  # one category only: kappa is 0/0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            value = float(cohen_kappa_score(labels[a], labels[b], sample_weight=weights))
        if not np.isnan(value):
            values.append(value)
    return float(np.mean(values)) if values else None


def krippendorff_alpha(labels: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Krippendorff's alpha, nominal (``krippendorff`` package); None where undefined.

    With ``weights``, each unit (column) counts that many times: alpha's coincidences are sums
    over units, so this is alpha of the data with every unit repeated, computed without
    repeating them.
    """
    import krippendorff

    if labels.shape[1] == 0 or len(np.unique(labels)) < 2:
        return None
    if weights is not None:
        return _weighted_nominal_alpha(labels, weights)
    try:
        value = float(krippendorff.alpha(reliability_data=labels.astype(float), level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):
        return None
    return None if np.isnan(value) else value


def _weighted_nominal_alpha(labels: np.ndarray, weights: np.ndarray) -> float | None:
    """Nominal alpha of units repeated ``weights`` times (every coder codes every unit)."""
    values, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(labels.shape)
    counts = np.zeros((labels.shape[1], len(values)))  # per unit: how many coders chose each value
    for row in inverse:
        counts[np.arange(labels.shape[1]), row] += 1
    m = labels.shape[0]
    # Coincidences o_ck = sum_u w_u * n_uc * (n_uk - [c == k]) / (m - 1).
    weighted = counts * weights[:, None]
    observed = (weighted.T @ counts - np.diag(weighted.sum(axis=0))) / (m - 1)
    n_c = observed.sum(axis=0)
    n = n_c.sum()
    expected_disagreement = (n * n - (n_c * n_c).sum()) / (n - 1)
    if n <= 1 or expected_disagreement == 0:
        return None
    observed_disagreement = observed.sum() - np.trace(observed)
    return float(1 - observed_disagreement / expected_disagreement)


def _statistics(level: str, code: str, labels: np.ndarray, applied: tuple[int, ...],
                weights: np.ndarray | None = None) -> CodeAgreement:
    units = int(labels.shape[1] if weights is None else weights.sum())
    return CodeAgreement(level, code, units, applied, percent_agreement(labels, weights),
                         cohen_kappa(labels, weights), krippendorff_alpha(labels, weights))


def _merged(spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    starts: list[int] = []
    ends: list[int] = []
    for start, end in sorted(spans):
        if starts and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


def _covered(starts: list[int], ends: list[int], start: int, end: int) -> int:
    total = 0
    i = max(bisect_left(ends, start + 1), 0)  # the first merged span that ends after ``start``
    while i < len(starts) and starts[i] < end:
        total += min(end, ends[i]) - max(start, starts[i])
        i += 1
    return total


def agreement(raters: Sequence[Rater], *, documents: Sequence[str], lengths: dict[str, int] | None = None,
              units: Sequence[Unit] = (), scope: Sequence[Unit] = (), min_overlap: float = 0.5,
              levels: Sequence[str] = ("fragment", "character")) -> Agreement:
    """Agreement between two or more coders on the given documents.

    Args:
        raters: the coders and their codings (codings of other documents are ignored).
        documents: the documents compared.
        lengths: each document's text length (for the character level); by default the end of
            its last coding.
        units: passages up for coding beyond those coded (e.g. every fragment of a suggest run).
        scope: when given, the only passages compared (e.g. the fragments of a sample): they are
            the fragment-level units, and only their characters count at character level.
        min_overlap: share of a unit a code's codings must cover for the code to apply to it.
        levels: ``fragment``, ``character`` or both.
    """
    if len(raters) < 2:
        raise InputError("agreement needs at least two coders", code="E120")
    if not 0 < min_overlap <= 1:
        raise InputError(f"min-overlap {min_overlap} is not in (0, 1]", "--min-overlap")
    docs = tuple(sorted(set(documents)))
    wanted = set(docs)
    codings = [[c for c in r.codings if c.document in wanted] for r in raters]
    codes = sorted({c.code for cs in codings for c in cs})
    scope = [u for u in scope if u.document in wanted]
    rows: list[CodeAgreement] = []
    if "fragment" in levels:
        rows.extend(_fragment_level(codings, codes, scope or units, wanted, min_overlap, only_units=bool(scope)))
    if "character" in levels:
        rows.extend(_character_level(codings, codes, docs, lengths or {}, scope))
    return Agreement(tuple(r.name for r in raters), docs, tuple(rows))


def _fragment_level(codings: list[list[Coding]], codes: list[str], units: Sequence[Unit], wanted: set[str],
                    min_overlap: float, *, only_units: bool = False) -> list[CodeAgreement]:
    found = {(u.document, u.start, u.end) for u in units if u.document in wanted and u.end > u.start}
    if not only_units:
        found |= {(c.document, c.start, c.end) for cs in codings for c in cs if c.end > c.start}
    spans = sorted(found)
    index: list[dict[tuple[str, str], tuple[list[int], list[int]]]] = []
    for cs in codings:
        grouped: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for c in cs:
            grouped.setdefault((c.document, c.code), []).append((c.start, c.end))
        index.append({key: _merged(v) for key, v in grouped.items()})
    applied = np.zeros((len(codings), len(codes), len(spans)), dtype=bool)
    for r, merged in enumerate(index):
        for j, code in enumerate(codes):
            for u, (doc, start, end) in enumerate(spans):
                found = merged.get((doc, code))
                if found is not None and _covered(*found, start, end) >= min_overlap * (end - start):
                    applied[r, j, u] = True
    return _rows("fragment", applied, codes)


def _character_level(codings: list[list[Coding]], codes: list[str], docs: Sequence[str],
                     lengths: dict[str, int], scope: Sequence[Unit] = ()) -> list[CodeAgreement]:
    """Characters as units, computed on runs of characters whose codes are the same for every
    coder, each weighted by its length: the same statistics without one column per character."""
    ends = {d: 0 for d in docs}
    for cs in codings:
        for c in cs:
            ends[c.document] = max(ends[c.document], c.end)
    for u in scope:
        ends[u.document] = max(ends[u.document], u.end)
    sizes = {d: lengths.get(d, ends[d]) for d in docs}
    by_doc: list[dict[str, list[Coding]]] = []
    for cs in codings:
        grouped: dict[str, list[Coding]] = {}
        for c in cs:
            grouped.setdefault(c.document, []).append(c)
        by_doc.append(grouped)
    starts_all: list[np.ndarray] = []
    lengths_all: list[np.ndarray] = []
    covered: list[np.ndarray] = []  # per run: (raters, codes) covered
    in_scope: list[np.ndarray] = []
    for doc in docs:
        size = sizes[doc]
        cuts = {0, size}
        for grouped in by_doc:
            cuts.update(min(max(p, 0), size) for c in grouped.get(doc, ()) for p in (c.start, c.end))
        cuts.update(min(max(p, 0), size) for u in scope if u.document == doc for p in (u.start, u.end))
        bounds = np.array(sorted(cuts), dtype=np.int64)
        run_starts, run_lengths = bounds[:-1], np.diff(bounds)
        keep = run_lengths > 0
        run_starts, run_lengths = run_starts[keep], run_lengths[keep]
        flags = np.zeros((len(codings), len(codes), len(run_starts)), dtype=bool)
        for r, grouped in enumerate(by_doc):
            spans: dict[str, list[tuple[int, int]]] = {}
            for c in grouped.get(doc, ()):
                spans.setdefault(c.code, []).append((c.start, c.end))
            for j, code in enumerate(codes):
                flags[r, j] = _inside(run_starts, spans.get(code, []))
        starts_all.append(run_starts)
        lengths_all.append(run_lengths)
        covered.append(flags)
        in_scope.append(_inside(run_starts, [(u.start, u.end) for u in scope if u.document == doc])
                        if scope else np.ones(len(run_starts), dtype=bool))
    weights = np.concatenate(lengths_all) if lengths_all else np.zeros(0, dtype=np.int64)
    applied = np.concatenate(covered, axis=2) if covered else np.zeros((len(codings), len(codes), 0), dtype=bool)
    keep = np.concatenate(in_scope) if in_scope else np.zeros(0, dtype=bool)
    return _rows("character", applied[:, :, keep], codes, weights[keep].astype(float))


def _inside(points: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Whether each point lies in one of the spans (half-open)."""
    if not spans:
        return np.zeros(len(points), dtype=bool)
    starts, ends = _merged(spans)
    index = np.searchsorted(np.array(starts), points, side="right") - 1
    return (index >= 0) & (points < np.array(ends)[np.maximum(index, 0)])


def _rows(level: str, applied: np.ndarray, codes: list[str], weights: np.ndarray | None = None) -> list[CodeAgreement]:
    rows = []
    w = np.ones(applied.shape[2]) if weights is None else weights
    for j, code in enumerate(codes):
        labels = applied[:, j, :].astype(np.int64)
        rows.append(_statistics(level, code, labels, tuple(int(x) for x in (labels * w).sum(axis=1)), weights))
    # Overall: each unit's category is its set of codes, numbered consistently across coders.
    n_raters, _, n_units = applied.shape
    keys = [[tuple(np.flatnonzero(applied[r, :, u])) for u in range(n_units)] for r in range(n_raters)] \
        if len(codes) > 62 else None
    if keys is None:
        bits = (np.int64(1) << np.arange(len(codes), dtype=np.int64))
        labels = np.tensordot(applied.transpose(0, 2, 1).astype(np.int64), bits, axes=([2], [0])) \
            if codes else np.zeros((n_raters, n_units), dtype=np.int64)
    else:
        numbering: dict[tuple[int, ...], int] = {}
        labels = np.array([[numbering.setdefault(k, len(numbering)) for k in row] for row in keys], dtype=np.int64)
    rows.append(_statistics(level, OVERALL, labels,
                            tuple(int(x) for x in (applied.any(axis=1) * w).sum(axis=1)), weights))
    return rows


def raters_from_inputs(inputs: Sequence[CodedInput], coders: Sequence[str]) -> tuple[list[Rater], list[str]]:
    """Pick the coders to compare: two users of one input (``--coder X --coder Y``), or one coder
    from each of two inputs (named with ``--coder`` when an input holds several).

    Returns:
        The raters and the documents every input covers.
    """
    raters: list[Rater] = []
    if len(inputs) == 1:
        source = inputs[0]
        names = list(coders) or list(source.coders)
        if len(names) < 2:
            raise InputError(f"holds codings by {', '.join(source.coders) or 'nobody'} only", source.path,
                             "Give a second project or CSV to compare with, or two coders with --coder", code="E120")
        if not coders and len(names) > 2:
            raise InputError(f"holds codings by {', '.join(names)}", source.path,
                             "Pick the coders to compare with --coder X --coder Y (repeat for more)", code="E120")
        for name in names:
            if name not in source.coders:
                raise InputError(f"no codings by coder '{name}'", source.path,
                                 f"Coders in it: {', '.join(source.coders) or 'none'}", code="E120")
            raters.append(Rater(name, tuple(c for c in source.codings if c.coder == name)))
    elif len(inputs) == 2:
        if coders and len(coders) != 2:
            raise InputError("with two inputs, give --coder twice (the coder of the first, then of the second) "
                             "or not at all", "--coder", code="E130")
        for n, source in enumerate(inputs):
            if coders:
                name = coders[n]
                if name not in source.coders:
                    raise InputError(f"no codings by coder '{name}'", source.path,
                                     f"Coders in it: {', '.join(source.coders) or 'none'}", code="E120")
            elif len(source.coders) == 1:
                name = source.coders[0]
            else:
                raise InputError(f"holds codings by {', '.join(source.coders) or 'nobody'}", source.path,
                                 "Name the coder of each input: --coder X --coder Y", code="E120")
            raters.append(Rater(name, tuple(c for c in source.codings if c.coder == name)))
        if raters[0].name == raters[1].name:
            raters = [Rater(f"{r.name} ({s.path})", r.codings) for r, s in zip(raters, inputs)]
    else:
        raise InputError("give one or two inputs", "agree", code="E130")
    common = set(inputs[0].documents)
    for source in inputs[1:]:
        common &= set(source.documents)
    return raters, sorted(common)


def agreement_from_inputs(inputs: Sequence[CodedInput], coders: Sequence[str] = (), *, min_overlap: float = 0.5,
                          levels: Sequence[str] = ("fragment", "character"),
                          within: Sequence[Unit] = ()) -> Agreement:
    """:func:`agreement` for inputs as read by :func:`nlp_coder.refi.read_codings`.

    The comparison is limited to ``within`` when given, else to the passages the inputs mark (a
    ``.qdpx`` written by ``nlp-coder sample``, or by ``nlp-coder review --export``: those every
    input that marks passages marks), else it covers the whole documents.
    """
    raters, documents = raters_from_inputs(inputs, coders)
    notes: list[str] = []
    for source in inputs:
        left = sorted(set(source.documents) - set(documents))
        if left:
            notes.append(f"{source.path}: {len(left)} document(s) not in every input left out: "
                         + ", ".join(left[:5]) + (" ..." if len(left) > 5 else ""))
    if not documents:
        raise InputError("the inputs have no document in common", None,
                         "Check that the CSV's 'document' column uses the project's document names", code="E120")
    lengths: dict[str, int] = {}
    for source in inputs:
        lengths.update(dict(source.lengths))
    units = [u for source in inputs for u in source.units]
    scopes = [set(source.scope) for source in inputs if source.scope]  # passages both inputs were up for
    scope = list(within) or (sorted(set.intersection(*scopes), key=lambda u: (u.document, u.start, u.end))
                             if scopes else [])
    result = agreement(raters, documents=documents, lengths=lengths, units=units, scope=scope,
                       min_overlap=min_overlap, levels=levels)
    return Agreement(result.raters, result.documents, result.rows,
                     tuple(w for s in inputs for w in s.warnings) + tuple(notes))


def _number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # "0.000", not "-0.000"


def agreement_as_text(report: Agreement) -> str:
    """A table: level, code, units, units per coder, percent agreement, kappa, alpha."""
    header = ["level", "code", "units", *(f"n {r}" for r in report.raters), "agree %", "kappa", "alpha"]
    rows = [[r.level, r.code, str(r.units), *(str(a) for a in r.applied),
             "n/a" if r.percent is None else f"{100 * r.percent:.1f}", _number(r.kappa), _number(r.alpha)]
            for r in report.rows]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = [f"Agreement between {', '.join(report.raters)} on {len(report.documents)} document(s)"]
    for row in [header, *rows]:
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def agreement_as_dicts(report: Agreement) -> list[dict[str, object]]:
    return [
        {"level": r.level, "code": r.code, "units": r.units,
         **{f"n_{name}": a for name, a in zip(report.raters, r.applied)},
         "percent_agreement": r.percent, "cohen_kappa": r.kappa, "krippendorff_alpha": r.alpha}
        for r in report.rows
    ]


AGREEMENT_FORMATS = ("text", "csv", "json")
"""What ``nlp-coder agree`` writes."""


def measure_agreement(inputs: Sequence[str | Path], coders: Sequence[str] = (), *, level: str = "both",
                      within: str | Path | None = None, min_overlap: float = 0.5) -> Agreement:
    """Agreement between the coders of ``inputs`` (what ``nlp-coder agree`` measures).

    Args:
        inputs: one or two ``.qdpx`` projects, codings CSVs or ``suggest`` JSONL files.
        coders: the coders to compare (see :func:`agreement_from_inputs`).
        level: ``fragment``, ``character`` or ``both``.
        within: a sample (``.csv`` or ``.qdpx`` from ``nlp-coder sample``) to compare within.
        min_overlap: the share of a fragment a coder's codings must cover for the code to count.
    """
    from nlp_coder.refi import read_codings
    from nlp_coder.refi.codings import read_passages

    if level not in ("fragment", "character", "both"):
        raise InputError(f"unknown level '{level}'", "--level", "Use fragment, character or both", code="E130")
    levels = ("fragment", "character") if level == "both" else (level,)
    return agreement_from_inputs([read_codings(p) for p in inputs], coders, min_overlap=min_overlap, levels=levels,
                                 within=read_passages(within) if within else ())


def render_agreement(report: Agreement, fmt: str) -> str:
    """The report as ``text``, ``json`` or ``csv`` (one row per level and code)."""
    if fmt == "text":
        return agreement_as_text(report)
    rows = agreement_as_dicts(report)
    if fmt == "json":
        return json.dumps({"coders": list(report.raters), "documents": list(report.documents), "rows": rows},
                          ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        from nlp_coder.export.tables import csv_text

        header = list(rows[0]) if rows else ["level", "code"]
        return csv_text(header, [[r[h] for h in header] for r in rows])
    raise InputError(f"unknown format '{fmt}'", "--format", f"Use one of: {', '.join(AGREEMENT_FORMATS)}",
                     code="E130")
