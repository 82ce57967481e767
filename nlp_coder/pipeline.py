"""The main job, step by step: read -> segment -> embed (cached) -> match -> decide.

Each command of the CLI calls one function here. Everything between steps is a frozen record.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from nlp_coder import __version__
from nlp_coder.codebook import load_codebook
from nlp_coder.discover import Discovery
from nlp_coder.embed import Embedder, load_embedder, load_registry
from nlp_coder.errors import InputError
from nlp_coder.fast import CascadeOptions, CascadeReport
from nlp_coder.match import CodebookMatcher, codebook_texts
from nlp_coder.output import result_record
from nlp_coder.readers import read_corpus_report
from nlp_coder.records import Codebook, Document, Fragment, FragmentResult, MatchSettings, RunManifest
from nlp_coder.segment import SegmentOptions, load_pipeline, pipeline_name, segment
from nlp_coder.sensitivity import Sensitivity
from nlp_coder.store import Store, text_sha256
from nlp_coder.train import Training

DEFAULT_BATCH = 256


@dataclass(frozen=True)
class SuggestOptions:
    """Options of :func:`suggest` beyond segmentation.

    ``threshold`` and ``margin`` default to the codebook's values, else the model's.
    """

    model: str = "default"
    threshold: float | None = None
    margin: float | None = None
    top_k: int = 3
    definition_weight: float = 0.25
    counterexample_weight: float = 1.0
    suggestions: int = 3
    batch_size: int = DEFAULT_BATCH
    # Speed (nlp_coder.fast): the torch device of the model, and the cascade (None: off; else the
    # largest share of fragments the full model re-scores after the fast model scored them all).
    device: str = "cpu"
    cascade: float | None = None
    cascade_band: float | None = None
    # Pilot coding to learn from (nlp_coder.train): a .qdpx project or a codings CSV.
    train_from: str | None = None


@dataclass(frozen=True)
class Segmentation:
    """Documents read from a corpus and the fragments cut from them."""

    documents: tuple[Document, ...]
    fragments: tuple[Fragment, ...]
    warnings: tuple[str, ...]
    pipeline: str


@dataclass(frozen=True)
class SuggestResult:
    """What :func:`suggest` produced, with the manifest that reproduces it."""

    segmentation: Segmentation
    codebook: Codebook
    results: tuple[FragmentResult, ...]
    manifest: RunManifest
    run_id: int
    embedded: int = 0
    cached: int = 0
    vectors: np.ndarray | None = field(default=None, compare=False, repr=False)
    matcher: CodebookMatcher | None = field(default=None, compare=False, repr=False)
    cascade: CascadeReport | None = None
    training: Training | None = None


@dataclass(frozen=True)
class Embedding:
    """A corpus' fragments with their vectors (one row per fragment)."""

    segmentation: Segmentation
    vectors: np.ndarray = field(compare=False, repr=False)
    model: str
    embedded: int
    cached: int


def read_and_segment(corpus: str | Path, options: SegmentOptions | None = None,
                     metadata: str | Path | None = None) -> Segmentation:
    """Read a corpus (file, folder or fragment table) and cut it into fragments.

    Raises:
        InputError: unreadable input, or no fragment left to code (e.g. every speaker excluded).
    """
    options = options or SegmentOptions()
    reading = read_corpus_report(Path(corpus), metadata=Path(metadata) if metadata else None)
    documents = reading.documents
    warnings = [*reading.warnings, *(w for d in documents for w in d.warnings)]
    nlp = None
    name = "none (fragment table)"
    if any(not d.presegmented for d in documents):
        nlp = load_pipeline(options.pipeline)
        name = pipeline_name(nlp)
    fragments = segment(documents, options, nlp=nlp)
    if not fragments:
        raise InputError("no fragments to code", str(corpus),
                         "Check --speaker/--exclude-speaker and --min-words, or that the files hold text")
    return Segmentation(documents, fragments, tuple(warnings), name)


def corpus_sha256(documents: Sequence[Document]) -> str:
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.id):
        digest.update(json.dumps([doc.id, text_sha256(doc.text), doc.attributes], sort_keys=True).encode())
    return digest.hexdigest()


