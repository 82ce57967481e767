"""Learn from pilot coding (``suggest --train-from PROJECT|CSV``).

A researcher who has already coded part of the material hands that coding over, as a REFI-QDA
project (``.qdpx``) or a codings CSV (``document, start, end, code, coder``, with the documents
in the corpus being coded). From it:

1. the pilot documents are cut into fragments exactly as the corpus is; a fragment takes the
   codes whose human codings cover at least half of it, and a fragment no coding touches is an
   example of text no code fits;
2. the coded fragments become extra exemplars of their codes (so the nearest exemplar shown as
   a reason can be a passage the researcher coded);
3. a logistic-regression classifier per code is fitted on the fragment vectors (plus the
   codebook's own exemplars as positives), and its threshold is calibrated by stratified
   cross-validation on the pilot fragments: the probability cut that maximises F1 out of fold
   (never below 0.5; codes with fewer than 5 coded pilot fragments keep 0.5). The precision and
   recall out of fold at that threshold are reported as what to expect on new text.

With a trained group (the main codes, or a facet with pilot coding), a code's score is the
classifier's probability and its threshold the calibrated one; coded / overlap / uncoded are
decided as usual from these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from nlp_coder.errors import InputError
from nlp_coder.match.matcher import CodebookMatcher, Scores
from nlp_coder.records import Codebook, Document, Fragment, MatchSettings

MIN_POSITIVES = 5  # fewer pilot fragments than this: the code keeps the default cut, 0.5
# The classifiers weigh both classes equally, so 0.5 already leans towards recall; with the few
# positives of a pilot, the F1-best cut out of fold often falls far lower by chance and would code
# most text. Calibration may raise a code's threshold, never lower it below this.
FLOOR = 0.5
COVER = 0.5  # share of a fragment a coding must cover to label it


@dataclass(frozen=True)
class PilotPassage:
    """A human coding read from the pilot file."""

    document: str
    start: int
    end: int
    code: str
    coder: str


@dataclass(frozen=True)
class CodeCalibration:
    """What the pilot coding says about one code."""

    code: str
    fragments: int  # pilot fragments coded with it
    threshold: float
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class Training:
    """The outcome of training on pilot coding."""

    source: str
    sha256: str
    documents: int
    fragments: int
    uncoded: int
    calibrations: tuple[CodeCalibration, ...]
    groups: tuple[str | None, ...]


def read_pilot(path: str | Path, corpus: Sequence[Document]) -> tuple[tuple[Document, ...], tuple[PilotPassage, ...]]:
    """The pilot documents and the human codings in them.

    Args:
        path: a ``.qdpx`` project (its own sources) or a codings ``.csv`` (documents of ``corpus``).
        corpus: the documents being coded (for a CSV's ``document`` names).
    """
    from nlp_coder.refi import MACHINE_USER, read_codings_csv, read_qdpx

    path = Path(path)
    if not path.is_file():
        raise InputError("pilot coding not found", str(path), "Give a .qdpx project or a codings .csv", code="E101")
    suffix = path.suffix.casefold()
    if suffix == ".qdpx":
        project = read_qdpx(path)
        documents = project.documents
        codings = project.codings
    elif suffix == ".csv":
        by_id = {d.id: d for d in corpus}
        codings = read_codings_csv(path)
        missing = sorted({c.document for c in codings} - set(by_id))
        if missing:
            raise InputError(f"the pilot coding names documents that are not in the corpus: {', '.join(missing[:3])}",
                             str(path), "Use the document ids 'nlp-coder segment' shows", code="E120")
        documents = tuple(by_id[d] for d in dict.fromkeys(c.document for c in codings))
    else:
        raise InputError(f"cannot train from a {path.suffix or 'file without suffix'}", str(path),
                         "Give a .qdpx project or a codings .csv (document,start,end,code,coder)", code="E104")
    passages = tuple(PilotPassage(c.document, c.start, c.end, c.code, c.coder) for c in codings
                     if c.coder != MACHINE_USER)
    if not passages:
        raise InputError("the pilot coding holds no human codings", str(path), "Code some text first", code="E120")
    return tuple(documents), passages


def label_fragments(fragments: Sequence[Fragment], passages: Sequence[PilotPassage]) -> list[set[str]]:
    """The codes of each fragment: those whose codings cover at least half of it."""
    by_doc: dict[str, list[PilotPassage]] = {}
    for p in passages:
        by_doc.setdefault(p.document, []).append(p)
    labels = []
    for f in fragments:
        covered: dict[str, set[int]] = {}
        for p in by_doc.get(f.document, ()):
            lo, hi = max(f.start, p.start), min(f.end, p.end)
            if lo < hi:
                covered.setdefault(p.code, set()).update(range(lo, hi))
        size = max(f.end - f.start, 1)
        labels.append({code for code, chars in covered.items() if len(chars) / size >= COVER})
    return labels


def _touched(fragments: Sequence[Fragment], passages: Sequence[PilotPassage]) -> list[bool]:
    spans: dict[str, list[tuple[int, int]]] = {}
    for p in passages:
        spans.setdefault(p.document, []).append((p.start, p.end))
    return [any(max(f.start, a) < min(f.end, b) for a, b in spans.get(f.document, ())) for f in fragments]


def _calibrate(probabilities: np.ndarray, truth: np.ndarray, floor: float = FLOOR) -> tuple[float, float, float, float]:
    """The cut (at least ``floor``) maximising F1 (ties: the higher cut), with its precision,
    recall and F1 over all the fragments."""
    cuts = sorted(set(np.round(probabilities[probabilities >= floor], 4).tolist()) | {floor}, reverse=True)
    best: tuple[float, float, float, float] | None = None
    for cut in cuts:
        scores = _scores(probabilities >= cut, truth)
        if best is None or scores[2] > best[3] + 1e-12:
            best = (float(cut), *scores)
    assert best is not None
    return best


def _scores(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = float((predicted & truth).sum())
    precision = tp / float(predicted.sum()) if predicted.any() else 0.0
    recall = tp / float(truth.sum()) if truth.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


class TrainedMatcher(CodebookMatcher):
    """A matcher whose trained groups score codes by per-code classifiers (probabilities)."""

    def train(self, codebook: Codebook, encode: Callable[[Sequence[str]], np.ndarray], vectors: np.ndarray,
              labels: Sequence[set[str]], uncoded: Sequence[bool], *, seed: int = 0,
              c: float = 1.0) -> tuple[CodeCalibration, ...]:
        """Fit the codebook (with the pilot fragments as extra exemplars) and the classifiers.

        Args:
            codebook: the codebook.
            encode: texts to unit vectors (for the codebook's own texts).
            vectors: vectors of the pilot fragments.
            labels: the codes of each pilot fragment.
            uncoded: whether each pilot fragment is text no coding touches.
            c: the inverse regularisation strength of the classifiers (scikit-learn's ``C``).
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        self.fit(codebook, encode)
        keep = np.array([bool(lab) or u for lab, u in zip(labels, uncoded)])
        trained_groups = sorted({codebook.code(c).facet for lab in labels for c in lab},
                                key=lambda g: (g is not None, g or ""))
        self.heads_: dict[str, tuple[np.ndarray, float]] = {}
        self.trained_groups_ = tuple(trained_groups)
        thresholds: dict[str, float] = {}
        calibrations = []
        for code in codebook.codes:
            if not code.codable or code.facet not in trained_groups:
                continue
            own = np.array([code.id in lab for lab in labels]) & keep
            others = keep & ~own
            exemplars = encode(list(code.examples)) if code.examples else np.zeros((0, vectors.shape[1]), np.float32)
            x = np.vstack([vectors[keep], exemplars])
            y = np.concatenate([own[keep], np.ones(len(exemplars), dtype=bool)])
            if y.all() or not y.any():
                continue
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            model.fit(x, y)
            self.heads_[code.id] = (model.coef_[0].astype(np.float32), float(model.intercept_[0]))
            positives = int(own.sum())
            if positives >= MIN_POSITIVES and int(others.sum()) >= MIN_POSITIVES:
                folds = StratifiedKFold(n_splits=min(5, positives), shuffle=True, random_state=seed)
                oof = cross_val_predict(LogisticRegression(C=c, class_weight="balanced", max_iter=2000),
                                        vectors[keep], own[keep], cv=folds, method="predict_proba")[:, 1]
                cut, precision, recall, f1 = _calibrate(oof, own[keep])
                thresholds[code.id] = cut
                calibrations.append(CodeCalibration(code.id, positives, round(cut, 4), round(precision, 4),
                                                    round(recall, 4), round(f1, 4)))
            else:
                calibrations.append(CodeCalibration(code.id, positives, 0.5, None, None, None))
        self.calibrated_thresholds_ = thresholds
        return tuple(calibrations)

    def score(self, vectors: np.ndarray) -> Scores:
        scored = super().score(vectors)
        out = scored.score.copy()
        for j, cv in enumerate(self.code_vectors_):
            head = self.heads_.get(cv.code.id)
            if head is not None:
                out[:, j] = 1.0 / (1.0 + np.exp(-(vectors @ head[0] + head[1])))
            elif cv.code.codable and cv.code.facet in self.trained_groups_:
                out[:, j] = 0.0  # no classifier could be fitted: never suggested in a trained group
        self._roll_up(out)
        return replace(scored, score=out)

    def threshold_for(self, code):  # type: ignore[no-untyped-def, override]
        if code.facet in getattr(self, "trained_groups_", ()):
            if code.threshold is not None:
                return code.threshold
            return self.calibrated_thresholds_.get(code.id, 0.5)
        return super().threshold_for(code)


def with_pilot_exemplars(codebook: Codebook, fragments: Sequence[Fragment], labels: Sequence[set[str]]) -> Codebook:
    """The codebook with each coded pilot fragment added to its codes' exemplars."""
    extra: dict[str, list[str]] = {}
    for f, lab in zip(fragments, labels):
        for code in lab:
            extra.setdefault(code, []).append(" ".join(f.text.split()))
    return replace(codebook, codes=tuple(
        replace(c, examples=tuple(dict.fromkeys(c.examples + tuple(extra.get(c.id, ()))))) for c in codebook.codes))


def check_codes(codebook: Codebook, passages: Sequence[PilotPassage], source: str) -> None:
    known = {c.id for c in codebook.codes}
    unknown = sorted({p.code for p in passages} - known)
    if unknown:
        raise InputError(f"the pilot coding uses codes that are not in the codebook: {', '.join(unknown[:5])}",
                         source, "Use the codebook's code ids (see 'nlp-coder codebook show')", code="E120")


def train_matcher(path: str | Path, codebook: Codebook, settings: MatchSettings, corpus: Sequence[Document],
                  corpus_fragments: Sequence[Fragment], segment_options: object,
                  encode: Callable[[Sequence[str]], np.ndarray], *, seed: int = 0) -> tuple[TrainedMatcher, Training]:
    """Train a matcher on the pilot coding in ``path`` (see the module docstring).

    Args:
        path: the pilot ``.qdpx`` or codings ``.csv``.
        codebook: the codebook being applied.
        settings: the matching settings (margin, top-k, weights).
        corpus: the documents being coded; a pilot document with the same id and text is not
            segmented again.
        corpus_fragments: their fragments.
        segment_options: how the corpus was segmented (the pilot documents are cut the same way).
        encode: texts to unit vectors, through the project store's cache.
    """
    from nlp_coder.embed.models import file_sha256
    from nlp_coder.segment import segment

    documents, passages = read_pilot(path, corpus)
    check_codes(codebook, passages, str(path))
    known = {d.id: d.text for d in corpus}
    reuse = {d.id for d in documents if known.get(d.id) == d.text}
    fragments = [f for f in corpus_fragments if f.document in reuse]
    others = [d for d in documents if d.id not in reuse]
    if others:
        fragments.extend(segment(others, segment_options))  # type: ignore[arg-type]
    if not fragments:
        raise InputError("no fragments in the pilot documents", str(path), "Check the speaker options", code="E106")
    labels = label_fragments(fragments, passages)
    uncoded = [not t for t in _touched(fragments, passages)]
    if not any(labels):
        raise InputError("no pilot coding covers half a fragment", str(path),
                         "Check that the codings and the transcripts are the same text", code="E120")
    book = with_pilot_exemplars(codebook, fragments, labels)
    vectors = encode([f.text for f in fragments])
    matcher = TrainedMatcher.from_settings(settings)
    calibrations = matcher.train(book, encode, vectors, labels, uncoded, seed=seed)
    training = Training(
        source=str(path),
        sha256=file_sha256(Path(path)),
        documents=len(documents),
        fragments=len(fragments),
        uncoded=int(sum(uncoded)),
        calibrations=calibrations,
        groups=matcher.trained_groups_,
    )
    return matcher, training


def training_text(training: Training) -> str:
    """What the pilot coding says to expect, per code (printed by ``suggest``)."""
    lines = [f"trained on {training.fragments} fragment{'s' if training.fragments != 1 else ''} of "
             f"{training.documents} pilot document{'s' if training.documents != 1 else ''} "
             f"({training.uncoded} not coded); expected per code, from cross-validation:"]
    width = max((len(c.code) for c in training.calibrations), default=4)
    for c in training.calibrations:
        noun = "fragment: " if c.fragments == 1 else "fragments:"  # the same width: the columns stay aligned
        if c.precision is None:
            lines.append(f"  {c.code:<{width}}  {c.fragments:>4} {noun} too few to calibrate (threshold 0.5)")
        else:
            lines.append(f"  {c.code:<{width}}  {c.fragments:>4} {noun} threshold {c.threshold:.2f}, "
                         f"precision {c.precision:.2f}, recall {c.recall:.2f}, F1 {c.f1:.2f}")
    return "\n".join(lines)
