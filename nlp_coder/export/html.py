"""One self-contained HTML page that reports a coded corpus (``nlp-coder report``).

The page works offline: styles and figures are inline (SVG), with no scripts, fonts or images
from elsewhere. Figures have text alternatives and use the Okabe-Ito palette, which stays
distinguishable with the common colour-vision deficiencies; every figure's numbers are also in a
table.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nlp_coder.analyses.agree import Agreement
from nlp_coder.analyses.discover import Discovery
from nlp_coder.analyses.sensitivity import Sensitivity
from nlp_coder.export.tables import Summary, summarise
from nlp_coder.records import Codebook, Document, FragmentResult, RunManifest
from nlp_coder.refi.model import Coding

if TYPE_CHECKING:
    from nlp_coder.embed.protocol import Embedder
    from nlp_coder.match.decide import Decisions
    from nlp_coder.privacy.pseudonymise import Pseudonymiser
    from nlp_coder.run import CodebookSource, CorpusSource, StoreSource, SuggestOptions
    from nlp_coder.segment import SegmentOptions

#: Okabe & Ito (2008): distinguishable with the common colour-vision deficiencies.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")
MARKERS = ("circle", "square", "triangle", "diamond")
UNCODED_COLOUR = "#BBBBBB"
MAX_ATTRIBUTE_VALUES = 12


@dataclass(frozen=True)
class MapPoint:
    x: float
    y: float
    colour: str
    marker: str
    label: str
    title: str


@dataclass(frozen=True)
class Legend:
    colour: str
    marker: str
    label: str
    count: int


@dataclass(frozen=True)
class Edge:
    a: str
    b: str
    weight: int


def fragment_map(results: Sequence[FragmentResult], vectors: np.ndarray, codebook: Codebook,
                 width: int = 640, height: int = 480) -> tuple[list[MapPoint], list[Legend]]:
    """Fragments placed in 2-D by PCA of their vectors, styled by their best main code."""
    from sklearn.decomposition import PCA

    if len(results) < 3:
        return [], []
    xy = PCA(n_components=2, svd_solver="full").fit_transform(vectors.astype(np.float64))
    # PCA's sign is arbitrary; fix it so the same input always draws the same picture.
    for k in range(2):
        if xy[np.argmax(np.abs(xy[:, k])), k] < 0:
            xy[:, k] = -xy[:, k]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo == 0, 1, hi - lo)
    pad = 20
    codes = [c for c in codebook.group(None) if c.codable]
    style = {c.id: (PALETTE[i % len(PALETTE)], MARKERS[(i // len(PALETTE)) % len(MARKERS)], c.name)
             for i, c in enumerate(codes)}
    counts: Counter[str] = Counter()
    points = []
    for r, (x, y) in zip(results, xy):
        code = r.decision.codes[0] if r.decision.codes else None
        colour, marker, label = style[code] if code else (UNCODED_COLOUR, "circle", "uncoded")
        counts[code or ""] += 1
        f = r.fragment
        points.append(MapPoint(
            x=round(pad + (x - lo[0]) / span[0] * (width - 2 * pad), 1),
            y=round(height - pad - (y - lo[1]) / span[1] * (height - 2 * pad), 1),
            colour=colour, marker=marker, label=label,
            title=f"{label}: \u201c{_short(f.text, 140)}\u201d ({f.document}, characters {f.start}-{f.end})",
        ))
    legend = [Legend(*style[c.id], count=counts[c.id]) for c in codes if counts[c.id]]
    legend.append(Legend(UNCODED_COLOUR, "circle", "uncoded", counts[""]))
    return points, legend


def cooccurrence(results: Sequence[FragmentResult], codebook: Codebook) -> list[Edge]:
    """Pairs of main codes assigned within the same speaker turn, with how many turns hold both."""
    per_turn: dict[tuple[str, int], set[str]] = {}
    main = {c.id for c in codebook.group(None) if c.codable}
    for r in results:
        turn = per_turn.setdefault((r.fragment.document, r.fragment.turn), set())
        turn.update(c for c in r.decision.codes if c in main)
    weights: Counter[tuple[str, str]] = Counter()
    order = [c.id for c in codebook.codes]
    for codes in per_turn.values():
        for a, b in combinations(sorted(codes, key=order.index), 2):
            weights[(a, b)] += 1
    return [Edge(a, b, w) for (a, b), w in sorted(weights.items(), key=lambda item: (-item[1], item[0]))]


def network_layout(codebook: Codebook, edges: Sequence[Edge], size: int = 480) -> dict[str, tuple[float, float]]:
    """Codes that take part in an edge, evenly on a circle in codebook order."""
    used = {e.a for e in edges} | {e.b for e in edges}
    nodes = [c.id for c in codebook.codes if c.id in used]
    centre, radius = size / 2, size / 2 - 90
    return {
        code: (round(centre + radius * math.cos(2 * math.pi * i / len(nodes) - math.pi / 2), 1),
               round(centre + radius * math.sin(2 * math.pi * i / len(nodes) - math.pi / 2), 1))
        for i, code in enumerate(nodes)
    }


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _crosstab(results: Sequence[FragmentResult], assigned: Sequence[set[str]], rows: list[str],
              key: Any) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = {row: Counter() for row in rows}
    for r, codes in zip(results, assigned):
        value = key(r)
        if value is None:
            continue
        for code in codes:
            if code in table:
                table[code][value] += 1
    return table


def machine_agreement(results: Sequence[FragmentResult], documents: Sequence[Document],
                      codings: Sequence[Coding]) -> tuple[Agreement, ...]:
    """Agreement of each human coder with the machine (and between the humans, when several),
    on the documents the humans coded, at fragment and character level."""
    from nlp_coder.analyses.agree import Rater, agreement
    from nlp_coder.refi import MACHINE_USER, Unit

    human = [c for c in codings if c.coder != MACHINE_USER]
    coded_docs = sorted({c.document for c in human} & {d.id for d in documents})
    if not coded_docs:
        return ()
    wanted = set(coded_docs)
    machine = Rater(MACHINE_USER, tuple(
        Coding(r.fragment.document, r.fragment.start, r.fragment.end, code, MACHINE_USER)
        for r in results if r.fragment.document in wanted
        for d in [r.decision, *(d for _, d in r.facets)] for code in d.codes))
    units = [Unit(r.fragment.document, r.fragment.start, r.fragment.end) for r in results
             if r.fragment.document in wanted]
    lengths = {d.id: len(d.text) for d in documents}
    coders = list(dict.fromkeys(c.coder for c in human))
    raters = [Rater(name, tuple(c for c in human if c.coder == name)) for name in coders]
    tables = [agreement([r, machine], documents=coded_docs, lengths=lengths, units=units) for r in raters]
    if len(raters) > 1:
        tables.append(agreement(raters, documents=coded_docs, lengths=lengths, units=units))
    return tuple(tables)


def report_context(decided: Decisions, vectors: np.ndarray, codebook: Codebook,
                   documents: Sequence[Document], manifest: RunManifest, *, discovery: Discovery | None = None,
                   sensitivity: Sensitivity | None = None, fragment_texts: dict[str, str] | None = None,
                   agreements: Sequence[Agreement] = (), quotes: int = 3) -> dict[str, object]:
    """Everything the template shows, computed once (plain values, ready to render)."""
    summary: Summary = summarise(decided, codebook)
    results = decided.results()
    assigned = [decided.codes_of(i) for i in range(len(decided))]
    main_ids = [c.id for c in codebook.group(None)]
    facet_tables = []
    by_facet = {name: [c.id for c in codebook.group(name)] for name in (f.name for f in codebook.facets)}
    for facet, columns in by_facet.items():
        table = _crosstab(results, assigned, main_ids, lambda r, cols=columns: next(
            (c for _, d in r.facets for c in d.codes if c in cols), None))
        facet_tables.append({"name": facet, "columns": columns, "rows": [
            {"code": codebook.code(c).name, "depth": len(codebook.ancestors(c)),
             "cells": [table[c][v] for v in columns]}
            for c in main_ids]})
    facet_pairs = []
    for (fa, ca), (fb, cb) in combinations(by_facet.items(), 2):
        grid = Counter()
        for got in assigned:
            for x in ca:
                for y in cb:
                    if x in got and y in got:
                        grid[(x, y)] += 1
        facet_pairs.append({"a": fa, "b": fb, "columns": cb,
                            "rows": [{"code": x, "cells": [grid[(x, y)] for y in cb]} for x in ca]})
    attribute_names = sorted({k for r in results for k in r.fragment.attributes})
    attribute_tables = []
    for name in attribute_names:
        values = sorted({r.fragment.attributes.get(name, "") for r in results} - {""})
        if not values or len(values) > MAX_ATTRIBUTE_VALUES:
            continue
        table = _crosstab(results, assigned, main_ids, lambda r, n=name: r.fragment.attributes.get(n) or None)
        attribute_tables.append({"name": name, "columns": values, "rows": [
            {"code": codebook.code(c).name, "depth": len(codebook.ancestors(c)), "cells": [table[c][v] for v in values]}
            for c in main_ids]})
    best_quotes = []
    for code in codebook.group(None):
        if not code.codable:
            continue
        scored = sorted(((s.score, i) for i, r in enumerate(results) for s in r.decision.suggestions[:1]
                         if code.id in r.decision.codes), key=lambda item: (-item[0], item[1]))
        best_quotes.append({"code": code.name, "quotes": [
            {"text": _short(results[i].fragment.text, 300), "document": results[i].fragment.document,
             "start": results[i].fragment.start, "end": results[i].fragment.end, "score": score}
            for score, i in scored[:quotes]]})
    points, legend = fragment_map(results, vectors, codebook)
    edges = cooccurrence(results, codebook)
    layout = network_layout(codebook, edges)
    max_weight = max((e.weight for e in edges), default=1)
    speakers = Counter(r.fragment.speaker or "(none)" for r in results)
    return {
        "title": f"Coding report: {codebook.name}",
        "manifest": manifest,
        "expect": _expectations(manifest),
        "summary": summary,
        "documents": [{"id": d.id, "format": d.format, "speakers": ", ".join(d.speakers),
                       "fragments": sum(1 for r in results if r.fragment.document == d.id),
                       "attributes": ", ".join(f"{k}: {v}" for k, v in sorted(d.attributes.items()))}
                      for d in documents],
        "speakers": sorted(speakers.items()),
        "reading": manifest.reading,
        "warnings": manifest.warnings,
        "facet_tables": facet_tables,
        "facet_pairs": facet_pairs,
        "attribute_tables": attribute_tables,
        "quotes": best_quotes,
        "points": points,
        "legend": legend,
        "edges": [{"a": codebook.code(e.a).name, "b": codebook.code(e.b).name, "weight": e.weight,
                   "x1": layout[e.a][0], "y1": layout[e.a][1], "x2": layout[e.b][0], "y2": layout[e.b][1],
                   "width": round(1 + 7 * e.weight / max_weight, 1)} for e in edges],
        "nodes": [{"name": codebook.code(c).name, "x": x, "y": y,
                   "anchor": "start" if x > 250 else ("end" if x < 230 else "middle")} for c, (x, y) in layout.items()],
        "discovery": discovery,
        "agreements": list(agreements),
        "sensitivity": sensitivity,
        "fragment_texts": fragment_texts or {},
    }


def _expectations(manifest: RunManifest) -> dict[str, object] | None:
    """What the learned model's cross-validation says to expect (None: the run did not learn)."""
    learned = dict(manifest.parameters).get("learned")
    if not isinstance(learned, dict):
        return None
    calibration = {c["code"]: c for c in learned.get("calibration", [])}
    rows = [{**c, "threshold": calibration.get(c["code"], {}).get("threshold"),
             "at_precision": calibration.get(c["code"], {}).get("precision"),
             "at_recall": calibration.get(c["code"], {}).get("recall"),
             "reached": calibration.get(c["code"], {}).get("reached", True),
             "status": calibration.get(c["code"], {}).get("status", "calibrated"),
             "why": calibration.get(c["code"], {}).get("why")} for c in learned.get("per_code", [])]
    return {**learned, "rows": rows}


