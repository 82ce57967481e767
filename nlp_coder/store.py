"""The project store: one SQLite file (WAL mode) holding a project's documents, fragments,
embedding cache, codebook versions, runs and suggestions.

The schema changes only through the numbered migrations below (append, never edit). Vectors
are cached by ``(model, sha256 of text)``, separately from the fragment rows that point at
them, so a re-run embeds only text it has not seen and changed fragment metadata is still
stored. Each batch of vectors is committed on its own: an interrupted run loses no finished
batch.

The store holds the full text of every transcript, so a new one is private: its file is created
0600 and any folder made for it 0700, whatever the umask (SQLite gives its side files, ``-wal``,
``-shm`` and ``-journal``, the database file's mode). An existing file or folder keeps its mode.
Every failure to open or use the store is a :class:`~nlp_coder.errors.StoreError` (``E300``).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

import numpy as np

from nlp_coder.errors import StoreError
from nlp_coder.progress import text_progress
from nlp_coder.records import Codebook, Document, Fragment, RunManifest

if TYPE_CHECKING:
    from nlp_coder.embed.protocol import Embedder

DEFAULT_STORE = Path(".nlp-coder") / "store.db"
ENV_VAR = "NLP_CODER_DB"
PAGE_SIZE = 16384
BUSY_TIMEOUT = 5.0
"""Seconds to wait for another process's write to end before a locked store is an error."""

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        format TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        text TEXT NOT NULL,
        attributes TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE fragments (
        id TEXT NOT NULL,
        document TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        unit TEXT NOT NULL,
        position INTEGER NOT NULL,
        speaker TEXT,
        turn INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        text_sha256 TEXT NOT NULL,
        timestamp TEXT,
        attributes TEXT NOT NULL,
        PRIMARY KEY (document, unit, id)
    );
    CREATE TABLE embeddings (
        model TEXT NOT NULL,
        text_sha256 TEXT NOT NULL,
        dimensions INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model, text_sha256)
    );
    CREATE TABLE codebooks (
        sha256 TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        added_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,
        manifest TEXT NOT NULL
    );
    CREATE TABLE suggestions (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        document TEXT NOT NULL,
        fragment_id TEXT NOT NULL,
        status TEXT NOT NULL,
        codes TEXT NOT NULL,
        result TEXT NOT NULL,
        PRIMARY KEY (run_id, document, fragment_id)
    );
    """,
    # 2: segmentation cache: the fragments cut from a document, keyed by everything they depend on
    """
    CREATE TABLE segmentations (
        key TEXT PRIMARY KEY,
        pipeline TEXT NOT NULL,
        fragments BLOB NOT NULL
    );
    """,
    # 3: review decisions: a reviewer's codings of fragments (human codings, kept apart from suggestions)
    """
    CREATE TABLE review_decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        codebook_sha256 TEXT NOT NULL,
        document TEXT NOT NULL,
        fragment_id TEXT NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        reviewer TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        action TEXT NOT NULL,
        codes TEXT NOT NULL,
        suggested TEXT NOT NULL,
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        drawn TEXT NOT NULL,
        undone_at TEXT
    );
    CREATE INDEX review_decisions_by_codebook ON review_decisions (codebook_sha256, reviewer, document, fragment_id);
    """,
)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def resolve_store_path(path: str | Path | None) -> Path:
    """The store to use: ``path`` if given, else ``$NLP_CODER_DB``, else ``.nlp-coder/store.db``."""
    if path:
        return Path(path)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else DEFAULT_STORE


def make_private_folders(folder: str | Path) -> None:
    """Create ``folder`` and its missing parents, each owner-only (0700, whatever the umask).
    Folders that exist already are left as they are.

    Raises:
        OSError: a folder cannot be created (a parent is a file, or is not writable).
    """
    missing: list[Path] = []
    current = Path(folder)
    while not current.is_dir() and current != current.parent:
        missing.append(current)
        current = current.parent
    for made in reversed(missing):
        try:
            os.mkdir(made, 0o700)
        except FileExistsError:
            if made.is_dir():  # made meanwhile by another process: not ours to change
                continue
            raise
        os.chmod(made, 0o700)  # mkdir's mode is cut by the umask


def _create_private(path: Path) -> None:
    """Create ``path`` as an empty owner-only (0600) file unless something is there already."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)  # the mode given to open is cut by the umask
    finally:
        os.close(fd)


