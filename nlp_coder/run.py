"""The run loop of ``suggest``: read -> segment -> embed (cached) -> match -> decide -> record.

The steps live in their own modules (:mod:`nlp_coder.readers`, :mod:`nlp_coder.segment`,
:mod:`nlp_coder.embed`, :mod:`nlp_coder.store`, :mod:`nlp_coder.match`); this module streams a
corpus through them a chunk at a time and records the run. Everything between steps is a
frozen record. :func:`read_and_segment` and :func:`embed_corpus` run the first steps alone
(``nlp-coder segment``, ``nlp-coder embed``).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from nlp_coder import __version__, language
from nlp_coder.codebook import load_codebook
from nlp_coder.embed.models import Embedder, load_embedder
from nlp_coder.embed.registry import ModelChoice, load_registry
from nlp_coder.errors import InputError
from nlp_coder.export.tables import Summary, Tally, decision_lines, decision_records
from nlp_coder.match.cascade import CascadeOptions, CascadeReport
from nlp_coder.match.decide import Decisions
from nlp_coder.match.matcher import CodebookMatcher, build_matcher, codebook_texts
from nlp_coder.match.settings import AUTO_THRESHOLD, resolve_settings
from nlp_coder.progress import RunProgress
from nlp_coder.readers import CorpusReading, ReadingReport, read_corpus_report, reading_report
from nlp_coder.records import Codebook, Document, Fragment, FragmentResult, MatchSettings, RunManifest
from nlp_coder.segment import Segmenter, SegmentOptions
from nlp_coder.store import Store, cache_key, embed_cached, text_sha256

if TYPE_CHECKING:  # only in annotations: imported when a command needs them
    from nlp_coder.learn.finetune import FinetuneSettings
    from nlp_coder.match.train import Training

CorpusSource: TypeAlias = "str | Path | CorpusReading"
"""A corpus: the path of a transcript, a folder of transcripts or a fragment table, or documents
already read (:class:`~nlp_coder.readers.CorpusReading`, e.g. from :func:`nlp_coder.read_corpus`)."""
CodebookSource: TypeAlias = "str | Path | Codebook"
"""A codebook: the path of a YAML codebook or a ``.qdc``, or a loaded :class:`~nlp_coder.records.Codebook`."""
StoreSource: TypeAlias = "str | Path | Store | None"
"""A project store: its path, an open :class:`~nlp_coder.store.Store`, or ``None`` for one in memory."""

DEFAULT_BATCH = 256
DEFAULT_CHUNK = 4096
"""Fragments decided, stored and written together by :func:`suggest`: bounds its memory."""
FIRST_CHUNK = 256
"""The first chunk's size, so that the progress bar can estimate the total early."""
GROUP_CHARS = 100_000
FIRST_GROUP_CHARS = 20_000
"""Documents are cut in groups of about this much text (the first group smaller, like the first chunk)."""


@dataclass(frozen=True)
class SuggestOptions:
    """Options of :func:`suggest` beyond segmentation.

    ``method`` defaults to the model's (registry ``method``), else :data:`~nlp_coder.match.settings.DEFAULT_METHOD`;
    ``threshold`` and ``margin`` to the codebook's values, else the model's for the method;
    ``definition_weight`` to the method's (:data:`nlp_coder.match.matcher.DEFINITION_WEIGHTS`).
    """

    model: str = "default"
    method: str | None = None  # None: the model's default method, else DEFAULT_METHOD
    threshold: float | None = None
    margin: float | None = None
    top_k: int = 3
    definition_weight: float | None = None
    counterexample_weight: float = 1.0
    suggestions: int = 3
    batch_size: int = DEFAULT_BATCH
    # Speed (nlp_coder.match.cascade): the torch device of the model, and the cascade (None: off; else the
    # largest share of fragments the full model re-scores after the fast model scored them all).
    device: str = "auto"
    cascade: float | None = None
    cascade_band: float | None = None
    # Pilot coding to learn from (nlp_coder.match.train): a .qdpx project or a codings CSV.
    train_from: str | None = None
    # Learn the codebook (nlp_coder.learn.artefact): None, when train_from is given; True, from the
    # codebook's exemplars too; False, never. Per-code thresholds aim at target_precision.
    learn: bool | None = None
    target_precision: float = 0.8
    # Review decisions to learn from too (nlp_coder.learn.data.review_split): this reviewer's, on
    # the codebook, from the project store. Learning is on when it is given.
    from_review: str | None = None
    finetune: FinetuneSettings | None = None  # None: the learner's defaults


@dataclass(frozen=True)
class Segmentation:
    """Documents read from a corpus and the fragments cut from them; ``languages``: each
    document's id and the language it was read in (:meth:`nlp_coder.segment.Segmenter.languages`)."""

    documents: tuple[Document, ...]
    fragments: tuple[Fragment, ...]
    warnings: tuple[str, ...]
    pipeline: str
    languages: tuple[tuple[str, str], ...] = ()
    reading: ReadingReport | None = None
    """What was read from each file (:func:`nlp_coder.readers.reading_report`)."""