def render_report(context: dict[str, object]) -> str:
    """The HTML page for a :func:`report_context`."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("nlp_coder", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["short"] = _short
    return env.get_template("report.html.j2").render(**context)


def build_report(corpus: CorpusSource, codebook: CodebookSource, store_path: StoreSource, *,
                 segment_options: SegmentOptions | None = None, options: SuggestOptions | None = None,
                 metadata: str | Path | None = None, bootstrap: int = 10, seed: int = 0,
                 distance_threshold: float = 0.6, min_cluster_size: int = 4, codings: str | Path | None = None,
                 embedder: Embedder | None = None, progress: bool = False, pseudonymiser: Pseudonymiser | None = None
                 ) -> str:
    """Code a corpus, find candidate themes, test the boundaries, and render one HTML page.

    Human coding (``codings``: a ``.qdpx`` or a codings CSV; by default the corpus itself when it
    is a ``.qdpx``) adds agreement tables between each human coder and the machine. With a
    ``pseudonymiser`` (``--pseudonymise``, already scanned) every text on the page is
    pseudonymised and the manifest says what was replaced.
    """
    from nlp_coder.analyses.discover import discover
    from nlp_coder.analyses.sensitivity import sensitivity_of
    from nlp_coder.readers import CorpusReading
    from nlp_coder.refi import read_codings
    from nlp_coder.run import SuggestOptions, open_store, suggest
    from nlp_coder.segment import load_analysis_pipeline

    options = options or SuggestOptions()
    with open_store(store_path) as store:  # one store for every step (it may be in memory)
        coded = suggest(corpus, codebook, store, segment_options=segment_options, options=options,
                        metadata=metadata, embedder=embedder, progress=progress)
        assert coded.vectors is not None and coded.matcher is not None
        themes = discover(coded.results, coded.vectors, matcher=coded.matcher, distance_threshold=distance_threshold,
                          min_cluster_size=min_cluster_size, nlp=load_analysis_pipeline())
        boundaries = sensitivity_of(coded, store, options, bootstrap=bootstrap, seed=seed, compare_model=None,
                                     progress=progress)
    is_project = not isinstance(corpus, CorpusReading) and Path(corpus).suffix.casefold() == ".qdpx"
    source = codings or (corpus if is_project else None)
    human = read_codings(source).codings if source is not None else ()
    agreements = machine_agreement(coded.results, coded.segmentation.documents, human) if human else ()
    assert coded.decisions is not None
    context = report_context(coded.decisions, coded.vectors, coded.codebook, coded.segmentation.documents,
                             coded.manifest, discovery=themes, sensitivity=boundaries,
                             fragment_texts={f.id: f.text for f in coded.segmentation.fragments},
                             agreements=agreements)
    if pseudonymiser is not None:
        context = {**pseudonymiser.walk(context), "manifest": pseudonymiser.manifest(coded.manifest)}
    return render_report(context)
