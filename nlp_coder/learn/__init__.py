"""Learn each codebook: compare ways of coding with it by cross-validation on its labelled
passages (the codebook's exemplars, and pilot coding when given), fine-tuning the embedding model
among them, and say which to use and what to expect (``nlp-coder learn``, ``docs/commands/learn.md``).

* :mod:`.data`: the labelled passages and their groups;
* :mod:`.finetune`: supervised-contrastive fine-tuning of a sentence-transformers model;
* :mod:`.choose`: the methods, the grouped cross-validation and the :class:`LearnReport`;
* :mod:`.calibrate`: per-code thresholds and a margin for a target precision, from the
  cross-validation's out-of-fold scores;
* :mod:`.artefact`: the learned model, fitted on every passage and kept in the project store's
  folder, and its matcher (what ``suggest --learn`` codes with).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from nlp_coder.errors import InputError
from nlp_coder.learn.calibrate import TARGET_PRECISION
from nlp_coder.learn.choose import ENSEMBLE_METHODS, FROZEN, METHODS, CodeScore, LearnReport, MethodScore, report_text
from nlp_coder.learn.data import LabelledSet, Passage, labelled_set
from nlp_coder.learn.finetune import FinetuneRun, FinetuneSettings

if TYPE_CHECKING:
    from nlp_coder.embed.protocol import Embedder
    from nlp_coder.readers import CorpusReading
    from nlp_coder.records import Codebook
    from nlp_coder.segment import SegmentOptions
    from nlp_coder.store import Store

__all__ = ["METHODS", "CodeScore", "FinetuneRun", "FinetuneSettings", "LabelledSet", "LearnReport", "MethodScore",
           "Passage", "learn", "report_text", "review_decisions"]


def learn(corpus: str | os.PathLike[str] | Sequence[str] | CorpusReading, codebook: str | os.PathLike[str] | Codebook,
          *, codings: str | os.PathLike[str] | None = None, model: str = "default", seed: int = 0,
          time_budget: float | None = None, store: str | os.PathLike[str] | Store | None = None,
          embedder: Embedder | None = None, trainable: Any = None, segment: SegmentOptions | None = None,
          methods: Sequence[str] = METHODS, settings: FinetuneSettings | None = None,
          metadata: str | os.PathLike[str] | None = None, progress: bool = False,
          target_precision: float = TARGET_PRECISION, reviewer: str | None = None) -> LearnReport:
    """Choose how to code with ``codebook`` by grouped cross-validation (what ``nlp-coder learn`` does).

    Args:
        corpus: the corpus (as :func:`nlp_coder.read_corpus` takes it); a codings CSV names its documents.
        codebook: as :func:`nlp_coder.load_codebook` takes it.
        codings: pilot coding: a ``.qdpx`` project or a codings CSV on the corpus.
        model: the registered model: its frozen vectors, and the weights fine-tuned.
        seed: the seed of the folds, the batches and dropout.
        time_budget: seconds for all the fine-tuning (it stops early and says so).
        store: a project store to cache the frozen vectors in (None: in memory).
        embedder: an embedder for the frozen vectors instead of loading ``model``.
        trainable: a sentence-transformers model to fine-tune instead of ``model``'s weights
            (without ``embedder``, its untuned vectors are the frozen ones too).
        segment: how pilot documents are cut into fragments.
        metadata: a CSV of per-document attributes (as :func:`nlp_coder.read_corpus`).
        methods: the methods compared (:data:`~nlp_coder.learn.choose.METHODS`).
        settings: the fine-tuning's settings.
        progress: progress bars on a terminal.
        target_precision: the precision each code's calibrated threshold aims at.
        reviewer: learn from this reviewer's review decisions on ``codebook`` too (``nlp-coder
            review``), read from ``store`` (:func:`nlp_coder.learn.data.review_split`).

    The chosen method is then fitted on every labelled passage and, with a store on disk, kept in
    its ``learned`` folder (:mod:`nlp_coder.learn.artefact`), where ``suggest --learn`` finds it
    when its inputs and settings are the same; a second call with them reuses it.

    Raises:
        NlpCoderError: bad input, each with its catalogue code (``E101``, ``E110``, ``E120``, ``E130``, ...).
    """
    from nlp_coder.api import _path, _store, load_codebook, read_corpus
    from nlp_coder.learn.artefact import find_ensemble, learn_model, learned_folder, weights_sha256
    from nlp_coder.learn.calibrate import check_target
    from nlp_coder.learn.choose import check_enough
    from nlp_coder.match.settings import resolve_settings
    from nlp_coder.run import open_store

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"the seed must be a whole number, 0 or more, not {seed!r}", "seed", code="E130")
    if time_budget is not None and (isinstance(time_budget, bool) or not isinstance(time_budget, (int, float))
                                    or not math.isfinite(time_budget) or time_budget <= 0):
        raise InputError(f"the time budget must be a positive number of seconds, not {time_budget!r}",
                         "time_budget", code="E130")
    if isinstance(methods, str) or not methods or any(m not in METHODS for m in methods):
        raise InputError(f"methods must be a list of {', '.join(METHODS)}", "methods", code="E130")
    if not isinstance(model, str):
        raise InputError(f"the model must be a name, not {type(model).__name__}", "model", code="E130")
    check_target(target_precision)
    settings = settings or FinetuneSettings()
    book = load_codebook(codebook)
    reading = read_corpus(corpus, metadata=metadata)
    pilot = None
    if codings is not None:
        pilot = _path(codings, "codings", "Give a .qdpx project or a codings .csv")
    decisions = review_decisions(store, book, reviewer) if reviewer is not None else ()
    labelled = labelled_set(book, codings=pilot, corpus=reading.documents, segment_options=segment,
                            review=decisions, reviewer=reviewer)
    warnings = list(labelled.warnings)
    pilot_count = sum(p.source != "codebook" for p in labelled.passages)
    match_settings = resolve_settings(book, model)
    why = check_enough(labelled)
    model_name = embedder.model_id if embedder is not None else model
    if why is not None:
        warnings.append(f"too few labels to compare methods: {why}; keeping the frozen default ({FROZEN}). "
                        f"Add exemplars, or pilot coding of more documents (--from)")
        return LearnReport(FROZEN, (), labelled.codes, len(labelled.passages), pilot_count, len(labelled.groups), (),
                           True, tuple(warnings), model_name, seed, settings,
                           exemplars_located=labelled.exemplars_located)

    frozen_model = None
    registered = embedder is None and trainable is None
    if registered:
        from nlp_coder.api import load_embedder

        embedder = load_embedder(model)
        model_name = embedder.model_id

    def tunable() -> Any:
        if trainable is not None:
            return trainable
        from nlp_coder.learn.finetune import load_trainable

        return load_trainable(model)

    can_tune = trainable is not None or _tunable_kind(model)
    if "fine-tuned" in methods and not can_tune:
        warnings.append(f"model '{model}' cannot be fine-tuned (not a transformer); compared the frozen methods")
    if embedder is None:
        frozen_model = trainable
        model_name = "given model"

    with open_store(_store(store)) as opened:
        def encode(texts: Sequence[str]):  # type: ignore[no-untyped-def]
            from nlp_coder.learn.finetune import encode as tuned_encode
            from nlp_coder.store import embed_cached

            if frozen_model is not None:
                return tuned_encode(frozen_model, list(texts), seed=seed, threads=settings.threads)
            return embed_cached(opened, embedder, list(texts))[0]  # type: ignore[arg-type]

        ensemble = None
        if registered and any(m in ENSEMBLE_METHODS for m in methods):  # the registered model's ensemble, if any
            ensemble, why_not = find_ensemble(model, lambda ens: _cached(opened, ens))
            if why_not:
                warnings.append(why_not)

        if embedder is not None:
            base_weights = embedder.weights_sha256 if trainable is None else weights_sha256(trainable)
        else:
            base_weights = weights_sha256(trainable)
        learned, more = learn_model(labelled, book, match_settings, encode, base_model=model_name,
                                    base_weights_sha256=base_weights, trainable=tunable if can_tune else None,
                                    folder=learned_folder(opened.path), settings=settings, methods=methods,
                                    target_precision=target_precision, seed=seed, time_budget=time_budget,
                                    progress=progress, ensemble=ensemble)
    assert learned is not None
    warnings.extend(more)
    if learned.reused:
        warnings.append(f"the learned model in learned/{learned.key[:16]} was reused: the same passages, model, "
                        "settings and seed (the fit times are not shown again)")
    artefact = f"learned/{learned.folder.name}" if learned.folder is not None else None
    return replace(learned.report, warnings=tuple(warnings), calibration=learned.calibration, artefact=artefact)


def _cached(store: Store, embedder: Embedder) -> Any:
    """Texts to ``embedder``'s vectors through ``store``'s cache."""
    from nlp_coder.store import embed_cached

    def encode(texts: Sequence[str]) -> Any:
        return embed_cached(store, embedder, list(texts))[0]

    return encode


def _tunable_kind(model: str) -> bool:
    from nlp_coder.embed.registry import load_registry

    return load_registry().model(model).kind == "sentence-transformers"


def review_decisions(store: str | os.PathLike[str] | Store | None, codebook: Codebook, reviewer: object) -> list[Any]:
    """``reviewer``'s review decisions in force on ``codebook`` in the project store.

    Raises:
        InputError: ``E130`` a reviewer that is not a name.
        StoreError: ``E301`` no decisions of theirs on this codebook (a review of another version
            of it does not count).
    """
    from nlp_coder.api import _store
    from nlp_coder.run import open_store

    if not isinstance(reviewer, str) or not reviewer.strip():
        raise InputError(f"the reviewer must be a name, not {reviewer!r}", "--from-review", code="E130")
    rows: list[Any] = []
    if store is not None:
        with open_store(_store(store)) as opened:
            rows = list(opened.review_decisions(codebook.sha256, reviewer))
    if not rows:
        from nlp_coder.errors import StoreError

        raise StoreError(f"no review decisions of {reviewer!r} on this codebook in the project store",
                         "--from-review", "Review with this codebook first (nlp-coder review --reviewer NAME), with "
                         "the same --db; an edited codebook starts a new review", code="E301")
    return rows