def _store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    """A SQLite error as a one-line :class:`StoreError` with the fix that fits it."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    where = str(path)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreError(f"the project store is in use by another command ({exc})", where,
                          "Wait until it ends, or give another store with -d/--db")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return StoreError(f"cannot open the project store: not a SQLite database, or damaged ({exc})", where,
                          "Give another file with -d/--db, or move this one away (a new store is made; its "
                          "cached vectors and run history are lost)")
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")):
        return StoreError(f"cannot write the project store ({exc})", where,
                          "Free disk space, or give a store on another disk with -d/--db")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return StoreError(f"cannot open the project store for writing ({exc})", where,
                          "Make the file and its folder writable for you, or give another store with -d/--db")
    return StoreError(f"cannot use the project store ({exc})", where, "Give another store with -d/--db")


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _store_errors(method: Callable[Concatenate[Store, _P], _R]) -> Callable[Concatenate[Store, _P], _R]:
    """Turn SQLite errors of a :class:`Store` method into :class:`StoreError`."""
    @wraps(method)
    def guarded(store: Store, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(store, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _store_error(exc, store.path) from exc
    return guarded


MEMORY = ":memory:"
"""The path of a store kept in memory only (:meth:`Store.in_memory`): nothing is written to disk."""

_KEEP_TEXT: contextvars.ContextVar[bool] = contextvars.ContextVar("nlp_coder_store_text", default=True)


@contextlib.contextmanager
def without_text(keep: bool = False):  # type: ignore[no-untyped-def]
    """Within the block, stores opened without ``keep_text`` keep no transcript text
    (``--no-store-text``): see :class:`Store`. ``keep=True`` makes the block an ordinary one."""
    token = _KEEP_TEXT.set(keep)
    try:
        yield
    finally:
        _KEEP_TEXT.reset(token)


def set_keep_text(keep: bool) -> Callable[[], None]:
    """Whether stores opened from now on in this context keep the transcripts' text (the
    command line's ``--no-store-text``; :func:`without_text` is the scoped form). Returns the
    function that restores the previous choice."""
    token = _KEEP_TEXT.set(keep)
    return lambda: _KEEP_TEXT.reset(token)


class Store:
    """A project store opened on a SQLite file (created owner-only, with its folder, when missing).

    Raises:
        StoreError: the store cannot be created, opened or used (``E300``): the path is a folder
            or not a SQLite database, the database is damaged, locked or read-only, the disk is
            full, or it was made by a newer nlp_coder.
    """

    def __init__(self, path: str | Path, *, threads: bool = False) -> None:
        self.path = Path(path)
        self.keep_text = _KEEP_TEXT.get()
        """Whether documents are stored with their text (False: hashes and offsets only, and
        suggestions without their fragment's text: ``--no-store-text``, :func:`without_text`)."""
        # threads: the connection may be used from other threads (the caller serialises the use).
        if str(path) == MEMORY:  # nothing on disk: the database lives and dies with this object
            self._db = sqlite3.connect(MEMORY, isolation_level=None, check_same_thread=not threads)
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            return
        if self.path.is_dir():
            raise StoreError("the project store path is a folder", str(self.path),
                             "Give a file path with -d/--db, e.g. project.db")
        try:
            make_private_folders(self.path.parent)
            _create_private(self.path)
        except OSError as exc:
            raise StoreError(f"cannot create the project store ({exc.strerror or exc})", str(self.path),
                             "Give a location you can write to with -d/--db") from exc
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT,
                                       check_same_thread=not threads)
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from exc
        try:
            # Takes effect only in a new file. A run's rows are large (a result line is 2-3 KB, a
            # vector 1.5 KB): with 16 KiB pages a result row is inserted in about a quarter of
            # the time it takes with SQLite's default 4 KiB, and takes less room.
            self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except BaseException as exc:
            self._db.close()
            if isinstance(exc, sqlite3.Error):
                raise _store_error(exc, self.path) from exc
            raise

    @classmethod
    def in_memory(cls) -> Store:
        """A store that keeps everything in memory and nothing on disk (the Python API's default)."""
        return cls(MEMORY)

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(f"the project store has schema version {version}, newer than this nlp_coder "
                             f"knows ({len(MIGRATIONS)})", str(self.path), "Upgrade nlp_coder")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self._db.execute("BEGIN")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @property
    @_store_errors
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- documents and fragments -----------------------------------------------------------------
    @_store_errors
    def save_fragments(self, documents: Sequence[Document], fragments: Sequence[Fragment], unit: str, *,
                       hashes: Sequence[str] | None = None) -> None:
        """Store documents and their fragments for ``unit``, replacing earlier versions, at once.

        A document stored as it is, with the same fragments, is left untouched (a re-run writes
        nothing for it). ``position`` is a fragment's place among its document's fragments.
        ``hashes`` may pass the fragments' :func:`text_sha256` when known. Without
        :attr:`keep_text` a document's text is stored empty (and an earlier stored text is
        overwritten with zeros on disk); its hash and its fragments' offsets are stored as always.
        """
        now = _now()
        if not self.keep_text:
            self._db.execute("PRAGMA secure_delete = ON")
        by_document: dict[str, list[tuple[object, ...]]] = {doc.id: [] for doc in documents}
        as_json: dict[tuple[tuple[str, str], ...], str] = {}  # a document's fragments mostly share attributes
        hashes = [text_sha256(f.text) for f in fragments] if hashes is None else hashes
        for f, sha in zip(fragments, hashes):
            rows = by_document[f.document]
            items = tuple(f.attributes.items())
            attributes = as_json.get(items) if items else "{}"
            if attributes is None:
                attributes = as_json[items] = json.dumps(f.attributes, sort_keys=True)
            rows.append((f.id, f.document, unit, len(rows), f.speaker, f.turn, f.start, f.end, sha, f.timestamp,
                         attributes))
        with self._transaction():
            stored = self._stored(documents, unit)
            for doc in documents:
                row = (doc.source, doc.format, text_sha256(doc.text), json.dumps(doc.attributes, sort_keys=True))
                text = doc.text if self.keep_text else ""
                if stored.get(doc.id) == (row, by_document[doc.id]):
                    # unchanged; its text may have been stored with the other --no-store-text choice
                    self._db.execute("UPDATE documents SET text = ? WHERE id = ? AND text != ?", (text, doc.id, text))
                    continue
                self._db.execute(
                    "INSERT INTO documents (id, source, format, sha256, text, attributes, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET source=excluded.source, "
                    "format=excluded.format, sha256=excluded.sha256, text=excluded.text, "
                    "attributes=excluded.attributes, updated_at=excluded.updated_at",
                    (doc.id, *row[:3], text, row[3], now),
                )
                self._db.execute("DELETE FROM fragments WHERE document = ? AND unit = ?", (doc.id, unit))
                self._db.executemany(
                    'INSERT INTO fragments (id, document, unit, position, speaker, turn, start, "end", '
                    "text_sha256, timestamp, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    by_document[doc.id],
                )

    def _stored(self, documents: Sequence[Document],
                unit: str) -> dict[str, tuple[tuple[object, ...], list[tuple[object, ...]]]]:
        """What the store holds for these documents and ``unit``: the document row (source,
        format, sha256, attributes) and its fragment rows, as :meth:`save_fragments` writes them."""
        out: dict[str, tuple[tuple[object, ...], list[tuple[object, ...]]]] = {}
        ids = [doc.id for doc in documents]
        for lo in range(0, len(ids), 500):
            chunk = ids[lo:lo + 500]
            marks = ",".join("?" * len(chunk))
            for doc_id, *row in self._db.execute(
                    f"SELECT id, source, format, sha256, attributes FROM documents WHERE id IN ({marks})", chunk):
                out[doc_id] = (tuple(row), [])
            for row in self._db.execute(
                    'SELECT id, document, unit, position, speaker, turn, start, "end", text_sha256, timestamp, '
                    f"attributes FROM fragments WHERE unit = ? AND document IN ({marks}) ORDER BY document, position",
                    [unit, *chunk]):
                out[row[1]][1].append(tuple(row))
        return out

    @_store_errors
    def count(self, table: str) -> int:
        if table not in {"documents", "fragments", "embeddings", "codebooks", "runs", "suggestions", "segmentations",
                         "review_decisions"}:
            raise ValueError(table)
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    # -- embedding cache -------------------------------------------------------------------------
    @_store_errors
    def cached_vectors(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Cached vectors of ``model`` for the given text hashes (missing ones are left out)."""
        found: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(hashes))
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT text_sha256, vector FROM embeddings WHERE model = ? AND text_sha256 IN ({marks})",
                [model, *chunk],
            )
            for sha, blob in rows:
                found[sha] = np.frombuffer(blob, dtype=np.float32)
        return found

    @_store_errors
    def save_vectors(self, model: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Add one batch of vectors to the cache, committed at once."""
        vectors = np.asarray(vectors, dtype=np.float32)
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, text_sha256, dimensions, vector) VALUES (?, ?, ?, ?)",
                [(model, sha, int(vec.shape[0]), vec.tobytes()) for sha, vec in zip(hashes, vectors)],
            )

    # -- segmentation cache ----------------------------------------------------------------------
    @_store_errors
    def cached_segmentation(self, key: str) -> tuple[str, bytes] | None:
        """``(pipeline, fragments)`` stored under ``key`` by :meth:`save_segmentation`, if any."""
        row = self._db.execute("SELECT pipeline, fragments FROM segmentations WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1]) if row else None

    @_store_errors
    def save_segmentation(self, items: Sequence[tuple[str, str, bytes]]) -> None:
        """Cache ``(key, pipeline, fragments)`` segmentations, committed at once."""
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO segmentations (key, pipeline, fragments) VALUES (?, ?, ?)",
                                 items)

    # -- codebooks, runs, suggestions ------------------------------------------------------------
    @_store_errors
    def save_codebook(self, codebook: Codebook) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO codebooks (sha256, name, source, added_at) VALUES (?, ?, ?, ?)",
                (codebook.sha256, codebook.name, codebook.source, _now()),
            )

    @_store_errors
    def start_run(self, command: str, manifest: RunManifest) -> int:
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (command, started_at, status, manifest) VALUES (?, ?, 'running', ?)",
                (command, _now(), manifest_json(manifest)),
            )
        return int(cursor.lastrowid or 0)

    @_store_errors
    def save_suggestions(self, run_id: int, rows: Iterable[tuple[str, str, str, tuple[str, ...] | list[str], str]]
                         ) -> None:
        """Add one batch of a running run's suggestions, committed at once: per fragment its
        document, id, main status, main codes and result (its JSONL line; without
        :attr:`keep_text`, with ``"text": null``)."""
        if not self.keep_text:
            rows = [(*row[:4], _without_text(row[4])) for row in rows]
        with self._transaction():
            self._db.executemany(
                "INSERT INTO suggestions (run_id, document, fragment_id, status, codes, result) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, document, fragment_id, status, ";".join(codes), payload)
                 for document, fragment_id, status, codes, payload in rows],
            )

    @_store_errors
    def finish_run(self, run_id: int, manifest: RunManifest | None = None) -> None:
        """Mark a run finished, with its final manifest when given (e.g. the fragment count of a
        run that streamed its corpus)."""
        with self._transaction():
            if manifest is not None:
                self._db.execute("UPDATE runs SET manifest = ? WHERE id = ?", (manifest_json(manifest), run_id))
            self._db.execute("UPDATE runs SET status = 'finished', finished_at = ? WHERE id = ?", (_now(), run_id))

    @_store_errors
    def fail_run(self, run_id: int, reason: str) -> None:
        """Mark a run that stopped before the end; the vectors it cached stay."""
        with self._transaction():
            self._db.execute("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?",
                             (f"failed: {reason}"[:500], _now(), run_id))

    @_store_errors
    def runs(self) -> list[tuple[int, str, str, str, dict[str, object]]]:
        """(id, command, started_at, status, manifest) of every run, oldest first."""
        return [
            (row[0], row[1], row[2], row[3], json.loads(row[4]))
            for row in self._db.execute("SELECT id, command, started_at, status, manifest FROM runs ORDER BY id")
        ]

    # -- review decisions (nlp_coder.review) ------------------------------------------------------
    @_store_errors
    def save_review_decision(self, decision: ReviewRow) -> int:
        """Record one review decision, committed at once; returns its id."""
        with self._transaction():
            cursor = self._db.execute(
                'INSERT INTO review_decisions (codebook_sha256, document, fragment_id, start, "end", reviewer, '
                "decided_at, action, codes, suggested, run_id, drawn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (decision.codebook_sha256, decision.document, decision.fragment_id, decision.start, decision.end,
                 decision.reviewer, decision.decided_at or _now(), decision.action, json.dumps(list(decision.codes)),
                 json.dumps(list(decision.suggested)), decision.run_id, decision.drawn))
        return int(cursor.lastrowid or 0)

    @_store_errors
    def undo_review_decision(self, decision_id: int) -> None:
        """Mark a review decision undone (it stays in the history, but no longer counts)."""
        with self._transaction():
            self._db.execute("UPDATE review_decisions SET undone_at = ? WHERE id = ? AND undone_at IS NULL",
                             (_now(), decision_id))

    @_store_errors
    def review_decisions(self, codebook_sha256: str, reviewer: str | None = None, *,
                         undone: bool = False) -> list[ReviewRow]:
        """The review decisions on a codebook (one reviewer's, or everyone's), oldest first;
        undone ones only when ``undone``."""
        sql = ('SELECT id, codebook_sha256, document, fragment_id, start, "end", reviewer, decided_at, action, codes, '
               "suggested, run_id, drawn, undone_at FROM review_decisions WHERE codebook_sha256 = ?")
        args: list[object] = [codebook_sha256]
        if reviewer is not None:
            sql += " AND reviewer = ?"
            args.append(reviewer)
        if not undone:
            sql += " AND undone_at IS NULL"
        return [ReviewRow(id=row[0], codebook_sha256=row[1], document=row[2], fragment_id=row[3], start=row[4],
                          end=row[5], reviewer=row[6], decided_at=row[7], action=row[8],
                          codes=tuple(json.loads(row[9])), suggested=tuple(json.loads(row[10])), run_id=row[11],
                          drawn=row[12], undone_at=row[13])
                for row in self._db.execute(sql + " ORDER BY id", args)]

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # -- housekeeping (nlp_coder.privacy.store: info, forget, vacuum, prune) ---------------------
    @property
    def connection(self) -> sqlite3.Connection:
        """The open SQLite connection (autocommit; use :meth:`transaction` around writes)."""
        return self._db

    def transaction(self) -> _Transaction:
        """A write transaction (``BEGIN IMMEDIATE``): committed when the block ends, rolled back on error."""
        return _Transaction(self._db)


