"""The Universal Sentence Encoder and the ensemble model kinds of the registry."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nlp_coder.embed import EnsembleEmbedder, HashingEmbedder, load_embedder, load_registry
from nlp_coder.errors import InputError

TEXTS = ["I want to cut down on my drinking.", "So you are ready to make a change.", "The bus was late again."]


def test_the_ensemble_cosine_is_the_weighted_mean_of_its_members() -> None:
    a, b = HashingEmbedder(64, "a"), HashingEmbedder(32, "b")
    spec = replace(load_registry().model("ensemble"), members=(("a", 0.25), ("b", 0.75)), dimensions=96)
    ensemble = EnsembleEmbedder(spec, [(a, 0.25), (b, 0.75)])
    vectors = ensemble.encode(TEXTS)
    assert vectors.shape == (3, 96) and ensemble.dimensions == 96
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    expected = 0.25 * (a.encode(TEXTS) @ a.encode(TEXTS).T) + 0.75 * (b.encode(TEXTS) @ b.encode(TEXTS).T)
    assert np.allclose(vectors @ vectors.T, expected, atol=1e-6)
    assert ensemble.encode([]).shape == (0, 96)
    other = EnsembleEmbedder(spec, [(a, 0.5), (b, 0.5)])
    assert other.weights_sha256 != ensemble.weights_sha256  # the weights are part of the cache key


def test_the_registered_ensemble_joins_minilm_and_the_universal_sentence_encoder() -> None:
    spec = load_registry().model("ensemble")
    assert dict(spec.members) == {"all-MiniLM-L6-v2": 0.5, "use-multilingual-v3": 0.5}
    ensemble = load_embedder("ensemble")
    members = [load_registry().model(name) for name, _ in spec.members]
    assert ensemble.dimensions == spec.dimensions == sum(m.dimensions for m in members)
    use = load_embedder("use")
    vectors = use.encode(TEXTS)
    assert vectors.shape == (3, 512) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(use.encode(TEXTS[:1]), vectors[:1], atol=1e-5)  # one text alone or in a batch
    assert use.weights_sha256 == load_registry().model("use").weights_sha256


def test_universal_sentence_encoder_weights_are_checked() -> None:
    spec = replace(load_registry().model("use"), weights_sha256="0" * 64)
    from nlp_coder import embed

    with pytest.raises(InputError, match="have SHA-256"):
        embed._checked_sha256(spec, embed.model_folder(spec))