@dataclass(frozen=True)
class ModelFit:
    """The model a run uses for its languages (:func:`fit_model`).

    Attributes:
        choice: the registry's choice (:func:`nlp_coder.embed.registry.choose_model`).
        languages: each document's id and the language it is read in.
        codebook_language: the language detected in the codebook's texts (``und`` when it
            cannot be told).
        notes: lines for the summary (the model chosen, a codebook in another language).
        warnings: lines for stderr (a model named explicitly that does not cover the text).
    """

    choice: ModelChoice
    languages: tuple[tuple[str, str], ...]
    codebook_language: str
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def parameters(self) -> tuple[tuple[str, object], ...]:
        """The run manifest's record of it: documents per language, the codebook's language and,
        where another model than the one asked for was chosen, the note that says so."""
        counts: dict[str, int] = {}
        for _, code in self.languages:
            counts[code] = counts.get(code, 0) + 1
        from nlp_coder.language import detector_identity

        chosen = (("model_choice", self.choice.note),) if self.choice.note else ()
        return (("languages", dict(sorted(counts.items()))), ("codebook_language", self.codebook_language),
                ("language_detector", detector_identity()), *chosen)


def _codebook_language(book: Codebook, store: Store | None) -> language.LanguageGuess:
    """The language of the codebook's definitions and exemplars: as the store's latest run with
    this codebook and this detector recorded it, else detected."""
    from nlp_coder.language import LanguageGuess, codebook_language, detector_identity

    if store is not None:
        detector = detector_identity()
        for *_, manifest in reversed(store.runs()):
            parameters = manifest.get("parameters") or {}
            if (manifest.get("codebook_sha256") == book.sha256 and isinstance(parameters, dict)
                    and parameters.get("language_detector") == detector and "codebook_language" in parameters):
                return LanguageGuess(str(parameters["codebook_language"]), 1.0)
    return codebook_language(book)


def fit_model(segmenter: Segmenter, documents: Sequence[Document], book: Codebook, requested: str,
              embedder: Embedder | None = None, store: Store | None = None) -> ModelFit:
    """The model for the languages of ``documents`` and of the codebook.

    Each document's language comes from ``segmenter`` (detected, or from its cache); the
    codebook's from its definitions and exemplars (or from an earlier run in ``store`` with the
    same codebook and detector: a cached run then never loads the detector). A model asked for
    as ``default`` that does not cover them is replaced by the first installed model that does,
    with a note; a model named explicitly, or an ``embedder`` already loaded, is kept with a
    warning when it does not.

    Raises:
        ModelError: ``E203`` when ``default`` was asked for and no installed model covers them.
    """
    from nlp_coder.embed.registry import DEFAULT_MODEL, choose_model, load_registry
    from nlp_coder.language import LanguageGuess, language_name, main_language

    languages = segmenter.languages(documents)
    book_guess = _codebook_language(book, store)
    wanted = {*languages.values(), book_guess.code}
    named = requested != DEFAULT_MODEL
    if embedder is not None:
        known = {s.name for s in load_registry().models}
        choice = (choose_model(embedder.model_id, wanted, named=True) if embedder.model_id in known
                  else ModelChoice(embedder.model_id, embedder.model_id, tuple(sorted(wanted - {"und"}))))
    else:
        choice = choose_model(requested, wanted, named=named)
    notes = [choice.note] if choice.note else []
    main = main_language({doc: LanguageGuess(code, 1.0) for doc, code in languages.items()})
    if book_guess.known and main is not None and book_guess.code != main:
        notes.append(f"the codebook is in {language_name(book_guess.code)} and the documents in "
                     f"{language_name(main)}: they are matched across languages by {choice.model}")
    return ModelFit(choice, tuple(languages.items()), book_guess.code, tuple(notes),
                    (choice.warning,) if choice.warning else ())