def embed_cached(store: Store, embedder: Embedder, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH,
                 progress: bool = False) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``, embedding only what the store has not cached for this model.

    Each batch is committed as soon as it is embedded, so an interrupted run keeps it.

    Returns:
        The vectors (one row per text) and how many distinct texts were newly embedded.
    """
    hashes = [text_sha256(t) for t in texts]
    key = cache_key(embedder.model_id, embedder.weights_sha256)
    found = store.cached_vectors(key, hashes)
    missing: dict[str, str] = {}
    for sha, text in zip(hashes, texts):
        if sha not in found and sha not in missing:
            missing[sha] = text
    if missing:
        # Batches of similar length need less padding: sort by length (then hash, for determinism).
        todo = sorted(missing.items(), key=lambda item: (len(item[1]), item[0]))
        bar = _progress(len(todo), progress, f"embedding with {embedder.model_id}")
        for lo in range(0, len(todo), batch_size):
            batch = todo[lo:lo + batch_size]
            vectors = embedder.encode([t for _, t in batch])
            store.save_vectors(key, [s for s, _ in batch], vectors)
            found.update({s: v for (s, _), v in zip(batch, vectors)})
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
    if not hashes:
        return np.zeros((0, embedder.dimensions), dtype=np.float32), 0
    return np.stack([found[s] for s in hashes]).astype(np.float32), len(missing)


def cache_key(model_id: str, weights_sha256: str) -> str:
    """The embedding cache's model key: the model's name and its weights, so that vectors of
    other weights published under the same name are never reused."""
    return f"{model_id}@{weights_sha256[:16]}"


def _progress(total: int, enabled: bool, label: str):  # type: ignore[no-untyped-def]
    if not enabled or total < DEFAULT_BATCH or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="text", file=sys.stderr, leave=False)


def match_settings(codebook: Codebook, options: SuggestOptions) -> MatchSettings:
    """Resolve threshold and margin: the option, else the codebook's, else the model's default."""
    spec = load_registry().model(options.model)
    threshold = next(v for v in (options.threshold, codebook.threshold, spec.threshold) if v is not None)
    margin = next(v for v in (options.margin, codebook.margin, spec.margin) if v is not None)
    if not -1.0 <= threshold <= 1.0:
        raise InputError(f"threshold {threshold} is outside [-1, 1]", "--threshold")
    if margin < 0:
        raise InputError(f"margin {margin} is negative", "--margin")
    if options.top_k < 1 or options.suggestions < 1:
        raise InputError("--top-k and --suggestions must be at least 1")
    return MatchSettings(
        threshold=threshold,
        margin=margin,
        top_k=options.top_k,
        definition_weight=options.definition_weight,
        counterexample_weight=options.counterexample_weight,
        suggestions=options.suggestions,
    )


def suggest(corpus: str | Path, codebook: str | Path, store_path: str | Path, *,
            segment_options: SegmentOptions | None = None, options: SuggestOptions | None = None,
            metadata: str | Path | None = None, embedder: Embedder | None = None,
            progress: bool = False, fast_embedder: Embedder | None = None) -> SuggestResult:
    """Pre-code a corpus: suggest codes for every fragment of respondent talk.

    Args:
        corpus: a transcript, a folder of transcripts, or a fragment table.
        codebook: the codebook YAML file.
        store_path: the project store (created if missing).
        segment_options: unit, speakers, minimum words.
        options: model, threshold, margin and scoring weights.
        metadata: a CSV of per-document attributes (default: ``metadata.csv`` in the folder).
        embedder: an already loaded embedder (tests pass a fake); loaded from ``options.model``
            otherwise.
        progress: show a progress bar on long runs (only on a terminal).
        fast_embedder: with ``options.cascade``, the fast model (loaded from the registry's
            ``fast`` otherwise); see :mod:`nlp_coder.fast`.

    Returns:
        A :class:`SuggestResult` with one :class:`FragmentResult` per fragment.
    """
    segment_options = segment_options or SegmentOptions()
    options = options or SuggestOptions()
    book = load_codebook(codebook)
    settings = match_settings(book, options)
    seg = read_and_segment(corpus, segment_options, metadata)
    embedder = embedder or load_embedder(options.model, batch_size=min(options.batch_size, 128),
                                         device=options.device)
    if options.train_from is not None and options.cascade is not None:
        raise InputError("--train-from and --cascade cannot be combined", "--train-from",
                         "Leave out --cascade when training on pilot coding")
    cascade = None
    if options.cascade is not None:
        cascade = CascadeOptions(share=options.cascade, band=options.cascade_band)
        cascade.check()
        fast_embedder = fast_embedder or load_embedder(cascade.fast_model)
    with Store(store_path) as store:
        store.save_fragments(seg.documents, seg.fragments, segment_options.unit)
        store.save_codebook(book)
        manifest = RunManifest(
            tool_version=__version__,
            model=embedder.model_id,
            model_weights_sha256=embedder.weights_sha256,
            codebook=book.name,
            codebook_sha256=book.sha256,
            corpus_sha256=corpus_sha256(seg.documents),
            parameters=_parameters(segment_options, settings, seg.pipeline)
            + (_cascade_parameters(cascade, fast_embedder) if cascade and fast_embedder else ())
            + (_training_parameters(options.train_from) if options.train_from else ()),
            documents=len(seg.documents),
            fragments=len(seg.fragments),
        )
        run_id = store.start_run("suggest", manifest)
        if cascade is not None and fast_embedder is not None:
            try:
                return _suggest_cascade(store, run_id, seg, book, settings, manifest, options, cascade,
                                        embedder, fast_embedder, progress)
            except BaseException as exc:
                store.fail_run(run_id, type(exc).__name__)
                raise
        try:
            code_texts = codebook_texts(book)
            code_vectors, _ = embed_cached(store, embedder, code_texts, batch_size=options.batch_size)
            lookup = dict(zip(code_texts, code_vectors))
            training = None
            if options.train_from is not None:
                from nlp_coder.train import train_matcher

                matcher, training = train_matcher(
                    options.train_from, book, settings, seg.documents, seg.fragments, segment_options,
                    lambda texts: embed_cached(store, embedder, list(texts), batch_size=options.batch_size)[0])
            else:
                matcher = CodebookMatcher(settings).fit(book, lambda texts: np.stack([lookup[t] for t in texts]))
            vectors, new = embed_cached(store, embedder, [f.text for f in seg.fragments],
                                        batch_size=options.batch_size, progress=progress)
            results = matcher.predict(vectors, seg.fragments)
            store.finish_run(run_id, results, [json.dumps(result_record(r), sort_keys=True) for r in results])
        except BaseException as exc:
            store.fail_run(run_id, type(exc).__name__)
            raise
    distinct = len({f.text for f in seg.fragments})  # distinct texts: no need to hash them again
    return SuggestResult(seg, book, results, manifest, run_id, embedded=new, cached=distinct - new,
                         vectors=vectors, matcher=matcher, training=training)


def _training_parameters(path: str) -> tuple[tuple[str, object], ...]:
    """Manifest parameters of a run trained on pilot coding: the file and its hash."""
    from nlp_coder.embed import file_sha256

    if not Path(path).is_file():
        raise InputError("pilot coding not found", path, "Give a .qdpx project or a codings .csv")
    return (("train_from", path), ("train_from_sha256", file_sha256(Path(path))))


def _cascade_parameters(cascade: CascadeOptions, fast: Embedder) -> tuple[tuple[str, object], ...]:
    """Manifest parameters of a cascade run (absent from other runs' manifests)."""
    return (("cascade_share", cascade.share), ("cascade_band", cascade.band), ("cascade_fast_model", fast.model_id),
            ("cascade_fast_weights_sha256", fast.weights_sha256))


def _suggest_cascade(store: Store, run_id: int, seg: Segmentation, book: Codebook, settings: MatchSettings,
                     manifest: RunManifest, options: SuggestOptions, cascade: CascadeOptions, full: Embedder,
                     fast: Embedder, progress: bool) -> SuggestResult:
    """:func:`suggest` with the cascade of :mod:`nlp_coder.fast` (both models through the cache)."""
    from nlp_coder.fast import cascade_predict

    code_texts = codebook_texts(book)
    fast_code_vectors, _ = embed_cached(store, fast, code_texts, batch_size=options.batch_size)
    vectors, new = embed_cached(store, fast, [f.text for f in seg.fragments], batch_size=options.batch_size,
                                progress=progress)
    full_new = 0

    def full_encode(texts: Sequence[str], book_texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        nonlocal full_new
        book_vectors, _ = embed_cached(store, full, book_texts, batch_size=options.batch_size)
        fragment_vectors, full_new = embed_cached(store, full, texts, batch_size=options.batch_size,
                                                  progress=progress)
        return fragment_vectors, book_vectors

    results, report, matcher = cascade_predict(
        seg.fragments, book, settings, fast_vectors=vectors,
        fast_codebook_vectors=dict(zip(code_texts, fast_code_vectors)), full_encode=full_encode,
        fast_model=fast.model_id, full_model=full.model_id, options=cascade)
    store.finish_run(run_id, results, [json.dumps(result_record(r), sort_keys=True) for r in results])
    distinct = len({f.text for f in seg.fragments})  # distinct texts: no need to hash them again
    return SuggestResult(seg, book, results, manifest, run_id, embedded=new + full_new, cached=distinct - new,
                         vectors=vectors, matcher=matcher, cascade=report)


def _parameters(seg: SegmentOptions, settings: MatchSettings, pipeline: str) -> tuple[tuple[str, object], ...]:
    return (
        ("unit", seg.unit),
        ("window", seg.window),
        ("stride", seg.stride),
        ("min_words", seg.min_words),
        ("speakers", list(seg.speakers)),
        ("exclude_speakers", list(seg.exclude_speakers)),
        ("all_speakers", seg.all_speakers),
        ("interviewer_labels", list(seg.interviewer_labels)),
        ("spacy_pipeline", pipeline),
        ("threshold", settings.threshold),
        ("margin", settings.margin),
        ("top_k", settings.top_k),
        ("definition_weight", settings.definition_weight),
        ("counterexample_weight", settings.counterexample_weight),
        ("suggestions", settings.suggestions),
    )


def embed_corpus(corpus: str | Path, store_path: str | Path, *, segment_options: SegmentOptions | None = None,
                 model: str = "default", metadata: str | Path | None = None, embedder: Embedder | None = None,
                 batch_size: int = DEFAULT_BATCH, progress: bool = False, device: str = "cpu") -> Embedding:
    """Embed a corpus' fragments, through the project store's cache (``nlp-coder embed``).

    ``device``: ``cpu``, ``cuda`` or ``auto`` (see :func:`nlp_coder.embed.resolve_device`).
    """
    segment_options = segment_options or SegmentOptions()
    seg = read_and_segment(corpus, segment_options, metadata)
    embedder = embedder or load_embedder(model, batch_size=min(batch_size, 128), device=device)
    with Store(store_path) as store:
        store.save_fragments(seg.documents, seg.fragments, segment_options.unit)
        vectors, new = embed_cached(store, embedder, [f.text for f in seg.fragments], batch_size=batch_size,
                                    progress=progress)
    distinct = len({f.text for f in seg.fragments})  # distinct texts: no need to hash them again
    return Embedding(seg, vectors, embedder.model_id, new, distinct - new)


def discover_themes(corpus: str | Path, codebook: str | Path | None, store_path: str | Path, *,
                    segment_options: SegmentOptions | None = None, options: SuggestOptions | None = None,
                    metadata: str | Path | None = None, selection: str | None = None,
                    distance_threshold: float = 0.6, min_cluster_size: int = 4,
                    embedder: Embedder | None = None, progress: bool = False) -> Discovery:
    """Cluster what the codebook does not cover into candidate themes (``nlp-coder discover``).

    With a codebook, the corpus is coded first (recorded as a ``suggest`` run) and the
    ``uncoded`` fragments are clustered by default; without one, every fragment is (open coding).
    """
    from nlp_coder.discover import discover
    from nlp_coder.records import Decision
    from nlp_coder.segment import load_analysis_pipeline

    options = options or SuggestOptions()
    if codebook is not None:
        coded = suggest(corpus, codebook, store_path, segment_options=segment_options, options=options,
                        metadata=metadata, embedder=embedder, progress=progress)
        results, vectors, matcher = coded.results, coded.vectors, coded.matcher
    else:
        if selection not in (None, "all"):
            raise InputError(f"--include {selection} needs a codebook", "--include",
                             "Give --codebook, or leave --include out to cluster every fragment")
        done = embed_corpus(corpus, store_path, segment_options=segment_options, model=options.model,
                            metadata=metadata, embedder=embedder, progress=progress)
        nothing = Decision(status="uncoded", codes=(), suggestions=())
        results = tuple(FragmentResult(fragment=f, decision=nothing) for f in done.segmentation.fragments)
        vectors, matcher = done.vectors, None
    assert vectors is not None
    return discover(results, vectors, matcher=matcher, selection=selection or ("uncoded" if codebook else "all"),
                    distance_threshold=distance_threshold, min_cluster_size=min_cluster_size,
                    nlp=load_analysis_pipeline())


def boundary_sensitivity(corpus: str | Path, codebook: str | Path, store_path: str | Path, *,
                         segment_options: SegmentOptions | None = None, options: SuggestOptions | None = None,
                         metadata: str | Path | None = None, bootstrap: int = 20, seed: int = 0,
                         compare_model: str | None = None, embedder: Embedder | None = None,
                         progress: bool = False) -> tuple[Sensitivity, dict[str, str]]:
    """Code the corpus, then measure how its suggestions move (``nlp-coder sensitivity``).

    Returns:
        The report, and the text of every fragment by id (for readable output).
    """

    options = options or SuggestOptions()
    coded = suggest(corpus, codebook, store_path, segment_options=segment_options, options=options,
                    metadata=metadata, embedder=embedder, progress=progress)
    report = _sensitivity_of(coded, store_path, options, bootstrap=bootstrap, seed=seed,
                             compare_model=compare_model, progress=progress)
    return report, {f.id: f.text for f in coded.segmentation.fragments}


def _sensitivity_of(coded: SuggestResult, store_path: str | Path, options: SuggestOptions, *, bootstrap: int,
                    seed: int, compare_model: str | None, progress: bool) -> Sensitivity:
    from nlp_coder.sensitivity import sensitivity

    assert coded.vectors is not None and coded.matcher is not None
    texts = codebook_texts(coded.codebook)
    fragment_texts = [f.text for f in coded.segmentation.fragments]
    compare = None
    with Store(store_path) as store:
        # suggest() has just cached every codebook text: read them back rather than load the model again.
        key = cache_key(coded.manifest.model, coded.manifest.model_weights_sha256)
        cached = store.cached_vectors(key, [text_sha256(t) for t in texts])
        lookup = {t: cached[text_sha256(t)] for t in texts}
        if compare_model is not None:
            other = load_embedder(compare_model)
            other_lookup = dict(zip(texts, embed_cached(store, other, texts)[0]))
            other_vectors = embed_cached(store, other, fragment_texts, progress=progress)[0]
            settings = match_settings(coded.codebook, replace(options, model=compare_model))
            other_matcher = CodebookMatcher(settings).fit(coded.codebook,
                                                          lambda t: np.stack([other_lookup[x] for x in t]))
            compare = (other.model_id, other_vectors, other_matcher)
    return sensitivity(coded.results, coded.vectors, coded.matcher, lookup, bootstrap=bootstrap, seed=seed,
                       compare=compare)


def build_report(corpus: str | Path, codebook: str | Path, store_path: str | Path, *,
                 segment_options: SegmentOptions | None = None, options: SuggestOptions | None = None,
                 metadata: str | Path | None = None, bootstrap: int = 10, seed: int = 0,
                 distance_threshold: float = 0.6, min_cluster_size: int = 4, codings: str | Path | None = None,
                 embedder: Embedder | None = None, progress: bool = False) -> str:
    """Code a corpus, find candidate themes, test the boundaries, and render one HTML page.

    Human coding (``codings``: a ``.qdpx`` or a codings CSV; by default the corpus itself when it
    is a ``.qdpx``) adds agreement tables between each human coder and the machine.
    """
    from nlp_coder.discover import discover
    from nlp_coder.refi import read_codings
    from nlp_coder.report import machine_agreement, render_report, report_context
    from nlp_coder.segment import load_analysis_pipeline

    options = options or SuggestOptions()
    coded = suggest(corpus, codebook, store_path, segment_options=segment_options, options=options,
                    metadata=metadata, embedder=embedder, progress=progress)
    assert coded.vectors is not None and coded.matcher is not None
    themes = discover(coded.results, coded.vectors, matcher=coded.matcher, distance_threshold=distance_threshold,
                      min_cluster_size=min_cluster_size, nlp=load_analysis_pipeline())
    boundaries = _sensitivity_of(coded, store_path, options, bootstrap=bootstrap, seed=seed, compare_model=None,
                                 progress=progress)
    source = codings or (corpus if Path(corpus).suffix.casefold() == ".qdpx" else None)
    human = read_codings(source).codings if source is not None else ()
    agreements = machine_agreement(coded.results, coded.segmentation.documents, human) if human else ()
    context = report_context(coded.results, coded.vectors, coded.codebook, coded.segmentation.documents,
                             coded.manifest, discovery=themes, sensitivity=boundaries,
                             fragment_texts={f.id: f.text for f in coded.segmentation.fragments},
                             agreements=agreements)
    return render_report(context)
