"""The learned model as an artefact of the project store: what ``suggest`` codes with when it
learns the codebook (``suggest --learn``, ``docs/store.md``).

:func:`learn_model` compares the methods by grouped cross-validation (:mod:`.choose`),
calibrates per-code thresholds and a margin from the chosen method's out-of-fold scores
(:mod:`.calibrate`), fits the chosen method on every labelled passage and saves it in
``learned/<key>/`` next to the store's database, owner-only like the store. The key is the
SHA-256 of what the model depends on: the base model's weights, the labelled passages, the
settings (fine-tuning, matching, target precision, methods) and the seed. A later run with the
same key loads the folder and skips the cross-validation and the fitting; any change gives
another key, hence another folder.

A folder holds ``learned.json`` (the key, what went in, the cross-validation report and the
calibration) and, by method:

* ``frozen-centroid``: nothing more (the exemplars are the labelled passages, listed in
  ``learned.json``);
* ``frozen-lr-chars``: ``coef.npy``, ``intercept.npy`` (the logistic-regression head),
  ``idf.npy`` and the character n-gram vocabulary in ``learned.json``;
* ``ensemble-centroid``: nothing more; ``ensemble-lr-chars``: what ``frozen-lr-chars`` keeps.
  Both name the ensemble model in ``learned.json`` (``encoder_model``), which ``suggest`` then
  encodes with;
* ``fine-tuned``: the same head, and ``encoder/``: the tuned transformer exported to ONNX
  (``model.onnx``, ``tokenizer.json``, ``config.json``) for ONNX Runtime on the CPU; when the
  export cannot be made (``onnx`` missing, an architecture the exporter refuses, or vectors that
  differ from torch's), the sentence-transformers model itself (``encoder/torch``), and
  ``learned.json`` says which.

The files are written with numpy's ``.npy`` format and sorted JSON, so the same inputs give the
same bytes.

:class:`LearnedMatcher` decides the main codes as they were calibrated: a fragment is ``coded``
when its top code reaches that code's calibrated threshold; a code not calibrated (thin
evidence) keeps the codebook's threshold, applied to its frozen score; a code shown to miss the
target is never ``coded``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from nlp_coder.learn.calibrate import MIN_EVIDENCE, TARGET_PRECISION, Calibration, CodeThreshold, calibrate
from nlp_coder.learn.choose import (
    ENSEMBLE_METHODS,
    FROZEN,
    METHODS,
    CodeScore,
    Ensemble,
    LearnReport,
    MethodScore,
    best_method,
    check_enough,
    cross_validate,
    kept_reason,
    min_gain_for,
)
from nlp_coder.learn.data import LabelledSet
from nlp_coder.learn.finetune import DEFAULT_SETTINGS, FinetuneRun, FinetuneSettings
from nlp_coder.match.matcher import CentroidMatcher, CodebookMatcher, Scores
from nlp_coder.records import Codebook, MatchSettings

ARTEFACT_VERSION = 4
"""Bumped when the folder's layout, the fitting or the method choice changes: older folders are then
not reused."""
FOLDER = "learned"
"""The folder, next to the store's database, that holds the learned models."""
ONNX_TOLERANCE = 1e-4
"""The largest difference allowed between the ONNX export's vectors and torch's."""