@dataclass(frozen=True)
class SuggestResult:
    """What :func:`suggest` produced, with the manifest that reproduces it.

    ``decisions`` holds the decisions on every fragment, as columns (``None`` when the run did
    not keep them); :attr:`results` gives them as one :class:`~nlp_coder.records.FragmentResult`
    per fragment, :meth:`records` as the JSONL output's objects and :meth:`to_frame` as a
    pandas table. ``vectors`` are the fragments' vectors (rows in that order) and ``matcher``
    the fitted matcher, for further analysis.
    """

    segmentation: Segmentation
    codebook: Codebook
    decisions: Decisions | None = field(compare=False, repr=False)
    manifest: RunManifest
    run_id: int
    embedded: int = 0
    cached: int = 0
    vectors: np.ndarray | None = field(default=None, compare=False, repr=False)
    matcher: CodebookMatcher | None = field(default=None, compare=False, repr=False)
    cascade: CascadeReport | None = None
    training: Training | None = None
    summary: Summary | None = None

    @functools.cached_property
    def results(self) -> tuple[FragmentResult, ...]:
        """One :class:`~nlp_coder.records.FragmentResult` per fragment (empty when not kept)."""
        return self.decisions.results() if self.decisions is not None else ()

    def __len__(self) -> int:
        return len(self.decisions) if self.decisions is not None else 0

    def records(self) -> list[dict[str, object]]:
        """One plain dictionary per fragment, exactly the objects of the JSONL output
        (``docs/output.md``), in document order (empty when not kept)."""
        return decision_records(self.decisions) if self.decisions is not None else []

    def to_frame(self):  # type: ignore[no-untyped-def]
        """The results as a pandas ``DataFrame``: one row per fragment with the JSONL keys as
        columns (``codes`` a list; ``suggestions``, ``facets`` and ``attributes`` as in the
        JSONL), plus ``top_code`` and ``top_score``, the best suggestion.

        Raises:
            NlpCoderError: ``E150`` when pandas is not installed (``pip install pandas``).
        """
        try:
            import pandas as pd
        except ImportError:
            raise InputError("to_frame needs pandas, which is not installed", "SuggestResult.to_frame",
                             "Install it (pip install pandas), or use records()", code="E150") from None
        rows = self.records()
        for row in rows:
            best = row["suggestions"][0] if row["suggestions"] else None  # type: ignore[index]
            row["top_code"] = best["code"] if best else None
            row["top_score"] = best["score"] if best else None
        columns = ["document", "fragment_id", "speaker", "turn", "start", "end", "timestamp", "text", "status",
                   "codes", "top_code", "top_score", "suggestions", "facets", "attributes"]
        return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class Embedding:
    """A corpus' fragments with their vectors (one row per fragment)."""

    segmentation: Segmentation
    vectors: np.ndarray = field(compare=False, repr=False)
    model: str
    embedded: int
    cached: int


def read_and_segment(corpus: CorpusSource, options: SegmentOptions | None = None,
                     metadata: str | Path | None = None, *, strict: bool = False) -> Segmentation:
    """Read a corpus (file, folder or fragment table) and cut it into fragments, with the
    reading report (:func:`nlp_coder.readers.reading_report`) and its warnings.

    ``strict``: a file of an unsupported type in the corpus folder is an error (``E107``).

    Raises:
        InputError: unreadable input, or no fragment left to code (e.g. every speaker excluded).
    """
    options = options or SegmentOptions()
    reading = read_corpus(corpus, metadata, strict=strict)
    documents = reading.documents
    warnings = [*reading.warnings, *(w for d in documents for w in d.warnings)]
    segmenter = Segmenter(options)
    languages = segmenter.languages(documents)
    report = reading_report(documents, options, languages=languages)
    warnings.extend(report.warnings)
    fragments = tuple(f for cut in segmenter.fragments_many(documents) for f in cut)
    warnings.extend(segmenter.warnings)
    name = segmenter.name
    if not fragments:
        raise InputError("no fragments to code", _where(corpus),
                         "Check --speaker/--exclude-speaker and --min-words, or that the files hold text", code="E106")
    return Segmentation(documents, fragments, tuple(warnings), name, tuple(languages.items()), report)


def read_corpus(corpus: CorpusSource, metadata: str | Path | None = None, *, strict: bool = False) -> CorpusReading:
    """The documents of ``corpus``: read from its path, or as given when already read."""
    if isinstance(corpus, CorpusReading):
        return corpus
    return read_corpus_report(Path(corpus), metadata=Path(metadata) if metadata else None, strict=strict)


def _where(corpus: CorpusSource) -> str:
    return "the corpus given" if isinstance(corpus, CorpusReading) else str(corpus)


def open_store(store: StoreSource) -> contextlib.AbstractContextManager[Store]:
    """The project store: opened at a path (and closed after), used as given when already open,
    or, for ``None``, a store in memory that keeps nothing after the run."""
    if isinstance(store, Store):
        return contextlib.nullcontext(store)
    return Store.in_memory() if store is None else Store(store)


def corpus_sha256(documents: Sequence[Document]) -> str:
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.id):
        digest.update(json.dumps([doc.id, text_sha256(doc.text), doc.attributes], sort_keys=True).encode())
    return digest.hexdigest()


def match_settings(codebook: Codebook, options: SuggestOptions) -> MatchSettings:
    """The settings a run with ``options`` decides with: :func:`nlp_coder.match.settings.resolve_settings`
    (the option, else the codebook, else the model's registry entry)."""
    return resolve_settings(codebook, options.model, method=options.method, threshold=options.threshold,
                            margin=options.margin, top_k=options.top_k, definition_weight=options.definition_weight,
                            counterexample_weight=options.counterexample_weight, suggestions=options.suggestions)


