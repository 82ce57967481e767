"""The Universal Sentence Encoder and the ensemble model kinds of the registry."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nlp_coder.embed.models import EnsembleEmbedder, HashingEmbedder, load_embedder, load_registry
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
    from nlp_coder.embed import models as embed

    with pytest.raises(InputError, match="have SHA-256"):
        embed._checked_sha256(spec, embed.model_folder(spec))


# -- the default model on ONNX Runtime --------------------------------------------------------------

def _onnx_built() -> bool:
    from nlp_coder.embed import models as embed

    return embed.onnx_export(load_registry().model("default")) is not None


needs_onnx = pytest.mark.skipif(not _onnx_built(), reason="the ONNX export is not built (make onnx-model)")


def test_the_registry_names_an_onnx_export_of_the_default_weights() -> None:
    from nlp_coder.embed import models as embed

    spec = load_registry().model("default")
    assert spec.onnx_path and spec.onnx_sha256 and len(spec.onnx_sha256) == 64
    assert all(isinstance(s.weights_sha256, str) for s in load_registry().models if s.weights_sha256)
    export = replace(spec, onnx_path="not-built-here")
    assert embed.onnx_export(export) is None  # not built: CPU runs go through sentence-transformers


def test_without_the_export_the_default_runs_on_sentence_transformers(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path) -> None:
    from nlp_coder.embed import models as embed

    monkeypatch.setattr("nlp_coder.embed.registry.MODELS_DIR", tmp_path)  # nothing built here
    embedder = load_embedder("default", device="cpu")
    assert isinstance(embedder, embed.SentenceTransformerEmbedder) and embedder.runtime == "sentence-transformers"
    assert embedder.weights_sha256 == load_registry().model("default").weights_sha256


def test_auto_means_the_cpu_exactly_when_torch_sees_no_gpu() -> None:
    from nlp_coder.embed import models as embed

    assert embed._on_cpu("cpu") and not embed._on_cpu("cuda") and not embed._on_cpu("cuda:1")
    assert embed._on_cpu("auto") == (embed.resolve_device("auto") == "cpu")


@needs_onnx
def test_the_default_model_runs_on_onnx_runtime_without_torch() -> None:
    import subprocess
    import sys

    code = ("import sys; from nlp_coder.embed.models import load_embedder; e = load_embedder('default', device='cpu'); "
            "v = e.encode(['The bus was late again.', 'So you are ready to make a change.']); "
            "print(e.runtime, v.shape, round(float(v[0] @ v[0]), 4), 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["onnxruntime", "(2,", "384)", "1.0", "False"]


@pytest.mark.slow
@needs_onnx
def test_onnx_vectors_are_sentence_transformers_vectors() -> None:
    from nlp_coder.embed import models as embed

    spec = load_registry().model("default")
    onnx = load_embedder("default", device="cpu")
    torch_model = embed.SentenceTransformerEmbedder(spec, embed.model_folder(spec), spec.weights_sha256 or "",
                                                    device="cpu")
    long = " ".join(["I keep telling myself that tomorrow I will finally stop, and then I don't."] * 30)
    texts = [*TEXTS, "", "Okay.", "Ça va, merci — très bien.", long, "mm-hmm", "I-I don't know... maybe?"]
    assert isinstance(onnx, embed.OnnxEmbedder) and onnx.weights_sha256 == torch_model.weights_sha256
    vectors = onnx.encode(texts)
    reference = torch_model.encode(texts)
    assert vectors.shape == reference.shape == (len(texts), 384)
    assert np.abs(vectors - reference).max() < 1e-5  # float rounding: the same model, the same cache key
    assert np.abs(onnx.encode(texts[:1]) - vectors[:1]).max() < 1e-5  # alone or in a batch


@needs_onnx
def test_an_export_that_is_not_the_registered_one_is_refused_before_it_is_read(monkeypatch: pytest.MonkeyPatch,
                                                                                tmp_path) -> None:
    from nlp_coder.embed import models as embed

    spec = load_registry().model("default")
    built = embed._registry.MODELS_DIR / (spec.onnx_path or "")
    copy = tmp_path / (spec.onnx_path or "")
    copy.mkdir()
    for name in ("model.onnx", "tokenizer.json", "config.json"):
        (copy / name).symlink_to(built / name)
    monkeypatch.setattr("nlp_coder.embed.registry.MODELS_DIR", tmp_path)
    tampered = replace(spec, onnx_sha256="0" * 64)
    monkeypatch.setattr(embed, "load_registry", lambda: replace(load_registry(), models=(tampered,)))
    embedder = load_embedder("default", device="cpu")  # loading reads nothing
    with pytest.raises(InputError, match="have SHA-256 .*make onnx-model"):
        embedder.encode(["The bus was late."])
    # A config that does not describe the registered weights is refused too.
    monkeypatch.setattr(embed, "load_registry", lambda: replace(load_registry(), models=(spec,)))
    (copy / "config.json").unlink()
    for broken in ('{"pooling": "cls", "normalize": true, "max_seq_length": 256}', "{not json", "[]"):
        (copy / "config.json").write_text(broken)
        with pytest.raises(InputError, match="mean-pooled, normalised export"):
            load_embedder("default", device="cpu").encode(["The bus was late."])


@needs_onnx
def test_without_onnx_runtime_the_error_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from nlp_coder.errors import ModelNotInstalledError

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    with pytest.raises(ModelNotInstalledError, match="pip install onnxruntime"):
        load_embedder("default", device="cpu").encode(["The bus was late."])