Encode = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class LearnedModel:
    """A learned model: its key, the method chosen, the evidence and the fitted parts."""

    key: str
    method: str
    codes: tuple[str, ...]
    report: LearnReport
    calibration: Calibration
    base_model: str
    base_weights_sha256: str
    data_sha256: str
    seed: int
    folder: Path | None
    """Where it is kept (None: the store is in memory, so it is not kept)."""
    reused: bool
    encoder_sha256: str | None = None
    """The SHA-256 of the tuned encoder (``fine-tuned``): of ``model.onnx``, or of the torch
    weights; of the ensemble model's weights (``ensemble-*``)."""
    runtime: str | None = None
    """What runs the tuned encoder: ``onnxruntime`` or ``torch`` (``fine-tuned`` only)."""
    notes: tuple[str, ...] = ()
    examples: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Each code's exemplars for the matcher: the labelled passages of the code."""
    coef: np.ndarray | None = field(default=None, compare=False, repr=False)
    intercept: np.ndarray | None = field(default=None, compare=False, repr=False)
    vocabulary: tuple[str, ...] = field(default=(), compare=False, repr=False)
    idf: np.ndarray | None = field(default=None, compare=False, repr=False)
    encoder: Any = field(default=None, compare=False, repr=False)
    """The tuned encoder as an embedder (``fine-tuned``), or the ensemble model's (``ensemble-*``)."""
    encoder_model: str | None = None
    """The registered model the method's vectors come from, when not the base model (``ensemble-*``)."""

    @property
    def kappa(self) -> float | None:
        chosen = self.report.method(self.method)
        return chosen.kappa if chosen is not None else None

    def manifest_entry(self) -> dict[str, object]:
        """What a run manifest records of the model (``learned``)."""
        chosen = self.report.method(self.method)
        return {
            "key": self.key,
            "method": self.method,
            "folder": None if self.folder is None else f"{FOLDER}/{self.folder.name}",
            "reused": self.reused,
            "base_model": self.base_model,
            "base_weights_sha256": self.base_weights_sha256,
            "data_sha256": self.data_sha256,
            "seed": self.seed,
            "encoder_sha256": self.encoder_sha256,
            "encoder_model": self.encoder_model,
            "runtime": self.runtime,
            "passages": self.report.passages,
            "pilot_passages": self.report.pilot_passages,
            "folds": len(self.report.folds),
            "exemplars_located": list(self.report.exemplars_located),
            "min_gain": self.report.min_gain,
            "kappa": {m.method: m.kappa for m in self.report.methods},
            "per_code": [asdict(c) for c in chosen.codes] if chosen is not None else [],
            "target_precision": self.calibration.target_precision,
            "thresholds": {c.code: c.threshold for c in self.calibration.codes},
            "margin": self.calibration.margin,
            "calibration": [asdict(c) for c in self.calibration.codes],
            "not_calibrated": list(self.calibration.uncalibrated),
            "never_coded": list(self.calibration.unreached),
            "expected_uncoded_share": self.calibration.uncoded_share,
            "expected_overlap_share": self.calibration.overlap_share,
        }

    def line(self) -> str:
        """The one line ``suggest`` prints about the model (:meth:`lines` adds what is not calibrated)."""
        kappa = "-" if self.kappa is None else f"{self.kappa:.2f}"
        where = "reused from the store" if self.reused else ("kept in the store" if self.folder else "not kept")
        cal = self.calibration
        unreached, thin = cal.unreached, cal.uncalibrated
        short = (f"; {len(unreached)} of {len(cal.codes)} codes never coded, only suggested (they miss precision "
                 f"{cal.target_precision:g} out of fold: {_names(unreached)}; a lower --target-precision may code "
                 "them)") if unreached else ""
        if thin:
            short += (f"; {len(thin)} of {len(cal.codes)} codes not calibrated (too few held-out passages): they "
                      f"keep the codebook's threshold ({_names(thin)})")
        vectors = f" on the vectors of {self.encoder_model}" if self.encoder_model else ""
        return (f"learned: {self.method}{vectors}{self._kept()} (cross-validated kappa {kappa} on "
                f"{self.report.passages} passages, {len(self.report.folds)} folds), thresholds for precision "
                f"{cal.target_precision:g}, margin {cal.margin:.3g}; {where} ({FOLDER}/{self.key[:16]}){short}")

    def _kept(self) -> str:
        """Why the frozen default was kept, when other methods were compared."""
        why = kept_reason(replace(self.report, choice=self.method))
        return "" if why is None else f", the frozen default kept: {why}"

    def lines(self) -> tuple[str, ...]:
        """:meth:`line`, then one line per code not calibrated or never coded, with its numbers,
        and what to do when no code is calibrated."""
        cal = self.calibration
        out = [self.line()]
        for c in cal.codes:
            if c.status != "calibrated":
                state = "never coded" if c.status == "missed" else "not calibrated, codebook threshold"
                out.append(f"learned: {c.code}: {state}: {c.why}")
        if cal.codes and not cal.uncalibrated and all(c.status == "missed" for c in cal.codes):
            out.append(f"learned: every code misses precision {cal.target_precision:g} out of fold, so none is "
                       "coded: a lower --target-precision, clearer exemplars or more pilot coding may change that")
        elif cal.codes and all(c.status != "calibrated" for c in cal.codes):
            out.append(f"learned: no code could be calibrated for precision {cal.target_precision:g}: a threshold "
                       f"needs {MIN_EVIDENCE} or more held-out passages coded at it, from two folds; code more "
                       "passages (pilot coding of more documents, --train-from) or add exemplars")
        return tuple(out)

    def matcher(self, codebook: Codebook, settings: MatchSettings) -> LearnedMatcher:
        """An unfitted matcher that codes with this model (fit it with the codebook, as any matcher)."""
        kind = LearnedCentroidMatcher if settings.method == LearnedCentroidMatcher.method else LearnedMatcher
        if self.encoder_model is not None:  # the ensemble's scores: its own default threshold for codes not calibrated
            from nlp_coder.match.settings import with_method

            settings = with_method(settings, codebook, self.encoder_model, settings.method)
        matcher = kind.from_settings(settings)
        matcher.learned_ = self
        return matcher  # type: ignore[return-value]

    def codebook(self, codebook: Codebook) -> Codebook:
        """The codebook with each learned code's exemplars replaced by its labelled passages."""
        examples = dict(self.examples)
        return replace(codebook, codes=tuple(
            replace(c, examples=examples[c.id]) if c.id in examples else c for c in codebook.codes))