@dataclass(frozen=True)
class ReviewRow:
    """One stored review decision: a reviewer's codes for a fragment (``action`` ``accept``,
    ``reject`` or ``recode``), the codes the machine suggested when it was decided, the suggest
    run those came from, and how the fragment was drawn (``active``, ``random``, ``batch``,
    ``chosen``)."""

    codebook_sha256: str
    document: str
    fragment_id: str
    start: int
    end: int
    reviewer: str
    action: str
    codes: tuple[str, ...]
    suggested: tuple[str, ...]
    run_id: int | None
    drawn: str
    decided_at: str = ""
    id: int = 0
    undone_at: str | None = None


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if not exc_type:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:  # SQLite may have rolled back already (a full disk)
            self._db.execute("ROLLBACK")


def _without_text(line: str) -> str:
    """A result line (JSONL) with its fragment's text left out (``"text": null``)."""
    import orjson

    record = orjson.loads(line)
    record["text"] = None
    return orjson.dumps(record).decode("utf-8")


def manifest_json(manifest: RunManifest) -> str:
    """A manifest as sorted, compact JSON."""
    data = {
        "tool_version": manifest.tool_version,
        "model": manifest.model,
        "model_weights_sha256": manifest.model_weights_sha256,
        "codebook": manifest.codebook,
        "codebook_sha256": manifest.codebook_sha256,
        "corpus_sha256": manifest.corpus_sha256,
        "parameters": dict(manifest.parameters),
        "documents": manifest.documents,
        "fragments": manifest.fragments,
        "reading": [dataclasses.asdict(f) for f in manifest.reading],
        "warnings": list(manifest.warnings),
    }
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


