"""Find candidate themes in text the codebook does not cover (``nlp-coder discover``).

The fragments no code fits (``uncoded``; optionally also the low-confidence ones, or every
fragment for open coding without a codebook) are clustered with scikit-learn's agglomerative
clustering (cosine distance, average linkage, a distance threshold: no number of clusters to
guess, and the same input always gives the same clusters). Each cluster is labelled with its
distinctive words (class-based TF-IDF over spaCy lemmas, stop words and fillers removed) and
its most representative fragments (nearest to the centroid), and named after the existing code
it is nearest to. Clusters become candidate codes, written as a YAML snippet to paste into the
codebook and refine.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nlp_coder.errors import InputError
from nlp_coder.match.matcher import CodebookMatcher
from nlp_coder.records import Fragment, FragmentResult

if TYPE_CHECKING:
    from nlp_coder.embed.protocol import Embedder
    from nlp_coder.run import CodebookSource, CorpusSource, StoreSource, SuggestOptions
    from nlp_coder.segment import SegmentOptions

#: Spoken fillers and hedges that say nothing about a theme.
FILLERS = frozenset(
    "um uh erm er ah oh mm hmm mhm yeah yes yep no nope okay ok right like just really actually basically "
    "literally kind sort thing things stuff lot bit know mean think guess say said get got go going went "
    "well would could might maybe something anything everything nothing gonna wanna".split()
)


@dataclass(frozen=True)
class Cluster:
    """A candidate theme: fragments that are close to each other and far from every code."""

    id: str
    size: int
    keywords: tuple[str, ...]
    representatives: tuple[Fragment, ...]
    fragment_ids: tuple[str, ...]
    cohesion: float
    nearest_code: str | None
    nearest_code_score: float | None


@dataclass(frozen=True)
class Discovery:
    """Clusters found among the selected fragments, largest first."""

    clusters: tuple[Cluster, ...]
    candidates: int
    unclustered: int
    selection: str
    distance_threshold: float
    min_cluster_size: int
    warnings: tuple[str, ...] = ()
    """What reading the corpus skipped or guessed (the coding run's warnings, in its manifest too)."""


SELECTIONS = ("uncoded", "low", "all")
"""Which fragments :func:`discover` clusters (``--include``)."""


def check_options(distance_threshold: float, min_cluster_size: int, selection: str | None = None) -> None:
    """Refuse options :func:`discover` cannot use (``E130``), before any work is done."""
    if isinstance(distance_threshold, bool) or not isinstance(distance_threshold, (int, float)) \
            or not 0 < distance_threshold <= 2:
        raise InputError(f"distance threshold {distance_threshold} is outside (0, 2]", "--distance-threshold",
                         code="E130")
    if isinstance(min_cluster_size, bool) or not isinstance(min_cluster_size, int) or min_cluster_size < 2:
        raise InputError(f"the minimum cluster size must be a whole number of at least 2, not {min_cluster_size!r}",
                         "--min-cluster-size", code="E130")
    if selection not in (None, *SELECTIONS):
        raise InputError(f"unknown selection '{selection}'", "--include", "Use uncoded, low or all", code="E130")


def select_for_discovery(results: Sequence[FragmentResult], selection: str,
                         low_margin: float = 0.05, threshold: float | None = None) -> list[int]:
    """Indexes of the fragments to cluster.

    Args:
        selection: ``uncoded`` (no code fits), ``low`` (uncoded, or coded with a best score less
            than ``low_margin`` above ``threshold``), or ``all``.
    """
    if selection == "all":
        return list(range(len(results)))
    if selection == "uncoded":
        return [i for i, r in enumerate(results) if r.decision.status == "uncoded"]
    if selection == "low":
        if threshold is None:
            raise ValueError("threshold is needed for the 'low' selection")
        return [i for i, r in enumerate(results)
                if r.decision.status == "uncoded"
                or (r.decision.suggestions and r.decision.suggestions[0].score < threshold + low_margin)]
    raise InputError(f"unknown selection '{selection}'", "--include", "Use uncoded, low or all", code="E130")


def cluster_vectors(vectors: np.ndarray, distance_threshold: float, min_cluster_size: int) -> np.ndarray:
    """Cluster labels (``-1`` for fragments in clusters smaller than ``min_cluster_size``),
    renumbered so that cluster 0 is the largest; ties broken by first fragment."""
    from sklearn.cluster import AgglomerativeClustering

    n = len(vectors)
    if n < max(2, min_cluster_size):
        return np.full(n, -1, dtype=np.int64)
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=distance_threshold, metric="cosine",
                                    linkage="average")
    raw = model.fit_predict(vectors)
    counts = Counter(raw.tolist())
    first = {label: int(np.argmax(raw == label)) for label in counts}
    kept = sorted((label for label, c in counts.items() if c >= min_cluster_size),
                  key=lambda label: (-counts[label], first[label]))
    mapping = {label: new for new, label in enumerate(kept)}
    return np.array([mapping.get(label, -1) for label in raw.tolist()], dtype=np.int64)