class LearnedMatcher(CodebookMatcher):
    """A matcher of a :class:`LearnedModel`: the main codes it learned are scored by its head
    (probabilities; the frozen matcher's scores when it chose ``frozen-centroid`` or
    ``ensemble-centroid``) and decided
    with its calibrated thresholds and margin. Facets and codes it did not learn are scored and
    decided as usual. :class:`LearnedCentroidMatcher` is the same on the ``centroid`` method."""

    learned_: LearnedModel

    def score(self, vectors: np.ndarray, texts: Sequence[str] | None = None) -> Scores:  # type: ignore[override]
        scored = super().score(vectors)
        model = self.learned_
        if model.coef is None:
            return scored
        probabilities = head_probabilities(model, np.asarray(vectors, dtype=np.float32), texts)
        out = scored.score.copy()
        for j, code in enumerate(model.codes):
            out[:, self.codes_.index(code)] = probabilities[:, j]
        self._roll_up(out)
        return replace(scored, score=out)

    def decide(self, vectors: np.ndarray, fragments: Any = None, scored: Scores | None = None) -> Any:
        if scored is None and fragments is not None:
            scored = self.score(vectors, [f.text for f in fragments])
        thin = self.learned_.calibration.uncalibrated
        self._frozen_raw = None
        if self.learned_.coef is not None and thin:
            # A code not calibrated keeps the codebook's threshold, on the frozen score it was set for.
            self._frozen_raw = CodebookMatcher.score(self, np.asarray(vectors, dtype=np.float32)).score
        try:
            return super().decide(vectors, fragments, scored)
        finally:
            self._frozen_raw = None

    def _decide_group(self, raw: np.ndarray, above: np.ndarray, group: str | None,
                      chosen_any: np.ndarray) -> list[Any]:
        """The main codes are decided as they were calibrated: a fragment is ``coded`` only when
        its best code (top-1) reaches that code's own threshold. The usual rule codes the best
        code *among those above their thresholds*, so a code with a low threshold would take
        fragments that another code, whose threshold they miss, fits better: with calibrated
        thresholds of very different heights that coded most text with one code at a fraction of
        the calibrated precision."""
        if group is None:
            members = np.array([j for j, cv in enumerate(self.code_vectors_)
                                if cv.code.facet is None and cv.code.codable], dtype=np.int64)
            frozen = getattr(self, "_frozen_raw", None)
            if frozen is not None:
                # A code not calibrated (thin evidence) under a head: the head's probabilities are not
                # on the codebook threshold's scale, so that threshold is applied to the frozen score.
                above = above.copy()
                for code in self.learned_.calibration.uncalibrated:
                    j = self.codes_.index(code)
                    above[:, j] = np.asarray(frozen[:, j], dtype=np.float64) >= self.threshold_for(
                        self.code_vectors_[j].code)
            if members.size:
                from nlp_coder.match.decide import ranked_codes

                top = members[ranked_codes(raw[:, members])[:, 0]]
                missed = ~above[np.arange(raw.shape[0]), top]
                above = above.copy()
                above[np.ix_(np.flatnonzero(missed), members)] = False
        return super()._decide_group(raw, above, group, chosen_any)  # type: ignore[misc]

    def threshold_for(self, code: Any) -> float:
        own = self.learned_.calibration.threshold(code.id)
        return own if own is not None else super().threshold_for(code)

    def margin_for(self, facet: str | None) -> float:
        return self.learned_.calibration.margin if facet is None else super().margin_for(facet)