def suggest(corpus: CorpusSource, codebook: CodebookSource, store_path: StoreSource, *,
            segment_options: SegmentOptions | None = None, options: SuggestOptions | None = None,
            metadata: str | Path | None = None, embedder: Embedder | None = None,
            progress: bool = False, fast_embedder: Embedder | None = None,
            sink: Sink | None = None, keep_results: bool = True, chunk_size: int | None = None,
            finish: Callable[[SuggestResult], None] | None = None, trainable: object = None,
            strict: bool = False) -> SuggestResult:
    """Pre-code a corpus: suggest codes for every fragment of respondent talk.

    The corpus is streamed: documents are cut, embedded, decided, stored and handed to ``sink``
    about ``chunk_size`` fragments at a time, so memory stays bounded when ``keep_results`` is
    false. Every embedded batch, segmentation and decided chunk is committed to the store as it
    is done: an interrupted run, started again, re-embeds and re-segments nothing it finished.

    Args:
        corpus: a transcript, a folder of transcripts, or a fragment table; or documents
            already read (:func:`read_corpus`).
        codebook: the codebook YAML file, or a loaded :class:`~nlp_coder.records.Codebook`.
        store_path: the project store (created if missing), an open :class:`~nlp_coder.store.Store`,
            or ``None`` for a store in memory that keeps nothing.
        segment_options: unit, speakers, minimum words.
        options: model, threshold, margin and scoring weights.
        metadata: a CSV of per-document attributes (default: ``metadata.csv`` in the folder).
        embedder: an already loaded embedder (tests pass a fake); loaded from ``options.model``
            otherwise.
        progress: show a progress bar with rate and time left (only on a terminal).
        fast_embedder: with ``options.cascade``, the fast model (loaded from the registry's
            ``fast`` otherwise); see :mod:`nlp_coder.match.cascade`.
        sink: called with each chunk's :class:`~nlp_coder.match.decide.Decisions`, in corpus order, and
            their JSONL lines.
        keep_results: return every result and vector (``False``: only counts and the summary).
        chunk_size: fragments per chunk (default :data:`DEFAULT_CHUNK`; whole documents are kept
            together).
        finish: called with the result once every chunk is done and before the run is recorded as
            finished (it writes the outputs): if it raises, the run is recorded as failed.
        trainable: with ``options.learn``, a sentence-transformers model to fine-tune instead of
            ``options.model``'s weights (tests pass a tiny one); with ``embedder`` and without it,
            the fine-tuned method is not compared.
        strict: a file of an unsupported type in the corpus folder is an error (``E107``), not a
            warning.

    Returns:
        A :class:`SuggestResult`: one :class:`FragmentResult` per fragment when ``keep_results``;
        ``segmentation.reading`` is the reading report, also in the manifest.
    """
    segment_options = segment_options or SegmentOptions()
    options = options or SuggestOptions()
    book = codebook if isinstance(codebook, Codebook) else load_codebook(codebook)
    auto = options.threshold == AUTO_THRESHOLD  # fitted once the codebook is embedded (_fit_threshold)
    settings = match_settings(book, replace(options, threshold=None) if auto else options)
    learns = options.learn if options.learn is not None else (options.train_from is not None
                                                               or options.from_review is not None)
    if options.from_review is not None and not learns:
        raise InputError("learning from review decisions needs learning on", "--from-review",
                         "Leave out --no-learn", code="E131")
    if learns and options.cascade is not None:
        raise InputError("--learn and --cascade cannot be combined", "--learn",
                         "Leave out --cascade, or give --no-learn", code="E131")
    if options.train_from is not None and options.cascade is not None:
        raise InputError("--train-from and --cascade cannot be combined", "--train-from",
                         "Leave out --cascade when training on pilot coding", code="E131")
    chunk_size = DEFAULT_CHUNK if chunk_size is None else chunk_size
    if chunk_size < 1:
        raise InputError("the chunk size must be at least 1", "chunk_size", code="E130")
    train_parameters = _training_parameters(options.train_from) if options.train_from else ()
    reading = read_corpus(corpus, metadata, strict=strict)
    documents = reading.documents
    cascade = None
    if options.cascade is not None:
        cascade = CascadeOptions(share=options.cascade, band=options.cascade_band)
        cascade.check()
    new_store = store_path is not None and not isinstance(store_path, Store) and not Path(store_path).exists()
    given_embedder = embedder is not None
    job: _SuggestJob | None = None
    try:
        with open_store(store_path) as store, _long_lived_heap() as frozen:
            # The model fits the languages: each document's is detected (or read from the cache) first.
            segmenter = Segmenter(segment_options, store)
            fit = fit_model(segmenter, documents, book, options.model, embedder, store)
            if fit.choice.model != load_registry().model(options.model).name and embedder is None:
                options = replace(options, model=fit.choice.model)
                settings = match_settings(book, replace(options, threshold=None) if auto else options)
            report = reading_report(documents, segment_options, languages=dict(fit.languages))
            warnings = (*reading.warnings, *(w for d in documents for w in d.warnings), *report.warnings,
                        *fit.warnings)
            embedder = embedder or load_embedder(options.model, batch_size=min(options.batch_size, 128),
                                                 device=options.device)
            if cascade is not None:
                fast_embedder = fast_embedder or load_embedder(cascade.fast_model)
            learned, learn_notes = None, ()
            if learns:  # the learned model may bring its own encoder (fine-tuned)
                learned, learn_notes = _learn(book, settings, options, embedder, store, documents, segment_options,
                                              given_embedder, trainable, progress)
                embedder = learned.encoder if learned is not None and learned.encoder is not None else embedder
            job = _SuggestJob(store, book, settings, options, segment_options, embedder,
                              fast_embedder if cascade is not None else None, cascade, sink, keep_results,
                              segmenter, fit)
            job.frozen = frozen
            job.learned = learned
            job.reading, job.warnings = report, warnings
            notes = (*fit.notes, _fit_threshold(job)) if auto else fit.notes
            notes = (*notes, *learn_notes)
            bar = RunProgress(progress, documents, f"coding with {embedder.model_id}")
            try:
                known: dict[str, list[Fragment]] = {}
                if options.train_from is not None and learned is None:  # training needs the pilot's fragments
                    known = dict(zip((d.id for d in documents), job.segmenter.fragments_many(documents)))
                    job.train([f for d in documents for f in known[d.id]], documents, segment_options)
                pending_documents: list[Document] = []
                pending: list[Fragment] = []
                for group in _by_size(documents, FIRST_GROUP_CHARS, GROUP_CHARS):
                    # Documents are cut a group at a time: one pass of the pipeline for many documents.
                    uncut = [doc for doc in group if doc.id not in known]
                    cut = dict(zip((doc.id for doc in uncut), job.segmenter.fragments_many(uncut)))
                    for doc in group:
                        fragments = known.pop(doc.id) if doc.id in known else cut[doc.id]
                        pending_documents.append(doc)
                        pending.extend(fragments)
                        # A small first chunk gives the progress bar its rate and total early.
                        if len(pending) >= (chunk_size if job.fragments else min(chunk_size, FIRST_CHUNK)):
                            job.decide(pending_documents, pending, bar)
                            pending_documents, pending = [], []
                if job.fragments + len(pending) == 0:
                    raise InputError("no fragments to code", _where(corpus),
                                     "Check --speaker/--exclude-speaker and --min-words, or that the files hold text",
                                     code="E106")
                job.decide(pending_documents, pending, bar)
                learned_parameters = (("learned", learned.manifest_entry() if learned is not None else None),) \
                    if learns else ()
                if options.from_review is not None:
                    learned_parameters += (("from_review", options.from_review),)
                manifest = job.manifest(documents, corpus_sha256(documents), train_parameters + learned_parameters)
                decided = Decisions.concat(job.decided) if job.decided else None
                fragments = decided.fragments if decided is not None else ()
                seg = Segmentation(documents, fragments, (*warnings, *job.segmenter.warnings), job.segmenter.name,
                                   fit.languages, report)
                result = SuggestResult(seg, book, decided, manifest, job.run_id, embedded=job.embedded,
                                       cached=job.cached, vectors=job.vectors(), matcher=job.matcher,
                                       cascade=job.cascade_report, training=job.training,
                                       summary=replace(job.tally.summary(), notes=notes,
                                                       advice=_uncoded_advice(learned, job.training)))
                if finish is not None:  # the outputs: a run whose output could not be written has failed
                    finish(result)
                store.finish_run(job.run_id, manifest)
            except BaseException as exc:
                if job.run_id:
                    store.fail_run(job.run_id, type(exc).__name__)
                raise
            finally:
                bar.close()
    except BaseException:
        if new_store and (job is None or not job.run_id):  # nothing was recorded: leave no store behind
            _remove_store(Path(store_path))  # type: ignore[arg-type]
        raise
    return result