_TOKEN = re.compile(r"[a-z][a-z'-]+")


def _terms(texts: Sequence[str], nlp: Any | None) -> list[list[str]]:
    """Content-word lemmas of each text (plus noun chunks when the pipeline has a parser)."""
    if nlp is None:
        return [[t for t in _TOKEN.findall(text.lower()) if t not in FILLERS and len(t) > 2] for text in texts]
    out = []
    for doc in nlp.pipe(texts, batch_size=256):
        terms = [t.lemma_.lower() for t in doc
                 if t.is_alpha and not t.is_stop and len(t) > 2 and t.lemma_.lower() not in FILLERS
                 and t.pos_ in ("NOUN", "VERB", "ADJ")]  # names of people are not themes
        if doc.has_annotation("DEP"):
            for chunk in doc.noun_chunks:
                words = [t.lemma_.lower() for t in chunk if t.is_alpha and not t.is_stop
                         and t.pos_ != "PROPN" and t.lemma_.lower() not in FILLERS]
                if len(words) >= 2:
                    terms.append(" ".join(words))
        out.append(terms)
    return out


def class_tfidf_keywords(terms_per_cluster: Sequence[Sequence[str]], top: int = 6) -> list[tuple[str, ...]]:
    """The most distinctive terms of each cluster by class-based TF-IDF.

    A term's weight in a cluster is its frequency there (normalised by the cluster's size in
    terms) times ``log(1 + A / f)``, where ``A`` is the mean number of terms per cluster and
    ``f`` the term's frequency over all clusters: frequent here and rare elsewhere ranks first.
    """
    counts = [Counter(terms) for terms in terms_per_cluster]
    total = Counter()
    for c in counts:
        total.update(c)
    if not total:
        return [() for _ in counts]
    average = sum(total.values()) / max(len(counts), 1)
    keywords = []
    for c in counts:
        size = sum(c.values()) or 1
        # A term said once in a cluster is weak evidence; use those only when little else is left.
        repeated = [t for t in c if c[t] >= 2]
        pool = repeated if len(repeated) >= 3 else list(c)
        scored = sorted((-(c[t] / size) * float(np.log(1 + average / total[t])), t) for t in pool)
        keywords.append(tuple(t for _, t in scored[:top]))
    return keywords


