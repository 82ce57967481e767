"""The Python API: what the command line does, for notebooks and scripts (``docs/api.md``).

Every function takes paths or objects already in memory (a list of strings, a loaded codebook,
vectors you computed), needs no project store (without ``store=`` it works in memory and keeps
nothing), and raises only :class:`~nlp_coder.errors.NlpCoderError` for bad input. Heavy
libraries are imported when a function first needs them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nlp_coder.errors import InputError
from nlp_coder.readers import CorpusReading
from nlp_coder.records import Codebook, Document, Span, Turn

if TYPE_CHECKING:
    from nlp_coder.analyses.discover import Discovery
    from nlp_coder.analyses.evaluate import EvaluationReport
    from nlp_coder.analyses.sensitivity import Sensitivity
    from nlp_coder.embed.protocol import Embedder
    from nlp_coder.readers.gold import GoldFragment
    from nlp_coder.run import SuggestResult
    from nlp_coder.segment import SegmentOptions
    from nlp_coder.store import Store

TEXTS_DOCUMENT = "texts"
"""The document id of fragments given as a list of strings (their ids are ``1``, ``2``, ...)."""


def load_codebook(source: str | os.PathLike[str] | Codebook) -> Codebook:
    """A codebook from a YAML file or a REFI-QDA ``.qdc`` (a loaded one is returned as it is).

    Raises:
        InputError: ``E101`` missing file, ``E110`` invalid codebook.
    """
    if isinstance(source, Codebook):
        return source
    from nlp_coder.codebook import load_codebook as load

    return load(_path(source, "codebook", "Give the path of a YAML codebook or a .qdc, or a loaded Codebook"))


def read_corpus(source: str | os.PathLike[str] | Sequence[str] | CorpusReading, *,
                metadata: str | os.PathLike[str] | None = None) -> CorpusReading:
    """The documents of a corpus, with the warnings met while reading them.

    Args:
        source: the path of a transcript, a folder of transcripts or a fragment table
            (``docs/transcripts.md``); or a list of strings, each one fragment to code as it is
            (one document, ``texts``, whose fragments have the ids ``1``, ``2``, ...; blank
            strings are skipped with a warning); or a corpus already read.
        metadata: a CSV of per-document attributes (default: ``metadata.csv`` in the folder).

    Raises:
        InputError: ``E101`` a path that does not exist (a single string is always a path),
            ``E102``-``E106`` a file that cannot be read, ``E130`` a list holding a non-string.
    """
    if isinstance(source, CorpusReading):
        return source
    if isinstance(source, (str, os.PathLike)):
        from nlp_coder.run import read_corpus as read

        fix = "Give a file or folder path, or a list of fragment texts"
        return read(_path(source, "corpus", fix), _path(metadata, "metadata", "Give a CSV path") if metadata else None)
    if isinstance(source, Mapping) or not isinstance(source, Sequence):
        raise InputError(f"a corpus must be a path or a list of strings, not {type(source).__name__}", "corpus",
                         "Give a file or folder path, or a list of fragment texts", code="E130")
    return _texts_corpus(source)


def _texts_corpus(texts: Sequence[str]) -> CorpusReading:
    from nlp_coder.readers.decoding import normalise_newlines

    kept: list[tuple[int, str]] = []
    warnings: list[str] = []
    for number, text in enumerate(texts, start=1):
        if not isinstance(text, str):
            raise InputError(f"item {number} is a {type(text).__name__}, not a string", "corpus",
                             "Give a list of fragment texts", code="E130")
        cleaned = normalise_newlines(text).strip()
        if cleaned:
            kept.append((number, cleaned))
        else:
            warnings.append(f"corpus: text {number} is blank; skipped")
    if not kept:
        raise InputError("the list holds no text to code", "corpus", "Give at least one non-blank string",
                         code="E106")
    turns, pieces, offset = [], [], 0
    for index, (number, text) in enumerate(kept):
        start = offset + (1 if pieces else 0)
        pieces.append(text)
        offset = start + len(text)
        turns.append(Turn(index=index, speaker=None, spans=(Span(start, offset),), fragment_id=str(number)))
    document = Document(id=TEXTS_DOCUMENT, text="\n".join(pieces), source="<texts>", format="texts",
                        turns=tuple(turns), presegmented=True)
    return CorpusReading(documents=(document,), warnings=tuple(warnings))


def load_embedder(name: str = "default", *, device: str = "auto") -> Embedder:
    """A registered embedding model (``nlp-coder models`` lists them), from its installed package.

    Raises:
        InputError: ``E130`` an unknown name.
        ModelNotInstalledError: ``E200`` its package is not installed (the message names it).
    """
    from nlp_coder.embed import load_embedder as load

    return load(name, device=device)


def suggest(corpus: str | os.PathLike[str] | Sequence[str] | CorpusReading,
            codebook: str | os.PathLike[str] | Codebook, *, model: str = "default", method: str | None = None,
            threshold: float | None = None, margin: float | None = None, top_k: int = 3, suggestions: int = 3,
            store: str | os.PathLike[str] | Store | None = None, embeddings: object = None,
            embedder: Embedder | None = None, segment: SegmentOptions | None = None,
            metadata: str | os.PathLike[str] | None = None, progress: bool = False) -> SuggestResult:
    """Suggest codes for every fragment of ``corpus`` (what ``nlp-coder suggest`` does).

    Args:
        corpus: see :func:`read_corpus` (paths, a list of fragment texts, or a corpus read).
        codebook: see :func:`load_codebook`.
        model: the registered model (its defaults take part in the settings).
        method, threshold, margin, top_k, suggestions: as the options of ``suggest``; ``None``
            values come from the codebook, else the model (:func:`nlp_coder.match.settings.resolve_settings`).
        store: a project store's path (or an open one) to cache vectors and record the run in;
            ``None`` (the default) works in memory and keeps nothing.
        embeddings: vectors you already have for the fragments, one row per fragment in corpus
            order (for a list of strings: one row per string), by the same ``model``; the model
            then embeds only the codebook's texts. A mapping from fragment text to vector works too.
        embedder: an embedder to use instead of loading ``model`` (e.g. the test embedder).
        segment: how transcripts are cut into fragments (:class:`~nlp_coder.segment.SegmentOptions`).
        metadata: a CSV of per-document attributes.
        progress: show a progress bar (on a terminal).

    Returns:
        A :class:`~nlp_coder.run.SuggestResult`: ``records()``, ``to_frame()``, the manifest.
    """
    from nlp_coder.run import SuggestOptions
    from nlp_coder.run import suggest as run

    reading = read_corpus(corpus, metadata=metadata)
    book = load_codebook(codebook)
    options = SuggestOptions(model=model, method=method, threshold=threshold, margin=margin, top_k=top_k,
                             suggestions=suggestions)
    if embeddings is not None:
        embedder = _given_vectors(reading, corpus, embeddings, embedder or load_embedder(model), segment)
    return run(reading, book, _store(store), segment_options=segment, options=options, embedder=embedder,
               progress=progress)


def evaluate(gold: str | os.PathLike[str] | Sequence[GoldFragment], codebook: str | os.PathLike[str] | Codebook,
             *, model: str = "default", methods: Sequence[str] = (), threshold: float | None = None,
             margin: float | None = None, exemplars_from_gold: int = 0, seed: int = 0, repeat: int = 1,
             group_by: str = "document", store: str | os.PathLike[str] | Store | None = None,
             embedder: Embedder | None = None) -> EvaluationReport:
    """How well suggestions agree with human coding (what ``nlp-coder evaluate`` does).

    Args:
        gold: a gold file (CSV or JSONL: ``id``, ``text``, ``codes``, ...) or
            :class:`~nlp_coder.readers.gold.GoldFragment` records.
        codebook: see :func:`load_codebook`.
        methods: scoring methods, the first the headline (default: what ``suggest`` does).
        exemplars_from_gold, seed, repeat, group_by: the few-shot protocol (``docs/evaluation.md``).
        store, embedder: as in :func:`suggest`.
    """
    from nlp_coder.analyses.evaluate import EvaluateOptions, evaluate_gold, evaluated_codes
    from nlp_coder.readers.gold import GoldFragment, read_gold
    from nlp_coder.run import open_store
    from nlp_coder.store import embed_cached

    if isinstance(gold, (str, os.PathLike)):
        records = read_gold(_path(gold, "gold", "Give a CSV or JSONL file of coded fragments"))
    elif isinstance(gold, Sequence) and not isinstance(gold, (bytes, bytearray)) \
            and all(isinstance(g, GoldFragment) for g in gold) and gold:
        records = tuple(gold)
    else:
        raise InputError("gold must be a file path or a non-empty list of GoldFragment records", "gold",
                         "Give the gold file's path, or GoldFragment(id, text, codes) records", code="E121")
    if isinstance(methods, str) or not all(isinstance(m, str) for m in methods):
        raise InputError("methods must be a list of method names", "methods", code="E130")
    book = load_codebook(codebook)
    evaluated_codes(book, records)  # unknown codes fail before a model is loaded
    options = EvaluateOptions(model=model, methods=tuple(methods), threshold=threshold, margin=margin,
                              exemplars_from_gold=exemplars_from_gold, seed=seed, repeat=repeat, group_by=group_by)
    embedder = embedder or load_embedder(model)
    with open_store(_store(store)) as opened:
        def encode(texts: Sequence[str]) -> np.ndarray:
            return embed_cached(opened, embedder, list(texts))[0]

        source = str(gold) if isinstance(gold, (str, os.PathLike)) else "<gold>"
        return evaluate_gold(records, book, encode, options, model_id=embedder.model_id, source=source)


def discover(corpus: str | os.PathLike[str] | Sequence[str] | CorpusReading,
             codebook: str | os.PathLike[str] | Codebook | None = None, *, model: str = "default",
             include: str | None = None, distance_threshold: float = 0.6, min_cluster_size: int = 4,
             store: str | os.PathLike[str] | Store | None = None, embedder: Embedder | None = None,
             segment: SegmentOptions | None = None) -> Discovery:
    """Candidate themes in what the codebook does not cover (what ``nlp-coder discover`` does).

    With a codebook the ``uncoded`` fragments are clustered (``include``: ``uncoded``, ``low``
    or ``all``); without one, every fragment (open coding).
    """
    from nlp_coder.analyses.discover import discover_themes
    from nlp_coder.run import SuggestOptions

    book = load_codebook(codebook) if codebook is not None else None
    return discover_themes(read_corpus(corpus), book, _store(store), segment_options=segment,
                           options=SuggestOptions(model=model), selection=include,
                           distance_threshold=distance_threshold, min_cluster_size=min_cluster_size,
                           embedder=embedder)


def sensitivity(corpus: str | os.PathLike[str] | Sequence[str] | CorpusReading,
                codebook: str | os.PathLike[str] | Codebook, *, model: str = "default", bootstrap: int = 20,
                seed: int = 0, compare_model: str | None = None, store: str | os.PathLike[str] | Store | None = None,
                embedder: Embedder | None = None, segment: SegmentOptions | None = None) -> Sensitivity:
    """How the suggestions move with the threshold, the margin and the exemplars, and which codes
    compete for the same fragments (what ``nlp-coder sensitivity`` does)."""
    from nlp_coder.analyses.sensitivity import boundary_sensitivity
    from nlp_coder.run import SuggestOptions

    report, _ = boundary_sensitivity(read_corpus(corpus), load_codebook(codebook), _store(store),
                                     segment_options=segment, options=SuggestOptions(model=model),
                                     bootstrap=bootstrap, seed=seed, compare_model=compare_model, embedder=embedder)
    return report


def _path(value: object, what: str, fix: str) -> Path:
    """``value`` as a path, or ``E130``/``E101`` for what cannot be one."""
    if not isinstance(value, (str, os.PathLike)):
        raise InputError(f"the {what} must be a path, not {type(value).__name__}", what, fix, code="E130")
    text = os.fspath(value)
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"the {what} path is empty", what, fix, code="E101")
    return Path(text)


def _store(store: str | os.PathLike[str] | Store | None) -> str | Path | Store | None:
    from nlp_coder.store import Store

    if store is None or isinstance(store, Store):
        return store
    return _path(store, "store", "Give a file path for the project store, an open Store, or None")


def _given_vectors(reading: CorpusReading, corpus: object, embeddings: object, base: Embedder,
                   segment: SegmentOptions | None) -> Embedder:
    """An embedder that answers with the vectors given for the fragments and asks ``base`` for
    anything else (the codebook's texts)."""
    if isinstance(embeddings, Mapping):
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                given = {str(t): np.asarray(v, dtype=np.float32) for t, v in embeddings.items()}
        except (TypeError, ValueError) as exc:
            raise InputError(f"embeddings must map texts to vectors of numbers ({exc})", "embeddings",
                             code="E130") from None
    else:
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # too large for float32: refused below
                matrix = np.asarray(embeddings, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InputError(f"embeddings must be numbers, one row per fragment ({exc})", "embeddings",
                             code="E130") from None
        if isinstance(corpus, (str, os.PathLike, CorpusReading)):
            from nlp_coder.run import read_and_segment

            texts = [f.text for f in read_and_segment(reading, segment).fragments]
        else:  # one row per string, blank ones included; a fragment's text is the string cleaned
            from nlp_coder.readers.decoding import normalise_newlines

            texts = [normalise_newlines(t).strip() for t in corpus]  # type: ignore[union-attr]
        if matrix.ndim != 2 or matrix.shape[0] != len(texts):
            raise InputError(f"embeddings have shape {matrix.shape}, but the corpus has {len(texts)} fragments",
                             "embeddings", "Give one row per fragment, in corpus order", code="E130")
        given = {text: row for text, row in zip(texts, matrix) if text}
    dims = {v.shape for v in given.values()}
    if dims != {(base.dimensions,)}:
        raise InputError(f"embeddings have {sorted(d[0] if d else 0 for d in dims)} dimensions; model "
                         f"{base.model_id} has {base.dimensions}", "embeddings",
                         "Give vectors from the same model as model=", code="E130")
    if not all(np.isfinite(v).all() for v in given.values()):
        raise InputError("embeddings hold NaN or infinite values", "embeddings", code="E130")
    return GivenVectors(base, given)


class GivenVectors:
    """An :class:`~nlp_coder.embed.Embedder` that returns vectors given for known texts and asks
    another embedder for the rest. Its model id and weights hash name the given vectors, so they
    are never cached as the model's own."""

    def __init__(self, base: Embedder, vectors: Mapping[str, np.ndarray]) -> None:
        self._base = base
        self._vectors = dict(vectors)
        digest = hashlib.sha256(base.weights_sha256.encode())
        for text in sorted(self._vectors):
            digest.update(text.encode("utf-8"))
            digest.update(np.ascontiguousarray(self._vectors[text], dtype=np.float32).tobytes())
        self._weights = digest.hexdigest()

    @property
    def model_id(self) -> str:
        return f"{self._base.model_id}+given"

    @property
    def weights_sha256(self) -> str:
        return self._weights

    @property
    def dimensions(self) -> int:
        return self._base.dimensions

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from nlp_coder.embed import normalise

        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        missing = [i for i, t in enumerate(texts) if t not in self._vectors]
        for i, text in enumerate(texts):
            if text in self._vectors:
                out[i] = self._vectors[text]
        if missing:
            out[missing] = self._base.encode([texts[i] for i in missing])
        return normalise(out)