class LearnedCentroidMatcher(LearnedMatcher, CentroidMatcher):
    """A :class:`LearnedMatcher` whose exemplar part is the centroid's (method ``centroid``)."""

    method = "centroid"


def _names(codes: Sequence[str]) -> str:
    return f"{', '.join(codes[:3])}{' ...' if len(codes) > 3 else ''}"


def head_probabilities(model: LearnedModel, vectors: np.ndarray, texts: Sequence[str] | None) -> np.ndarray:
    """The head's probabilities of ``model.codes`` (columns) for the rows (softmax of the
    logistic regression; a sigmoid for two codes)."""
    assert model.coef is not None and model.intercept is not None
    logits = vectors.astype(np.float64) @ model.coef[:, :vectors.shape[1]].T
    if model.idf is not None:
        if texts is None:
            from nlp_coder.errors import InputError

            raise InputError(f"the learned model ({model.method}) needs the fragments' texts", "texts",
                             "Pass the fragments with their vectors", code="E130")
        logits = logits + np.asarray(_chars(model).transform(list(texts)) @ model.coef[:, vectors.shape[1]:].T)
    logits = logits + model.intercept
    if logits.shape[1] == 1:  # two codes: scikit-learn keeps one row of coefficients
        p = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.stack([1.0 - p, p], axis=1)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _chars(model: LearnedModel) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                 vocabulary={t: i for i, t in enumerate(model.vocabulary)})
    vectorizer.idf_ = model.idf
    return vectorizer