def discover(results: Sequence[FragmentResult], vectors: np.ndarray, *, matcher: CodebookMatcher | None = None,
             selection: str = "uncoded", distance_threshold: float = 0.6, min_cluster_size: int = 4,
             representatives: int = 3, nlp: Any | None = None) -> Discovery:
    """Cluster the selected fragments into candidate themes.

    Args:
        results: fragment results from matching (any status).
        vectors: the fragments' unit vectors, one row per result.
        matcher: the fitted codebook matcher, to name each cluster's nearest existing code.
        selection: which fragments to cluster: ``uncoded``, ``low`` or ``all``.
        distance_threshold: clusters are not merged beyond this cosine distance (lower: more,
            tighter clusters).
        min_cluster_size: smaller clusters are left out.
        representatives: fragments shown per cluster.
        nlp: a spaCy pipeline with a lemmatizer for the keywords (plain words without it).
    """
    check_options(distance_threshold, min_cluster_size)
    threshold = matcher.settings.threshold if matcher is not None else None
    chosen = select_for_discovery(results, selection, threshold=threshold)
    subset = vectors[chosen]
    labels = cluster_vectors(subset, distance_threshold, min_cluster_size)
    n_clusters = int(labels.max()) + 1 if len(labels) else 0
    members = [[chosen[i] for i in np.flatnonzero(labels == k)] for k in range(n_clusters)]
    texts = [[results[i].fragment.text for i in group] for group in members]
    keywords = class_tfidf_keywords([[t for terms in _terms(group, nlp) for t in terms] for group in texts])
    code_scores = matcher.decision_function(vectors) if matcher is not None and n_clusters else None
    codable = [j for j, c in enumerate(matcher.codebook_.codes) if c.codable and c.facet is None] if matcher else []
    clusters = []
    for k, group in enumerate(members):
        block = vectors[group]
        centroid = block.mean(axis=0)
        norm = float(np.linalg.norm(centroid)) or 1.0
        closeness = block @ (centroid / norm)
        order = sorted(range(len(group)), key=lambda i: (-round(float(closeness[i]), 6), i))
        nearest, nearest_score = None, None
        if code_scores is not None and codable:
            mean_scores = code_scores[group][:, codable].mean(axis=0)
            best = int(np.argmax(mean_scores))
            nearest = matcher.codebook_.codes[codable[best]].id  # type: ignore[union-attr]
            nearest_score = round(float(mean_scores[best]), 4)
        words = keywords[k]
        clusters.append(Cluster(
            id=f"cluster-{k + 1}",
            size=len(group),
            keywords=words,
            representatives=_distinct(results, group, order, representatives),
            fragment_ids=tuple(results[i].fragment.id for i in group),
            cohesion=round(float(closeness.mean()), 4),
            nearest_code=nearest,
            nearest_code_score=nearest_score,
        ))
    return Discovery(
        clusters=tuple(clusters),
        candidates=len(chosen),
        unclustered=int((labels == -1).sum()),
        selection=selection,
        distance_threshold=distance_threshold,
        min_cluster_size=min_cluster_size,
    )


def _distinct(results: Sequence[FragmentResult], group: Sequence[int], order: Sequence[int],
              n: int) -> tuple[Fragment, ...]:
    """The ``n`` members nearest the centroid whose texts differ (ignoring case, spacing and end
    punctuation): a backchannel said twenty times is shown once, and the other slots show more of the theme."""
    chosen: list[Fragment] = []
    seen: set[str] = set()
    for i in order:
        fragment = results[group[i]].fragment
        key = " ".join(fragment.text.lower().split()).rstrip(".!?…,;: ")
        if key in seen:
            continue
        seen.add(key)
        chosen.append(fragment)
        if len(chosen) == n:
            break
    return tuple(chosen)


def _slug(words: Sequence[str]) -> str:
    return re.sub(r"[^a-z0-9]+", "-", " ".join(words[:3]).lower()).strip("-") or "theme"


def candidate_codes_yaml(discovery: Discovery) -> str:
    """The clusters as codebook entries to paste under ``codes:`` and refine by hand."""
    import yaml

    entries = []
    for cluster in discovery.clusters:
        nearest = f" Nearest existing code: {cluster.nearest_code}." if cluster.nearest_code else ""
        entries.append({
            "id": f"candidate-{cluster.id.split('-')[-1]}-{_slug(cluster.keywords)}",
            "name": "Candidate: " + ", ".join(cluster.keywords[:3]) if cluster.keywords else cluster.id,
            "definition": f"TO DO: define this theme ({cluster.size} fragments; keywords: "
                          f"{', '.join(cluster.keywords)}).{nearest}",
            "examples": [" ".join(f.text.split()) for f in cluster.representatives],
        })
    header = "# Candidate codes found by nlp-coder discover: review, rename and define before use.\n"
    return header + yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=100)


def _fragment_ref(f: Fragment) -> dict[str, object]:
    return {"document": f.document, "fragment_id": f.id, "start": f.start, "end": f.end,
            "speaker": f.speaker, "text": f.text}


