"""Scoring methods compared by ``nlp-coder evaluate``: the matcher's default and its baselines.

Every method learns only from what a researcher gives: the codebook's definitions, exemplars
and counterexamples (plus, in the few-shot protocol, exemplars drawn from training documents).
None ever sees a test label. Each method turns a :class:`TrainingSet` and a :class:`Test` into a
:class:`Prediction`: a score per fragment and code (ranking) and a decision per fragment
(assigned codes and status ``coded`` / ``overlap`` / ``uncoded``).

Methods whose scores are cosine similarities (``topk``, ``definitions``, ``centroid``, ``knn``,
``centroid-def``, and ``centroid-ctx`` / ``blend``, whose additions are centred per fragment)
decide with the codebook's threshold and margin, so they can leave a fragment uncoded;
``centroid-def-loo`` calibrates a threshold per code on the exemplars. Classifiers
(``tfidf-lr``, ``lr-emb``, ``head``, ``head-ctx``) always assign their best code; ``head-gate``
ranks with the classifier head and leaves a fragment uncoded when the default matcher finds no
code above threshold.

The learner's methods (:data:`LEARNER_METHODS`, :mod:`nlp_coder.learn`) are trained on the
training set alone, like every other: ``frozen-lr-chars`` (logistic regression on the frozen
embedding joined with character n-grams), ``fine-tuned`` (the embedding model fine-tuned on the
training exemplars, then a logistic-regression head) and ``learned``, what ``suggest`` does when
it learns the codebook: the learner's choice among the frozen default and those two, by grouped
cross-validation on the training exemplars (:func:`nlp_coder.learn.choose.cross_validate`),
then that method fitted on all of them. The classifiers always assign their best code; when the
learner keeps the frozen default, ``learned`` decides as ``suggest`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from nlp_coder.match.decide import ranked_codes
from nlp_coder.match.matcher import CentroidMatcher, CodebookMatcher
from nlp_coder.match.settings import DEFAULT_METHOD
from nlp_coder.records import Codebook, Fragment, MatchSettings

Encode = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class TrainingSet:
    """What a method may learn from.

    ``codebook`` already holds every exemplar (its own and any drawn from gold); ``texts``,
    ``labels`` (index into ``codes``), ``vectors`` and ``contexts`` list the exemplars of the
    evaluated codes flat. ``contexts`` are the vectors of the text before each exemplar (zero
    where unknown, e.g. for the codebook's own exemplars). ``definitions`` has one row per code
    (zero where the code has none).
    """

    codebook: Codebook
    codes: tuple[str, ...]
    texts: tuple[str, ...]
    labels: np.ndarray
    vectors: np.ndarray
    contexts: np.ndarray
    definitions: np.ndarray
    settings: MatchSettings
    encode: Encode
    seed: int = 0
    trainable: Callable[[], Any] | None = None
    """Gives the sentence-transformers model to fine-tune (the learner's methods); None: none."""
    finetune: Any = None
    """The fine-tuning's :class:`~nlp_coder.learn.finetune.FinetuneSettings` (None: the defaults)."""
    documents: tuple[Any, ...] = ()
    """The training documents (:class:`~nlp_coder.records.Document`): ``learned`` finds the
    exemplars in them, as ``suggest --learn`` finds them in its corpus."""
    ensemble: Any = None
    """The ensemble model ``learned`` compares the ``ensemble-*`` methods on
    (:class:`~nlp_coder.learn.choose.Ensemble`); None: they are not compared."""
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Shared by the methods of one run: the fine-tuned model, so that ``fine-tuned`` and
    ``learned`` tune once; and what ``learned`` chose."""


@dataclass(frozen=True)
class Test:
    """The fragments to score: texts, their vectors and the vectors of the text before each."""

    texts: tuple[str, ...]
    vectors: np.ndarray
    contexts: np.ndarray


@dataclass(frozen=True)
class Prediction:
    """Scores (fragments x codes, ``TrainingSet.codes`` order) and the decision per fragment."""

    scores: np.ndarray
    assigned: tuple[tuple[str, ...], ...]
    status: tuple[str, ...]
    notes: tuple[str, ...] = ()
    """What the method chose or did that the report should say (``learned``: its choice)."""


Method = Callable[[TrainingSet, Test], Prediction]


# -- decisions ---------------------------------------------------------------------------------

def threshold_decisions(scores: np.ndarray, codes: Sequence[str], threshold: float,
                        margin: float) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """The matcher's rule on a flat code list: uncoded below threshold, overlap within margin."""
    assigned, status = [], []
    for row, order in zip(scores, ranked_codes(scores)):
        above = [j for j in order if row[j] >= threshold]
        if not above:
            assigned.append(())
            status.append("uncoded")
            continue
        chosen = [above[0], *(j for j in above[1:] if row[j] >= row[above[0]] - margin)]
        assigned.append(tuple(codes[j] for j in chosen))
        status.append("overlap" if len(chosen) > 1 else "coded")
    return tuple(assigned), tuple(status)


def forced_decisions(scores: np.ndarray, codes: Sequence[str]) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """A classifier's rule: always the best code."""
    best = ranked_codes(scores)[:, 0]
    return tuple((codes[j],) for j in best), tuple("coded" for _ in best)


def _thresholded(train: TrainingSet, scores: np.ndarray) -> Prediction:
    assigned, status = threshold_decisions(scores, train.codes, train.settings.threshold, train.settings.margin)
    return Prediction(scores.astype(np.float32), assigned, status)


def _forced(train: TrainingSet, scores: np.ndarray) -> Prediction:
    assigned, status = forced_decisions(scores, train.codes)
    return Prediction(scores.astype(np.float32), assigned, status)


# -- the matcher -------------------------------------------------------------------------------

def _matcher_prediction(train: TrainingSet, test: Test, codebook: Codebook, settings: MatchSettings | None = None,
                        matcher_class: type[CodebookMatcher] = CodebookMatcher) -> Prediction:
    matcher = matcher_class.from_settings(settings or train.settings).fit(codebook, train.encode)
    columns = [matcher.codes_.index(c) for c in train.codes]
    fragments = [Fragment(id=str(i), document="", speaker=None, turn=i, start=0, end=len(t), text=t)
                 for i, t in enumerate(test.texts)]
    results = matcher.predict(test.vectors, fragments)
    scores = matcher.decision_function(test.vectors)[:, columns]
    return Prediction(
        scores.astype(np.float32),
        tuple(r.decision.codes for r in results),
        tuple(r.decision.status for r in results),
    )


def topk(train: TrainingSet, test: Test) -> Prediction:
    """The default matcher (:class:`nlp_coder.match.matcher.CodebookMatcher`): mean of the ``top_k``
    nearest exemplars blended with the definition, counterexample penalty, threshold/margin."""
    return _matcher_prediction(train, test, train.codebook)


def definitions(train: TrainingSet, test: Test) -> Prediction:
    """The matcher on definitions alone (every exemplar removed)."""
    book = replace(train.codebook, codes=tuple(replace(c, examples=(), counterexamples=())
                                               for c in train.codebook.codes))
    return _matcher_prediction(train, test, book)


def _centroids(train: TrainingSet) -> np.ndarray:
    k, dims = len(train.codes), train.vectors.shape[1] if train.vectors.size else train.definitions.shape[1]
    out = np.zeros((k, dims), dtype=np.float32)
    for j in range(k):
        rows = train.vectors[train.labels == j]
        mean = rows.mean(axis=0) if len(rows) else train.definitions[j]
        norm = np.linalg.norm(mean)
        out[j] = mean / norm if norm else mean
    return out


def centroid(train: TrainingSet, test: Test) -> Prediction:
    """Cosine similarity to the mean of each code's exemplars (its definition if it has none)."""
    return _thresholded(train, test.vectors @ _centroids(train).T)


def centroid_def(train: TrainingSet, test: Test) -> Prediction:
    """:class:`nlp_coder.match.matcher.CentroidMatcher`: cosine to the exemplars' centroid blended with the
    definition (``train.settings.definition_weight``, 0.5 unless set), counterexample penalty,
    threshold/margin decision: ``suggest --method centroid``."""
    return _matcher_prediction(train, test, train.codebook, train.settings, CentroidMatcher)


LOO_QUANTILE = 0.1


def loo_thresholds(train: TrainingSet, definition_weight: float | None = None,
                   quantile: float = LOO_QUANTILE) -> dict[str, float]:
    """Per-code thresholds from the exemplars alone, by leave-one-out: each exemplar is scored
    against its own code's centroid without it (blended with the definition), and a code's
    threshold is the ``quantile`` of those scores, so about 90 % of its own exemplars would be
    coded. Codes with fewer than three exemplars keep the codebook's threshold. The definition's
    weight is ``train.settings.definition_weight`` unless given."""
    definition_weight = train.settings.definition_weight if definition_weight is None else definition_weight
    out: dict[str, float] = {}
    for j, code in enumerate(train.codes):
        rows = train.vectors[train.labels == j]
        if len(rows) < 3:
            continue
        rest = (rows.sum(axis=0)[None, :] - rows) / (len(rows) - 1)
        rest /= np.where(np.linalg.norm(rest, axis=1, keepdims=True) == 0, 1,
                         np.linalg.norm(rest, axis=1, keepdims=True))
        score = np.sum(rows * rest, axis=1)
        if np.linalg.norm(train.definitions[j]) > 0:
            score = (1 - definition_weight) * score + definition_weight * (rows @ train.definitions[j])
        out[code] = float(np.quantile(score, quantile))
    return out


def centroid_def_loo(train: TrainingSet, test: Test) -> Prediction:
    """``centroid-def`` with per-code thresholds calibrated on the exemplars by leave-one-out
    (:func:`loo_thresholds`); the ranking is the same as ``centroid-def``."""
    thresholds = loo_thresholds(train)
    book = replace(train.codebook, codes=tuple(
        replace(c, threshold=thresholds[c.id]) if c.id in thresholds and c.threshold is None else c
        for c in train.codebook.codes))
    return _matcher_prediction(train, test, book, train.settings, CentroidMatcher)


def knn(train: TrainingSet, test: Test, neighbours: int = 10) -> Prediction:
    """Similarity-weighted votes of the ``neighbours`` nearest exemplars (of any code), divided by
    the votes' total weight and scaled by the nearest similarity, so scores stay cosine-like."""
    sims = test.vectors @ train.vectors.T
    n = min(neighbours, sims.shape[1])
    top = np.argsort(-sims, axis=1, kind="stable")[:, :n]
    scores = np.zeros((len(sims), len(train.codes)), dtype=np.float32)
    rows = np.arange(len(sims))[:, None]
    weights = np.maximum(sims[rows, top], 0)
    np.add.at(scores, (np.repeat(rows, n, axis=1), train.labels[top]), weights)
    total = weights.sum(axis=1, keepdims=True)
    nearest = sims.max(axis=1, keepdims=True)
    return _thresholded(train, scores / np.where(total == 0, 1, total) * nearest)


# -- blends with the neighbouring text ---------------------------------------------------------

BLEND_DEFINITION_WEIGHT = 0.5
BLEND_CONTEXT_WEIGHT = 0.1
BLEND_CONTEXT_CENTROID_WEIGHT = 0.1
BLEND_CHARACTER_WEIGHT = 0.02


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def _class_sums(train: TrainingSet, vectors: np.ndarray) -> np.ndarray:
    """Per code, the sum of ``vectors`` rows (one row per exemplar, ``train.labels`` order)."""
    out = np.zeros((len(train.codes), vectors.shape[1]), dtype=np.float64)
    np.add.at(out, train.labels, vectors)
    return out


def prototype_scores(train: TrainingSet, vectors: np.ndarray,
                     definition_weight: float = BLEND_DEFINITION_WEIGHT) -> np.ndarray:
    """Centroid-def scores of any vectors: ``(1 - w)`` times the cosine to the normalised mean of a
    code's exemplars plus ``w`` times the cosine to its definition (the one part a code has alone
    when it lacks the other). Zero rows (unknown text) score zero."""
    sums = _class_sums(train, train.vectors)
    has_examples = np.linalg.norm(sums, axis=1) > 0
    has_definition = np.linalg.norm(train.definitions, axis=1) > 0
    weight = np.where(has_examples & has_definition, definition_weight, np.where(has_definition, 1.0, 0.0))
    return (vectors @ _unit_rows(sums).T) * (1 - weight) + (vectors @ train.definitions.T) * weight


def _counterexample_penalty(train: TrainingSet, vectors: np.ndarray) -> np.ndarray:
    """The matcher's counterexample rule: per code, how much nearer a fragment is to one of the
    code's counterexamples than to any of its exemplars (zero for codes without either)."""
    penalty = np.zeros((len(vectors), len(train.codes)), dtype=np.float64)
    weight = train.settings.counterexample_weight
    for j, code in enumerate(train.codes):
        counter = train.codebook.code(code).counterexamples
        own = train.vectors[train.labels == j]
        if not counter or not len(own) or not weight:
            continue
        worst = (vectors @ train.encode(list(counter)).T).max(axis=1)
        penalty[:, j] = weight * np.maximum(0.0, worst - (vectors @ own.T).max(axis=1))
    return penalty


def context_scores(train: TrainingSet, test: Test) -> np.ndarray:
    """What the text before a fragment says about each code, centred per fragment (so only the
    ranking moves, not the cosine scale):

    * ``BLEND_CONTEXT_WEIGHT`` times the context's own prototype score (consecutive sentences
      of a document tend to share a topic);
    * ``BLEND_CONTEXT_CENTROID_WEIGHT`` times the cosine of the context to the mean of the
      contexts of a code's exemplars (what is typically said just before the code: the
      client's turn a reflection restates, the question an answer replies to).

    Fragments without context (zero vector) get zeros.
    """
    own = prototype_scores(train, test.contexts)
    before = test.contexts @ _unit_rows(_class_sums(train, train.contexts)).T
    scores = BLEND_CONTEXT_WEIGHT * own + BLEND_CONTEXT_CENTROID_WEIGHT * before
    return scores - scores.mean(axis=1, keepdims=True)


def character_log_probabilities(train: TrainingSet, test: Test) -> np.ndarray:
    """Log-probabilities (floored at 1e-4) of a logistic regression on character 2-5-grams of the
    exemplar texts: the surface form embeddings blur (question marks, pronouns, hedges).
    Centred per fragment; zeros when the exemplars hold a single code."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    out = np.zeros((len(test.texts), len(train.codes)), dtype=np.float64)
    if len(np.unique(train.labels)) < 2:
        return out
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    model = _logistic(vectorizer.fit_transform(train.texts), train.labels, len(train.codes), c=10.0, balanced=False)
    out = np.log(np.maximum(_probabilities(model, vectorizer.transform(test.texts), len(train.codes)), 1e-4))
    return out - out.mean(axis=1, keepdims=True)


def centroid_ctx(train: TrainingSet, test: Test) -> Prediction:
    """Centroid-def scores (definition weight 0.5, centroids of the exemplars as given) plus the
    context terms of :func:`context_scores`, counterexample penalty, threshold/margin decision."""
    scores = prototype_scores(train, test.vectors) - _counterexample_penalty(train, test.vectors)
    return _thresholded(train, scores + context_scores(train, test))


def blend(train: TrainingSet, test: Test) -> Prediction:
    """``centroid-ctx`` plus ``BLEND_CHARACTER_WEIGHT`` times the character n-gram classifier's
    centred log-probabilities (:func:`character_log_probabilities`); scores stay cosine-like, so
    it decides with the threshold and margin."""
    scores = prototype_scores(train, test.vectors) - _counterexample_penalty(train, test.vectors)
    scores = scores + context_scores(train, test) + BLEND_CHARACTER_WEIGHT * character_log_probabilities(train, test)
    return _thresholded(train, scores)


# -- classifiers -------------------------------------------------------------------------------

def _logistic(x: np.ndarray, y: np.ndarray, k: int, c: float, balanced: bool,
              weights: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None)
    model.fit(x, y, sample_weight=weights)
    return model


def _probabilities(model, x: np.ndarray, k: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.zeros((x.shape[0], k), dtype=np.float32)
    out[:, model.classes_] = model.predict_proba(x)
    return out


def _single_class(train: TrainingSet, test: Test) -> Prediction | None:
    present = np.unique(train.labels)
    if len(present) >= 2:
        return None
    scores = np.zeros((len(test.texts), len(train.codes)), dtype=np.float32)
    if len(present):
        scores[:, present[0]] = 1.0
    return _forced(train, scores)


def tfidf_lr(train: TrainingSet, test: Test) -> Prediction:
    """TF-IDF of words and bigrams + logistic regression, trained on the exemplar texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if (single := _single_class(train, test)) is not None:
        return single
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x = vectorizer.fit_transform(train.texts)
    model = _logistic(x, train.labels, len(train.codes), c=1.0, balanced=False)
    return _forced(train, _probabilities(model, vectorizer.transform(test.texts), len(train.codes)))


def lr_emb(train: TrainingSet, test: Test) -> Prediction:
    """Logistic regression (scikit-learn defaults) on the exemplars' embeddings."""
    if (single := _single_class(train, test)) is not None:
        return single
    model = _logistic(train.vectors, train.labels, len(train.codes), c=1.0, balanced=False)
    return _forced(train, _probabilities(model, test.vectors, len(train.codes)))


HEAD_C = 10.0


def _head_data(train: TrainingSet, with_context: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exemplars plus each definition as one more (weighted) example of its code."""
    has_def = np.linalg.norm(train.definitions, axis=1) > 0
    x, y = train.vectors, train.labels
    defs = train.definitions[has_def]
    x = np.vstack([x, defs]) if len(defs) else x
    y = np.concatenate([y, np.flatnonzero(has_def)]) if len(defs) else y
    w = np.ones(len(y), dtype=np.float64)
    if with_context:
        ctx = np.vstack([train.contexts, np.zeros_like(defs)]) if len(defs) else train.contexts
        x = np.hstack([x, ctx])
    return x, y, w


def head(train: TrainingSet, test: Test) -> Prediction:
    """A classifier head on the embeddings: class-balanced logistic regression (C=10) trained on
    the exemplars and the definitions."""
    x, y, w = _head_data(train, with_context=False)
    if len(np.unique(y)) < 2:
        return _single_class(replace(train, labels=y), test)  # type: ignore[return-value]
    model = _logistic(x, y, len(train.codes), c=HEAD_C, balanced=True, weights=w)
    return _forced(train, _probabilities(model, test.vectors, len(train.codes)))


def head_ctx(train: TrainingSet, test: Test) -> Prediction:
    """The classifier head on [fragment, text before it]: the question a reply answers."""
    x, y, w = _head_data(train, with_context=True)
    if len(np.unique(y)) < 2:
        return _single_class(replace(train, labels=y), test)  # type: ignore[return-value]
    model = _logistic(x, y, len(train.codes), c=HEAD_C, balanced=True, weights=w)
    return _forced(train, _probabilities(model, np.hstack([test.vectors, test.contexts]), len(train.codes)))


def head_gate(train: TrainingSet, test: Test) -> Prediction:
    """The classifier head's ranking, with the default matcher's uncoded decision: a fragment no
    code reaches the threshold for stays uncoded; otherwise the head's best code is assigned."""
    ranked = head(train, test)
    gate = topk(train, test)
    assigned = tuple(() if s == "uncoded" else a for s, a in zip(gate.status, ranked.assigned))
    status = tuple("uncoded" if s == "uncoded" else "coded" for s in gate.status)
    return Prediction(ranked.scores, assigned, status)


# -- the learner's methods ---------------------------------------------------------------------

def _class_scores(model, x: Any, k: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.zeros((x.shape[0], k), dtype=np.float32)
    out[:, model.classes_] = model.predict_proba(x)
    return out


def _learner_head(x_train: Any, y: np.ndarray, x_test: Any, k: int) -> np.ndarray:
    """The learner's head (:func:`nlp_coder.learn.choose._head`): class-balanced logistic
    regression, C = 10; its probabilities per code."""
    from sklearn.linear_model import LogisticRegression

    from nlp_coder.learn.choose import HEAD_C as LEARNER_C

    present = np.unique(y)
    if len(present) < 2:
        out = np.zeros((x_test.shape[0], k), dtype=np.float32)
        if len(present):
            out[:, present[0]] = 1.0
        return out
    model = LogisticRegression(C=LEARNER_C, class_weight="balanced", max_iter=2000).fit(x_train, y)
    return _class_scores(model, x_test, k)


def frozen_lr_chars(train: TrainingSet, test: Test) -> Prediction:
    """The learner's ``frozen-lr-chars``: logistic regression on the frozen embedding joined with
    character 2-5-grams (TF-IDF, ``char_wb``) of the exemplars."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    x_train = hstack([csr_matrix(train.vectors), chars.fit_transform(train.texts)]).tocsr()
    x_test = hstack([csr_matrix(test.vectors), chars.transform(test.texts)]).tocsr()
    return _forced(train, _learner_head(x_train, train.labels, x_test, len(train.codes)))


def _settings(train: TrainingSet) -> Any:
    from nlp_coder.learn.finetune import DEFAULT_SETTINGS

    return train.finetune or DEFAULT_SETTINGS


def _negatives(train: TrainingSet) -> list[str]:
    return list(dict.fromkeys(t for c in train.codes for t in train.codebook.code(c).counterexamples))


def tuned_model(train: TrainingSet) -> Any:
    """The model fine-tuned on the training exemplars (and the codebook's counterexamples), once
    per training set; the tuning's record is kept in ``train.cache['tuning']``.

    Raises:
        InputError: ``E202`` when the training set has no model to fine-tune.
    """
    if "tuned" in train.cache:
        return train.cache["tuned"]
    if train.trainable is None:
        from nlp_coder.errors import InputError

        raise InputError("the method 'fine-tuned' needs a model to fine-tune", "--method",
                         "Use a sentence-transformers model (--model), or another method", code="E202")
    from nlp_coder.learn.finetune import finetune

    tuned, run = finetune(train.trainable(), list(train.texts), train.labels, negatives=_negatives(train),
                          settings=_settings(train), seed=train.seed)
    train.cache["tuned"], train.cache["tuning"] = tuned, run
    return tuned


def fine_tuned(train: TrainingSet, test: Test) -> Prediction:
    """The learner's ``fine-tuned``: the embedding model tuned on the training exemplars
    (:func:`nlp_coder.learn.finetune.finetune`, supervised contrastive), then the logistic
    regression head on its vectors of the exemplars. Only the training exemplars are ever
    tuned or fitted on; the test fragments are only encoded."""
    from nlp_coder.learn.finetune import encode

    model = tuned_model(train)
    vectors = encode(model, [*train.texts, *test.texts], seed=train.seed, threads=_settings(train).threads)
    n = len(train.texts)
    return _forced(train, _learner_head(vectors[:n], train.labels, vectors[n:], len(train.codes)))


def _kappa_said(method: Any, frozen: Any) -> str:
    """A method's cross-validated kappa, with its gain over the frozen default and the gain's
    standard error when it has them (``fine-tuned 0.37 (+0.07 ± 0.08)``)."""
    from nlp_coder.learn.choose import gain_text

    if method.kappa is None:
        return f"{method.method} -"
    gain = gain_text(method, frozen)
    return f"{method.method} {method.kappa:.2f}" + (f" ({gain})" if gain else "")


def learned(train: TrainingSet, test: Test) -> Prediction:
    """What ``suggest --learn`` does: the learned model of
    :func:`nlp_coder.learn.artefact.learn_model` on the passages
    :func:`nlp_coder.learn.data.labelled_set` takes from the training codebook (its exemplars
    found in the training documents, as ``suggest`` finds them in its corpus): the method chosen
    by grouped cross-validation, fitted on every training exemplar, and its matcher, which scores
    the learned codes with the chosen method and decides with the calibrated per-code thresholds
    and margin. With too few labels it keeps the frozen default (``suggest``'s own scoring and
    decisions); without a model to fine-tune it chooses between the frozen methods."""
    from nlp_coder.learn.artefact import learn_model
    from nlp_coder.learn.choose import FROZEN
    from nlp_coder.learn.data import labelled_set

    labelled = labelled_set(train.codebook, corpus=train.documents)
    model, said = learn_model(labelled, train.codebook, train.settings, train.encode, base_model="evaluate",
                              base_weights_sha256="", trainable=train.trainable, folder=None,
                              settings=_settings(train), seed=train.seed, ensemble=train.ensemble)
    if model is None:
        train.cache["choice"] = FROZEN
        chosen = METHODS[SUGGEST_METHODS[train.settings.method]](train, test)  # suggest's own decisions
        return replace(chosen, notes=(f"seed {train.seed}: the learner chose {FROZEN} ({'; '.join(said)})",))
    train.cache["choice"] = model.method
    encode = train.encode
    vectors = test.vectors
    if model.encoder is not None:
        encoder = model.encoder

        def encode(texts: Sequence[str]) -> np.ndarray:
            return encoder.encode(list(texts))

        vectors = encode(test.texts)
    matcher = model.matcher(train.codebook, train.settings).fit(model.codebook(train.codebook), encode)
    fragments = [Fragment(id=str(i), document="", speaker=None, turn=i, start=0, end=len(t), text=t)
                 for i, t in enumerate(test.texts)]
    scored = matcher.score(vectors, list(test.texts))
    results = matcher.predict(vectors, fragments, scored)
    columns = [matcher.codes_.index(c) for c in train.codes]
    report = model.report
    located, exemplars = report.exemplars_located
    where = (f"{located} of {exemplars} exemplars found in one training document" if train.documents
             else "the exemplars come from no known document")
    evidence = (where + (f", a learned method must win by {report.min_gain:g}" if report.min_gain else "")
                + f"; cross-validated kappa over {len(report.folds)} folds: "
                + ", ".join(_kappa_said(m, report.method(FROZEN)) for m in report.methods)
                + f"; {sum(c.status == 'calibrated' for c in model.calibration.codes)} of "
                f"{len(model.calibration.codes)} codes calibrated")
    return Prediction(scored.score[:, columns].astype(np.float32), tuple(r.decision.codes for r in results),
                      tuple(r.decision.status for r in results),
                      notes=(f"seed {train.seed}: the learner chose {model.method} ({evidence})",))


METHODS: dict[str, Method] = {
    "topk": topk,
    "definitions": definitions,
    "centroid": centroid,
    "centroid-def": centroid_def,
    "centroid-def-loo": centroid_def_loo,
    "knn": knn,
    "tfidf-lr": tfidf_lr,
    "lr-emb": lr_emb,
    "head": head,
    "head-ctx": head_ctx,
    "head-gate": head_gate,
    "centroid-ctx": centroid_ctx,
    "blend": blend,
    "frozen-lr-chars": frozen_lr_chars,
    "fine-tuned": fine_tuned,
    "learned": learned,
}
"""Every method by name; :data:`SUGGEST_METHODS` names those ``nlp-coder suggest`` can use."""

SUGGEST_METHODS = {"topk": "topk", "centroid": "centroid-def"}
"""``suggest --method`` -> the method here that scores and decides exactly as it does."""

DEFAULT = SUGGEST_METHODS[DEFAULT_METHOD]
"""What ``nlp-coder suggest`` does by default with the default model."""

SCORING_OF = {"topk": "topk", "definitions": "topk", "head-gate": "topk", "centroid-def": "centroid",
              "centroid-def-loo": "centroid"}
"""The ``suggest --method`` whose settings (threshold, definition weight) each matcher-based
method decides with; the other methods use the headline's."""

BASELINES = ("tfidf-lr", "definitions", "centroid", "lr-emb")
"""The reference columns every method is compared with."""

LEARNER_METHODS = ("learned", "fine-tuned", "frozen-lr-chars")
"""The learner's methods: ``learned`` is what ``suggest`` does when it learns the codebook, the
others are its candidates (the third, the frozen default, is the headline of ``suggest``)."""

FROZEN_METHODS = tuple(m for m in METHODS if m not in LEARNER_METHODS)
"""The methods that use the frozen embedding alone (``--method all``)."""