def artefact_key(*, base_weights_sha256: str, data_sha256: str, settings: FinetuneSettings,
                 match_settings: MatchSettings, methods: Sequence[str], target_precision: float, seed: int,
                 ensemble_weights_sha256: str | None = None) -> str:
    """The key of a learned model: the SHA-256 of what it depends on."""
    match = asdict(match_settings)
    match.pop("origin", None)
    data = {"version": ARTEFACT_VERSION, "base_weights_sha256": base_weights_sha256, "data_sha256": data_sha256,
            "finetune": asdict(replace(settings, threads=None)), "match": match, "methods": list(methods),
            "target_precision": float(target_precision), "seed": int(seed)}
    if ensemble_weights_sha256 is not None:
        data["ensemble_weights_sha256"] = ensemble_weights_sha256
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def weights_sha256(model: Any) -> str:
    """The SHA-256 of a torch model's parameters and buffers (names, shapes and bytes, in order)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}:{array.dtype}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def find_ensemble(model: str, encode_with: Callable[[Any], Encode]) -> tuple[Ensemble | None, str | None]:
    """The registered ensemble that holds ``model`` as a member and covers its languages
    (``minilm-use`` for MiniLM), loaded for the ``ensemble-*`` methods, its vectors given by
    ``encode_with(embedder)``; or None, with why when one is registered but cannot be loaded
    (None and None: no ensemble holds ``model``)."""
    from nlp_coder.embed.models import load_embedder
    from nlp_coder.embed.registry import load_registry
    from nlp_coder.errors import NlpCoderError

    registry = load_registry()
    spec = registry.model(model)
    found = next((e for e in registry.models if e.kind == "ensemble" and spec.name in dict(e.members)
                  and set(spec.languages) <= set(e.languages)), None)
    if found is None:
        return None, None
    try:
        embedder = load_embedder(found.name)
    except NlpCoderError as error:
        return None, (f"the ensemble methods were not compared: the ensemble model {found.name} cannot be loaded "
                      f"({error})")
    return Ensemble(found.name, embedder, encode_with(embedder)), None


def learned_folder(store_path: Path | None) -> Path | None:
    """The folder that holds the learned models of the store at ``store_path`` (None: in memory)."""
    from nlp_coder.store import MEMORY

    if store_path is None or str(store_path) == MEMORY:
        return None
    return Path(store_path).parent / FOLDER


def learn_model(labelled: LabelledSet, codebook: Codebook, match_settings: MatchSettings, encode: Encode, *,
                base_model: str, base_weights_sha256: str, trainable: Callable[[], Any] | None,
                folder: Path | None, settings: FinetuneSettings = DEFAULT_SETTINGS,
                methods: Sequence[str] = METHODS, target_precision: float = TARGET_PRECISION, seed: int = 0,
                time_budget: float | None = None, progress: bool = False, ensemble: Ensemble | None = None,
                ) -> tuple[LearnedModel | None, tuple[str, ...]]:
    """The learned model for ``labelled``: loaded from ``folder`` when its key is there, else
    cross-validated, calibrated, fitted on every passage and saved there.

    Args:
        encode: texts to frozen unit vectors (through the store's cache).
        base_weights_sha256: the hash of the weights of ``trainable`` (and of the frozen model).
        trainable: gives the sentence-transformers model to fine-tune; None: not compared.
        folder: the store's ``learned`` folder (None: nothing is kept).
        ensemble: the ensemble model of the ``ensemble-*`` methods (:func:`find_ensemble`); None:
            they are not compared.

    Returns:
        The model, or None with a warning saying why (too few labels); and warnings.
    """
    from nlp_coder.learn.calibrate import check_target

    check_target(target_precision)
    why = check_enough(labelled)
    if why is not None:
        return None, (f"too few labels to learn the codebook: {why}; keeping the frozen default ({FROZEN})",)
    run = tuple(m for m in methods if (m != "fine-tuned" or trainable is not None)
                and (m not in ENSEMBLE_METHODS or ensemble is not None))
    uses_ensemble = ensemble if any(m in ENSEMBLE_METHODS for m in run) else None
    key = artefact_key(base_weights_sha256=base_weights_sha256, data_sha256=labelled.sha256(), settings=settings,
                       match_settings=match_settings, methods=run, target_precision=target_precision, seed=seed,
                       ensemble_weights_sha256=uses_ensemble.weights_sha256 if uses_ensemble is not None else None)
    target = folder / key[:16] if folder is not None else None
    if target is not None:
        loaded = load_model(target, key)
        if loaded is not None:
            return loaded, ()
    oof: dict[str, np.ndarray] = {}
    scores, folds, warnings = cross_validate(labelled, codebook, match_settings, encode, methods=methods,
                                             trainable=trainable, finetune_settings=settings, seed=seed,
                                             time_budget=time_budget, progress=progress, oof=oof,
                                             ensemble=uses_ensemble)
    min_gain = min_gain_for(labelled)
    if min_gain:
        located, exemplars = labelled.exemplars_located
        warnings = (*warnings, f"most labelled passages come from no known document ({exemplars - located} of "
                    f"{exemplars} exemplars found in no document of the corpus, or in several), so their documents "
                    "cannot be held out: a learned method must beat the frozen default's cross-validated kappa by "
                    f"{min_gain:g}")
    choice = best_method(scores, min_gain)
    if choice not in oof:  # the frozen default, kept though it was not among the methods compared
        more, _, _ = cross_validate(labelled, codebook, match_settings, encode, methods=(FROZEN,), seed=seed,
                                    oof=oof)
        scores = (*scores, *more)
    pilot = sum(p.source != "codebook" for p in labelled.passages)
    report = LearnReport(choice, scores, labelled.codes, len(labelled.passages), pilot, len(labelled.groups), folds,
                         False, tuple(warnings), base_model, seed, settings,
                         exemplars_located=labelled.exemplars_located, min_gain=min_gain)
    index = {c: j for j, c in enumerate(labelled.codes)}
    truth = [index[p.code] for p in labelled.passages] + [-1] * len(labelled.unlabelled)
    fold_of = {g: i for i, fold in enumerate(folds) for g in fold}
    held_by = [fold_of.get(p.group, -1) for p in (*labelled.passages, *labelled.unlabelled)]
    calibration = calibrate(oof[choice], truth, labelled.codes, target_precision, held_by)
    examples = {c: [] for c in labelled.codes}  # type: dict[str, list[str]]
    for p in labelled.passages:
        examples[p.code].append(p.text)
    model = LearnedModel(key, choice, labelled.codes, report, calibration, base_model, base_weights_sha256,
                         labelled.sha256(), seed, target, False,
                         examples=tuple((c, tuple(dict.fromkeys(t))) for c, t in examples.items()))
    model = _fit(model, labelled, encode, trainable, settings, seed, time_budget, progress, uses_ensemble)
    if target is not None:
        model = save_model(model, target)
    elif model.encoder is not None and model.encoder_model is None:  # nothing kept: the tuned model runs on torch
        model = replace(model, encoder=LearnedEmbedder.in_memory(model.encoder, _encoder_id(base_model, key),
                                                                 weights_sha256(model.encoder)),
                        runtime="torch", encoder_sha256=weights_sha256(model.encoder))
    return model, tuple(warnings) + model.notes


def _encoder_id(base_model: str, key: str) -> str:
    return f"{base_model}+learned-{key[:12]}"


def _fit(model: LearnedModel, labelled: LabelledSet, encode: Encode, trainable: Callable[[], Any] | None,
         settings: FinetuneSettings, seed: int, time_budget: float | None, progress: bool,
         ensemble: Ensemble | None = None) -> LearnedModel:
    """The chosen method fitted on every labelled passage."""
    from nlp_coder.learn.choose import HEAD_C

    if model.method == FROZEN:
        return model
    if model.method in ENSEMBLE_METHODS:
        assert ensemble is not None
        model = replace(model, encoder=ensemble.embedder, encoder_model=ensemble.name,
                        encoder_sha256=ensemble.weights_sha256)
        if model.method == "ensemble-centroid":
            return model
        encode = ensemble.encode
    from sklearn.linear_model import LogisticRegression

    texts = [p.text for p in labelled.passages]
    index = {c: j for j, c in enumerate(labelled.codes)}
    y = np.array([index[p.code] for p in labelled.passages], dtype=np.int64)
    head = LogisticRegression(C=HEAD_C, class_weight="balanced", max_iter=2000)
    if model.method in ("frozen-lr-chars", "ensemble-lr-chars"):
        from nlp_coder.learn.choose import char_features

        x, _, chars = char_features(texts, encode(texts), texts[:1], encode(texts[:1]))
        head.fit(x, y)
        vocabulary = tuple(sorted(chars.vocabulary_, key=chars.vocabulary_.get))
        return replace(model, coef=head.coef_.astype(np.float64), intercept=head.intercept_.astype(np.float64),
                       vocabulary=vocabulary, idf=np.asarray(chars.idf_, dtype=np.float64))
    assert trainable is not None
    from nlp_coder.learn.finetune import encode as tuned_encode
    from nlp_coder.learn.finetune import finetune

    negatives = [t for t, _ in labelled.negatives]
    tuned, run = finetune(trainable(), texts, y, negatives=negatives, settings=settings, seed=seed,
                          time_budget=time_budget, progress=progress)
    notes = model.notes
    if run.stopped_early:
        notes = (*notes, f"learned: the time budget stopped the final fine-tuning after {run.steps} of "
                         f"{run.planned} steps")
    vectors = tuned_encode(tuned, texts, seed=seed, threads=settings.threads)
    head.fit(vectors, y)
    return replace(model, coef=head.coef_.astype(np.float64), intercept=head.intercept_.astype(np.float64),
                   encoder=tuned, notes=notes)


# -- saving and loading -------------------------------------------------------------------------
def _report_from(data: dict[str, Any]) -> LearnReport:
    methods = tuple(MethodScore(m["method"], m["kappa"], m["accuracy"], tuple(CodeScore(**c) for c in m["codes"]),
                                m.get("fit_seconds", 0.0), m["note"],
                                tuple(FinetuneRun(**{**r, "seconds": r.get("seconds", 0.0)}) for r in m["tuning"]),
                                m["gain_se"])
                    for m in data["methods"])
    return LearnReport(data["choice"], methods, tuple(data["codes"]), data["passages"], data["pilot_passages"],
                       data["groups"], tuple(tuple(f) for f in data["folds"]), data["too_few"],
                       tuple(data["warnings"]), data["model"], data["seed"], FinetuneSettings(**data["settings"]),
                       exemplars_located=tuple(data["exemplars_located"]), min_gain=data["min_gain"])  # type: ignore[arg-type]


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float64), allow_pickle=False)
    return buffer.getvalue()


def save_model(model: LearnedModel, target: Path) -> LearnedModel:
    """Write ``model`` into ``target`` (owner-only), whole or not at all: into a scratch folder
    renamed into place. Returns the model with its encoder's hash and runtime."""
    from nlp_coder.store import make_private_folders

    make_private_folders(target.parent)
    scratch = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    os.mkdir(scratch, 0o700)
    try:
        encoder_sha, runtime, notes = None, None, model.notes
        if model.coef is not None and model.intercept is not None:
            _write_private(scratch / "coef.npy", _npy(model.coef))
            _write_private(scratch / "intercept.npy", _npy(model.intercept))
        if model.idf is not None:
            _write_private(scratch / "idf.npy", _npy(model.idf))
        if model.encoder_model is not None:
            encoder_sha = model.encoder_sha256
        elif model.encoder is not None and not isinstance(model.encoder, LearnedEmbedder):
            os.mkdir(scratch / "encoder", 0o700)
            encoder_sha, runtime, why = export_encoder(model.encoder, scratch / "encoder", model.seed)
            if why:
                notes = (*notes, f"learned: the tuned encoder runs on torch, not ONNX Runtime ({why})")
        data = {"version": ARTEFACT_VERSION, "key": model.key, "method": model.method, "codes": list(model.codes),
                "base_model": model.base_model, "base_weights_sha256": model.base_weights_sha256,
                "data_sha256": model.data_sha256, "seed": model.seed, "encoder_sha256": encoder_sha,
                "encoder_model": model.encoder_model, "runtime": runtime, "notes": list(notes),
                "examples": [[c, list(t)] for c, t in model.examples],
                "vocabulary": list(model.vocabulary), "report": model.report.as_dict(timings=False),
                "calibration": asdict(model.calibration)}
        _write_private(scratch / "learned.json",
                       (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode())
        for folder in [scratch, *(p for p in scratch.rglob("*") if p.is_dir())]:
            os.chmod(folder, 0o700)
        for file in scratch.rglob("*"):
            if file.is_file():
                os.chmod(file, 0o600)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(target)
        os.rename(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    loaded = load_model(target, model.key)
    assert loaded is not None
    if model.encoder_model is not None:  # the registered model already loaded, not a second copy
        loaded = replace(loaded, encoder=model.encoder)
    return replace(loaded, reused=False, report=model.report)


def load_model(target: Path, key: str) -> LearnedModel | None:
    """The model saved in ``target`` under ``key`` (None when absent, unreadable or another key)."""
    try:
        data = json.loads((target / "learned.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key or data.get("version") != ARTEFACT_VERSION:
        return None

    def array(name: str) -> np.ndarray | None:
        path = target / name
        return np.load(path, allow_pickle=False) if path.is_file() else None

    calibration = data["calibration"]
    calibration = Calibration(calibration["target_precision"], tuple(CodeThreshold(**c) for c in calibration["codes"]),
                              calibration["margin"], calibration["passages"], calibration["uncoded_share"],
                              calibration["overlap_share"])
    encoder = None
    encoder_model = data.get("encoder_model")
    if encoder_model is not None:
        encoder = _registered(encoder_model, data["encoder_sha256"])
        if encoder is None:
            return None
    elif data["encoder_sha256"] is not None:
        encoder = LearnedEmbedder(target / "encoder", data["runtime"], data["encoder_sha256"],
                                  _encoder_id(data["base_model"], key))
    return LearnedModel(key, data["method"], tuple(data["codes"]), _report_from(data["report"]), calibration,
                        data["base_model"], data["base_weights_sha256"], data["data_sha256"], data["seed"], target,
                        True, data["encoder_sha256"], data["runtime"], tuple(data["notes"]),
                        tuple((c, tuple(t)) for c, t in data["examples"]), array("coef.npy"),
                        array("intercept.npy"), tuple(data["vocabulary"]), array("idf.npy"), encoder, encoder_model)


def _registered(name: str, sha256: str | None) -> Any:
    """The registered model ``name`` when it loads with the weights ``sha256`` (else None: the
    model is learned again)."""
    from nlp_coder.embed.models import load_embedder
    from nlp_coder.errors import NlpCoderError

    try:
        embedder = load_embedder(name)
    except NlpCoderError:
        return None
    return embedder if embedder.weights_sha256 == sha256 else None


# -- the tuned encoder --------------------------------------------------------------------------
def export_encoder(model: Any, folder: Path, seed: int = 0) -> tuple[str, str, str | None]:
    """Export a tuned sentence-transformers model into ``folder``: to ONNX when it can (returns
    the hash of ``model.onnx``, ``onnxruntime`` and None), else its torch files (the hash of its
    weights, ``torch`` and why)."""
    why = None
    try:
        return _export_onnx(model, folder), "onnxruntime", None
    except Exception as exc:  # noqa: BLE001 - any failure of the exporter falls back to torch, and says so
        why = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        for name in ("model.onnx", "tokenizer.json", "config.json"):
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
    model.save(str(folder / "torch"))
    return weights_sha256(model), "torch", why


def _export_onnx(model: Any, folder: Path) -> str:
    import torch

    modules = list(model.children()) if hasattr(model, "children") else []
    names = [type(m).__name__ for m in modules]
    if not names or names[0] != "Transformer" or names[1:2] != ["Pooling"] or any(
            n not in ("Normalize",) for n in names[2:]):
        raise ValueError(f"modules {names}: only a transformer with pooling can be exported")
    pooling = modules[1]
    mode = getattr(pooling, "pooling_mode_mean_tokens", None)
    if mode is False or (mode is None and getattr(pooling, "pooling_mode", "mean") != "mean"):
        raise ValueError("only mean pooling can be exported")
    import onnx  # noqa: F401 - torch's exporter needs it; its absence is the usual reason to fall back

    transformer = modules[0].auto_model
    with contextlib.suppress(Exception):
        transformer.set_attn_implementation("eager")

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    example = torch.ones(2, 16, dtype=torch.long)
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "texts", 1: "tokens"} for name in [*inputs, "last_hidden_state"]}
    wrapped = LastHiddenState(transformer).eval().to("cpu")
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapped, (example, example, torch.zeros_like(example)), str(folder / "model.onnx"),
                          input_names=inputs, output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    transformer.to(next(model.parameters()).device)
    modules[0].tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    with open(folder / "model.onnx", "rb") as handle:
        sha = hashlib.file_digest(handle, "sha256").hexdigest()
    config = {"max_seq_length": int(model.max_seq_length), "pooling": "mean", "normalize": True, "opset": 17,
              "source_sha256": sha, "dimensions": _dimensions(model)}
    (folder / "config.json").write_text(json.dumps(config, indent=4, sort_keys=True) + "\n", encoding="utf-8")
    # The export must give torch's vectors: else the head would read other vectors than it learned on.
    from nlp_coder.learn.finetune import encode as tuned_encode

    probe = ["A short check.", "A somewhat longer sentence to check that the export pools as the model does."]
    exported = LearnedEmbedder(folder, "onnxruntime", sha, "check").encode(probe)
    if float(np.abs(exported - tuned_encode(model, probe)).max()) > ONNX_TOLERANCE:
        raise ValueError("the ONNX export's vectors differ from torch's")
    return sha


def _dimensions(model: Any) -> int:
    size = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(size())


class LearnedEmbedder:
    """The tuned encoder of a learned model, as an embedder: ONNX Runtime on the CPU (mean
    pooling and unit length in numpy, as :class:`nlp_coder.embed.models.OnnxEmbedder`), or the
    saved sentence-transformers model on torch."""

    batch_size = 16

    def __init__(self, folder: Path, runtime: str, sha256: str, model_id: str, threads: int | None = None) -> None:
        self._folder, self.runtime, self._sha, self._id, self._threads = folder, runtime, sha256, model_id, threads
        self._loaded: Any = None
        self._dimensions: int | None = None

    @classmethod
    def in_memory(cls, model: Any, model_id: str, sha256: str) -> LearnedEmbedder:
        """A tuned sentence-transformers model held in memory (a store in memory keeps no files)."""
        embedder = cls(Path(), "torch", sha256, model_id)
        embedder._loaded = model
        return embedder

    @property
    def model_id(self) -> str:
        return self._id

    @property
    def weights_sha256(self) -> str:
        return self._sha

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            if self.runtime == "onnxruntime":
                self._dimensions = int(json.loads((self._folder / "config.json").read_text())["dimensions"])
            else:
                self._dimensions = _dimensions(self._load())
        return self._dimensions

    def _load(self) -> Any:
        if self._loaded is None:
            if self.runtime == "onnxruntime":
                from nlp_coder.embed.models import load_onnx_export

                config = json.loads((self._folder / "config.json").read_text(encoding="utf-8"))
                self._loaded = load_onnx_export(self._folder, int(config["max_seq_length"]), self._threads)
            else:
                from sentence_transformers import SentenceTransformer

                self._loaded = SentenceTransformer(str(self._folder / "torch"), device="cpu", local_files_only=True)
        return self._loaded

    def encode(self, texts: Sequence[str]) -> np.ndarray:

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if self.runtime != "onnxruntime":
            from nlp_coder.learn.finetune import encode as tuned_encode

            return tuned_encode(self._load(), texts)
        from nlp_coder.embed.models import encode_onnx

        session, tokenizer = self._load()
        return encode_onnx(session, tokenizer, texts, self.batch_size)


__all__ = ["FOLDER", "LearnedCentroidMatcher", "LearnedEmbedder", "LearnedMatcher", "LearnedModel", "artefact_key",
           "learn_model", "learned_folder", "load_model", "save_model"]