def _fit_threshold(job: _SuggestJob) -> str:
    """Resolve ``--threshold auto``: the threshold fitted to the codebook's exemplars
    (:func:`nlp_coder.analyses.sensitivity.recommend_threshold`), recorded in the manifest's
    ``settings_from``; returns the line that says which value was chosen."""
    from nlp_coder.analyses.sensitivity import recommend_threshold

    advice = recommend_threshold(job.book, job.codebook_vectors(job.embedder), job.settings)
    if advice is None:
        raise InputError("--threshold auto needs a code with at least 3 exemplars", "--threshold",
                         "Add exemplars, or give a number", code="E130")
    origin = {**dict(job.settings.origin), "threshold": advice.origin}
    job.settings = replace(job.settings, threshold=advice.threshold, origin=tuple(origin.items()))
    return f"threshold {advice.threshold:g} (--threshold auto): {advice.evidence}"


def _uncoded_advice(learned: object, training: object) -> str | None:
    """What helps when most fragments are uncoded, where the thresholds were learned, not set."""
    if learned is not None:
        calibration = getattr(learned, "calibration", None)
        if calibration is not None and calibration.uncalibrated and all(c.status != "calibrated"
                                                                        for c in calibration.codes):
            return ("no code's threshold could be calibrated (the 'learned:' lines say why): code more pilot "
                    "passages (--train-from) or add exemplars")
        return ("the learned thresholds hold each code to --target-precision: lower it, or code more pilot "
                "passages (--train-from)")
    if training is not None:
        return "the thresholds were calibrated on the pilot coding (--train-from): code more pilot passages"
    return None