def discovery_as_dict(discovery: Discovery) -> dict[str, object]:
    """The discovery as JSON-ready data (format: docs/commands/discover.md)."""
    return {
        "selection": discovery.selection,
        "distance_threshold": discovery.distance_threshold,
        "min_cluster_size": discovery.min_cluster_size,
        "fragments_clustered": discovery.candidates,
        "fragments_unclustered": discovery.unclustered,
        "clusters": [
            {
                "id": c.id,
                "size": c.size,
                "keywords": list(c.keywords),
                "cohesion": c.cohesion,
                "nearest_code": c.nearest_code,
                "nearest_code_score": c.nearest_code_score,
                "representatives": [_fragment_ref(f) for f in c.representatives],
                "fragment_ids": list(c.fragment_ids),
            }
            for c in discovery.clusters
        ],
        "candidate_codes_yaml": candidate_codes_yaml(discovery),
    }


def discovery_as_markdown(discovery: Discovery) -> str:
    """A readable page: one section per candidate theme, then the YAML snippet."""
    lines = [
        "# Candidate themes",
        "",
        f"{discovery.candidates} {discovery.selection} fragments clustered (cosine distance threshold "
        f"{discovery.distance_threshold}, clusters of at least {discovery.min_cluster_size}): "
        f"{len(discovery.clusters)} clusters, {discovery.unclustered} fragments in no cluster.",
        "",
    ]
    for c in discovery.clusters:
        nearest = f"; nearest code: {c.nearest_code} ({c.nearest_code_score})" if c.nearest_code else ""
        lines += [f"## {c.id}: {', '.join(c.keywords) or '(no keywords)'}", "",
                  f"{c.size} fragments, cohesion {c.cohesion}{nearest}.", ""]
        for f in c.representatives:
            lines.append(f"- \"{' '.join(f.text.split())}\" ({f.document}, characters {f.start}-{f.end})")
        lines.append("")
    lines += ["## Candidate codes", "", "```yaml", candidate_codes_yaml(discovery).rstrip(), "```", ""]
    return "\n".join(lines)


def discover_themes(corpus: CorpusSource, codebook: CodebookSource | None, store_path: StoreSource, *,
                    segment_options: SegmentOptions | None = None, options: SuggestOptions | None = None,
                    metadata: str | Path | None = None, selection: str | None = None,
                    distance_threshold: float = 0.6, min_cluster_size: int = 4,
                    embedder: Embedder | None = None, progress: bool = False) -> Discovery:
    """Cluster what the codebook does not cover into candidate themes (``nlp-coder discover``).

    With a codebook, the corpus is coded first (recorded as a ``suggest`` run) and the
    ``uncoded`` fragments are clustered by default; without one, every fragment is (open coding).
    """
    from nlp_coder.records import Decision
    from nlp_coder.run import SuggestOptions, embed_corpus, suggest
    from nlp_coder.segment import load_analysis_pipeline

    check_options(distance_threshold, min_cluster_size, selection)  # before any coding
    options = options or SuggestOptions()
    if codebook is not None:
        coded = suggest(corpus, codebook, store_path, segment_options=segment_options, options=options,
                        metadata=metadata, embedder=embedder, progress=progress)
        results, vectors, matcher = coded.results, coded.vectors, coded.matcher
        warnings = coded.segmentation.warnings
    else:
        if selection not in (None, "all"):
            raise InputError(f"--include {selection} needs a codebook", "--include",
                             "Give --codebook, or leave --include out to cluster every fragment", code="E131")
        done = embed_corpus(corpus, store_path, segment_options=segment_options, model=options.model,
                            metadata=metadata, embedder=embedder, progress=progress)
        nothing = Decision(status="uncoded", codes=(), suggestions=())
        results = tuple(FragmentResult(fragment=f, decision=nothing) for f in done.segmentation.fragments)
        vectors, matcher = done.vectors, None
        warnings = done.segmentation.warnings
    assert vectors is not None
    found = discover(results, vectors, matcher=matcher, selection=selection or ("uncoded" if codebook else "all"),
                     distance_threshold=distance_threshold, min_cluster_size=min_cluster_size,
                     nlp=load_analysis_pipeline())
    return replace(found, warnings=tuple(warnings))