# -- the embedding cache ---------------------------------------------------------------------

def embed_cached(store: Store, embedder: Embedder, texts: Sequence[str], *, batch_size: int = 256,
                 progress: bool = False, on_batch: Callable[[int, int], None] | None = None,
                 hashes: Sequence[str] | None = None) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``, embedding only what the store has not cached for this model.

    Each batch is committed as soon as it is embedded, so an interrupted run keeps it.
    ``on_batch(done, missing)`` is called after each batch (texts embedded, of how many).
    ``hashes`` may pass the texts' :func:`~nlp_coder.store.text_sha256` when known.

    Returns:
        The vectors (one row per text) and how many distinct texts were newly embedded.
    """
    hashes = [text_sha256(t) for t in texts] if hashes is None else hashes
    key = cache_key(embedder.model_id, embedder.weights_sha256)
    found = store.cached_vectors(key, hashes)
    missing: dict[str, str] = {}
    for sha, text in zip(hashes, texts):
        if sha not in found and sha not in missing:
            missing[sha] = text
    if missing:
        # Batches of similar length need less padding: sort by length (then hash, for determinism).
        todo = sorted(missing.items(), key=lambda item: (len(item[1]), item[0]))
        bar = text_progress(len(todo), progress, f"embedding with {embedder.model_id}")
        for lo in range(0, len(todo), batch_size):
            batch = todo[lo:lo + batch_size]
            vectors = embedder.encode([t for _, t in batch])
            store.save_vectors(key, [s for s, _ in batch], vectors)
            found.update({s: v for (s, _), v in zip(batch, vectors)})
            if bar is not None:
                bar.update(len(batch))
            if on_batch is not None:
                on_batch(len(batch), len(todo))
        if bar is not None:
            bar.close()
    if not hashes:
        return np.zeros((0, embedder.dimensions), dtype=np.float32), 0
    return np.stack([found[s] for s in hashes]).astype(np.float32), len(missing)


def cache_key(model_id: str, weights_sha256: str) -> str:
    """The embedding cache's model key: the model's name and its weights, so that vectors of
    other weights published under the same name are never reused."""
    return f"{model_id}@{weights_sha256[:16]}"