def _learn(book: Codebook, settings: MatchSettings, options: SuggestOptions, embedder: Embedder, store: Store,
           documents: Sequence[Document], segment_options: SegmentOptions, given_embedder: bool, trainable: object,
           progress: bool) -> tuple[object, tuple[str, ...]]:
    """The learned model of ``suggest --learn`` (:func:`nlp_coder.learn.artefact.learn_model`) and
    the lines that say what it is, or None and why not."""
    from nlp_coder.learn.artefact import find_ensemble, learn_model, learned_folder, weights_sha256
    from nlp_coder.learn.data import labelled_set

    decisions = ()
    if options.from_review is not None:
        from nlp_coder.learn import review_decisions

        decisions = tuple(review_decisions(store, book, options.from_review))
    labelled = labelled_set(book, codings=options.train_from, corpus=documents, segment_options=segment_options,
                            review=decisions, reviewer=options.from_review)
    factory = None
    base_weights = embedder.weights_sha256
    if trainable is not None:
        base_weights = weights_sha256(trainable)

        def factory() -> object:
            return trainable
    elif not given_embedder and load_registry().model(options.model).kind == "sentence-transformers":
        def factory() -> object:
            from nlp_coder.learn.finetune import load_trainable

            return load_trainable(options.model)
    ensemble, why_not = None, None
    if not given_embedder:  # the ensemble that holds the model, for the ensemble-* methods
        ensemble, why_not = find_ensemble(options.model, lambda ens: (
            lambda texts: embed_cached(store, ens, list(texts))[0]))
    model, warnings = learn_model(
        labelled, book, settings, lambda texts: embed_cached(store, embedder, list(texts))[0],
        base_model=embedder.model_id, base_weights_sha256=base_weights, trainable=factory,
        folder=learned_folder(store.path), target_precision=options.target_precision, progress=progress,
        ensemble=ensemble, **({"settings": options.finetune} if options.finetune is not None else {}))
    lines = [*labelled.warnings, *((why_not,) if why_not else ()), *warnings]
    if model is not None:
        lines[:0] = model.lines()
    return model, tuple(lines)


def _by_size(documents: Sequence[Document], first: int, rest: int) -> Iterator[list[Document]]:
    """Consecutive documents in groups of at least ``first`` characters of text, then ``rest``
    (the last group may be smaller)."""
    group: list[Document] = []
    size, limit = 0, first
    for doc in documents:
        group.append(doc)
        size += len(doc.text)
        if size >= limit:
            yield group
            group, size, limit = [], 0, rest
    if group:
        yield group


Sink = Callable[[Decisions, Sequence[str]], None]
"""Called with each chunk's decisions, in corpus order, and their JSONL lines."""


@contextlib.contextmanager
def _long_lived_heap():  # type: ignore[no-untyped-def]
    """Keep the garbage collector off the objects that exist before a run (a loaded torch model
    is hundreds of thousands): each full collection would walk them all again, which doubled a
    cached run's time. They are frozen (:func:`gc.freeze`) for the run and thawed after it;
    objects made during the run are collected as usual. A caller's own freeze is left alone."""
    if gc.get_freeze_count():
        yield False
        return
    gc.freeze()
    try:
        yield True
    finally:
        gc.unfreeze()


