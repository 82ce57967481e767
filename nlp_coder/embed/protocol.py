"""What the pipeline needs from an embedding model (:class:`Embedder`), and the deterministic
:class:`HashingEmbedder` that tests use in place of a real model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """What the pipeline needs from an embedding model."""

    @property
    def model_id(self) -> str: ...

    @property
    def weights_sha256(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts``: shape ``(len(texts), dimensions)``, float32, unit length."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale rows to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """A deterministic, dependency-free embedder: hashed word unigrams and bigrams.

    Texts that share words get similar vectors, which is all the pipeline's tests need. It is
    not a semantic model and is never a default. It counts the texts it encodes, so tests can
    assert what the cache saved.
    """

    def __init__(self, dimensions: int = 256, model_id: str = "hash-test") -> None:
        self._dimensions = dimensions
        self._model_id = model_id
        self.calls = 0
        self.texts_encoded = 0

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def weights_sha256(self) -> str:
        return hashlib.sha256(f"{self._model_id}:{self._dimensions}".encode()).hexdigest()

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w.lower() for w in _WORD.findall(text)]
            features = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
            for feature in features:
                digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self._dimensions] += 1.0 if (value >> 32) & 1 else -1.0
        return normalise(out)