class _SuggestJob:
    """The state of one :func:`suggest` run while its chunks go through."""

    def __init__(self, store: Store, book: Codebook, settings: MatchSettings, options: SuggestOptions,
                 segment_options: SegmentOptions, embedder: Embedder, fast: Embedder | None,
                 cascade: CascadeOptions | None, sink: Sink | None, keep: bool, segmenter: Segmenter,
                 fit: ModelFit) -> None:
        self.store, self.book, self.settings, self.options = store, book, settings, options
        self.segment_options, self.embedder, self.fast, self.cascade = segment_options, embedder, fast, cascade
        self.sink, self.keep = sink, keep
        self.segmenter = segmenter
        self.fit = fit
        self.tally = Tally(book)
        self.decided: list[Decisions] = []  # every chunk's decisions, when kept
        self._vectors: list[np.ndarray] = []
        self.run_id = 0
        self.fragments = self.embedded = self.cached = 0
        self._seen: set[int] = set()  # hash() of every fragment text so far: a text counts once per run
        self.matcher: CodebookMatcher | None = None
        self.training: Training | None = None
        self.cascade_report: CascadeReport | None = None
        self.frozen = False  # whether the run froze the heap (see _long_lived_heap)
        self.reading: ReadingReport | None = None  # for the manifest, with the run's warnings
        self.warnings: tuple[str, ...] = ()
        self._codebook_vectors: dict[str, dict[str, np.ndarray]] = {}

    def encode(self, embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
        """Vectors of texts outside the counts (the codebook's, the pilot's), through the cache."""
        return embed_cached(self.store, embedder, texts, batch_size=self.options.batch_size)[0]

    def codebook_vectors(self, embedder: Embedder) -> dict[str, np.ndarray]:
        """The codebook's texts and their vectors by ``embedder``, looked up once per run."""
        key = cache_key(embedder.model_id, embedder.weights_sha256)
        if key not in self._codebook_vectors:
            texts = codebook_texts(self.book)
            self._codebook_vectors[key] = dict(zip(texts, self.encode(embedder, texts)))
        return self._codebook_vectors[key]

    def train(self, fragments: Sequence[Fragment], documents: Sequence[Document], options: SegmentOptions) -> None:
        from nlp_coder.match.train import train_matcher

        assert self.options.train_from is not None
        self.matcher, self.training = train_matcher(
            self.options.train_from, self.book, self.settings, documents, fragments, options,
            lambda texts: self.encode(self.embedder, list(texts)))

    def _fitted(self) -> CodebookMatcher:
        learned = getattr(self, "learned", None)
        if self.matcher is None and learned is not None:  # the learned model's passages are its exemplars
            self.matcher = learned.matcher(self.book, self.settings).fit(
                learned.codebook(self.book), lambda texts: self.encode(self.embedder, list(texts)))
        if self.matcher is None:
            lookup = self.codebook_vectors(self.embedder)
            self.matcher = build_matcher(self.settings).fit(self.book, lookup)
            if self.frozen:
                gc.freeze()  # the model too, if embedding the codebook just loaded it
        return self.matcher

    def decide(self, documents: Sequence[Document], fragments: Sequence[Fragment], bar: RunProgress) -> None:
        """Store, embed, decide, record and hand on one chunk of whole documents."""
        if not documents:
            return
        texts = [f.text for f in fragments]
        hashes = [text_sha256(t) for t in texts]
        self.store.save_fragments(documents, fragments, self.segment_options.unit, hashes=hashes)
        if not fragments:
            return
        if not self.run_id:
            self.store.save_codebook(self.book)
            self.run_id = self.store.start_run("suggest", self.manifest(documents, "", ()))
        bar.chunk(texts)
        if self.cascade is not None and self.fast is not None:
            decided, vectors = self._cascade(fragments, texts, hashes, bar)
        else:
            matcher = self._fitted()  # the codebook first: a fragment that is also an exemplar is then cached
            vectors, new = embed_cached(self.store, self.embedder, texts, batch_size=self.options.batch_size,
                                        on_batch=bar.embedded, hashes=hashes)
            self._count(texts, new)
            decided = matcher.decide(vectors, fragments)
        lines = decision_lines(decided)
        codes = decided.codes
        self.store.save_suggestions(self.run_id, (
            (f.document, f.id, picks[0][0], [codes[j].id for j in picks[0][1]], line)
            for f, picks, line in zip(decided.fragments, decided.picks, lines)))
        if self.sink is not None:
            self.sink(decided, lines)
        self.tally.add(decided)
        self.fragments += len(fragments)
        if self.keep:
            self.decided.append(decided)
            self._vectors.append(vectors)
        bar.decided(len(fragments), sum(len(d.text) for d in documents))

    def _count(self, texts: Sequence[str], new: int) -> None:
        """Count a chunk's distinct texts not met earlier in the run: ``new`` of them were
        embedded, the rest were in the cache before the run."""
        fresh = {hash(t) for t in texts} - self._seen
        self._seen |= fresh
        self.embedded += new
        self.cached += len(fresh) - new

    def _cascade(self, fragments: Sequence[Fragment], texts: list[str], hashes: list[str],
                 bar: RunProgress) -> tuple[Decisions, np.ndarray]:
        from nlp_coder.match.cascade import cascade_predict

        assert self.cascade is not None and self.fast is not None
        fast_book = self.codebook_vectors(self.fast)
        vectors, new = embed_cached(self.store, self.fast, texts, batch_size=self.options.batch_size, hashes=hashes)
        self._count(texts, new)

        def full_encode(chosen: Sequence[str], codebook_texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
            full_book = self.codebook_vectors(self.embedder)
            book_vectors = np.stack([full_book[t] for t in codebook_texts])
            chosen_vectors, full_new = embed_cached(self.store, self.embedder, chosen,
                                                    batch_size=self.options.batch_size, on_batch=bar.embedded)
            self.embedded += full_new
            return chosen_vectors, book_vectors

        decided, report, matcher, decided_on = cascade_predict(
            fragments, self.book, self.settings, fast_vectors=vectors, fast_codebook_vectors=fast_book,
            full_encode=full_encode, fast_model=self.fast.model_id, full_model=self.embedder.model_id,
            options=self.cascade, fast_bags=getattr(self.fast, "bags", None))
        self.matcher = matcher
        old = self.cascade_report
        self.cascade_report = report if old is None else replace(
            old, fragments=old.fragments + report.fragments, rescored=old.rescored + report.rescored,
            changed=old.changed + report.changed, mapped=old.mapped + report.mapped)
        return decided, decided_on

    def manifest(self, documents: Sequence[Document], corpus_hash: str,
                 extra: tuple[tuple[str, object], ...]) -> RunManifest:
        cascade = _cascade_parameters(self.cascade, self.fast) if self.cascade and self.fast else ()
        runtime = getattr(self.embedder, "runtime", None)  # what runs the model: ONNX Runtime or torch
        runtime_parameter = (("model_runtime", runtime),) if runtime else ()
        return RunManifest(
            tool_version=__version__,
            model=self.embedder.model_id,
            model_weights_sha256=self.embedder.weights_sha256,
            codebook=self.book.name,
            codebook_sha256=self.book.sha256,
            corpus_sha256=corpus_hash,
            parameters=(_parameters(self.segment_options, self.settings, self.segmenter.name) + runtime_parameter
                        + self.fit.parameters() + cascade + extra),
            documents=len(documents),
            fragments=self.fragments,
            reading=self.reading.files if self.reading is not None else (),
            warnings=(*self.warnings, *self.segmenter.warnings),
        )

    def vectors(self) -> np.ndarray | None:
        """The vectors each fragment was decided on (None when not kept, or when a cascade decided
        some chunks on the fast model's vectors and others on mapped ones: they do not stack)."""
        if not self.keep or len({v.shape[1] for v in self._vectors}) > 1:
            return None
        dims = self._vectors[0].shape[1] if self._vectors else self.embedder.dimensions
        return np.concatenate(self._vectors) if self._vectors else np.zeros((0, dims), dtype=np.float32)


def _remove_store(path: Path) -> None:
    """Delete a store this run created and recorded nothing in (with SQLite's side files)."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
                 path.with_name(path.name + "-journal")):
        with contextlib.suppress(OSError):
            file.unlink()


def _training_parameters(path: str) -> tuple[tuple[str, object], ...]:
    """Manifest parameters of a run trained on pilot coding: the file and its hash."""
    from nlp_coder.embed.models import file_sha256

    if not Path(path).is_file():
        raise InputError("pilot coding not found", path, "Give a .qdpx project or a codings .csv", code="E101")
    return (("train_from", path), ("train_from_sha256", file_sha256(Path(path))))


def _cascade_parameters(cascade: CascadeOptions, fast: Embedder) -> tuple[tuple[str, object], ...]:
    """Manifest parameters of a cascade run (absent from other runs' manifests)."""
    return (("cascade_share", cascade.share), ("cascade_band", cascade.band), ("cascade_fast_model", fast.model_id),
            ("cascade_fast_weights_sha256", fast.weights_sha256))


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
        ("fillers", seg.fillers),
        ("join", seg.join),
        ("max_words", seg.max_words),
        ("spacy_pipeline", pipeline),
        ("threshold", settings.threshold),
        ("margin", settings.margin),
        ("top_k", settings.top_k),
        ("method", settings.method),
        ("definition_weight", settings.definition_weight),
        ("counterexample_weight", settings.counterexample_weight),
        ("suggestions", settings.suggestions),
        ("settings_from", dict(settings.origin)),
    )


def embed_corpus(corpus: CorpusSource, store_path: StoreSource, *, segment_options: SegmentOptions | None = None,
                 model: str = "default", metadata: str | Path | None = None, embedder: Embedder | None = None,
                 batch_size: int = DEFAULT_BATCH, progress: bool = False, device: str = "auto",
                 strict: bool = False) -> Embedding:
    """Embed a corpus' fragments, through the project store's cache (``nlp-coder embed``).

    ``device``: ``cpu``, ``cuda`` or ``auto`` (see :func:`nlp_coder.embed.models.resolve_device`);
    ``strict``: as for :func:`read_and_segment`.
    """
    from nlp_coder.embed.registry import choose_model

    segment_options = segment_options or SegmentOptions()
    seg = read_and_segment(corpus, segment_options, metadata, strict=strict)
    if embedder is None:  # the model fits the documents' languages (see fit_model)
        choice = choose_model(model, {code for _, code in seg.languages})
        model = choice.model
        extra = tuple(line for line in (choice.note, choice.warning) if line)
        seg = replace(seg, warnings=(*seg.warnings, *extra))
    embedder = embedder or load_embedder(model, batch_size=min(batch_size, 128), device=device)
    with open_store(store_path) as store:
        store.save_fragments(seg.documents, seg.fragments, segment_options.unit)
        vectors, new = embed_cached(store, embedder, [f.text for f in seg.fragments], batch_size=batch_size,
                                    progress=progress)
    distinct = len({f.text for f in seg.fragments})  # distinct texts: no need to hash them again
    return Embedding(seg, vectors, embedder.model_id, new, distinct - new)
