"""Looking after the project store: what it holds (:func:`store_info`), forgetting documents
(:func:`forget_documents`), reclaiming space (:func:`vacuum_store`) and pruning old runs'
results (:func:`prune_runs`): ``nlp-coder store info|forget|vacuum|prune``.

None of these creates a store: a path where there is none is an error (``E303``). Forgetting
deletes with SQLite's ``secure_delete`` on (the freed pages are overwritten with zeros) and
then folds the write-ahead log back into the file and empties it, so the document's text is gone
from the bytes of the store's files; :func:`vacuum_store` then rebuilds the file without its
free pages.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nlp_coder.errors import InputError, StoreError
from nlp_coder.store import Store, text_sha256

SIDE_FILES = ("-wal", "-shm", "-journal")
"""SQLite's side files beside the store (write-ahead log, its index, a rollback journal)."""

KNOWN_TABLES = frozenset({"documents", "fragments", "embeddings", "codebooks", "runs", "suggestions",
                          "segmentations"})
"""The tables of migrations 1 and 2; any other table with a ``document`` column (review decisions)
is handled by name of that column."""


@dataclass(frozen=True)
class StoreFile:
    """One file of the store on disk: its name, size in bytes and permission bits."""

    path: str
    size: int
    mode: int

    @property
    def private(self) -> bool:
        """Whether only the owner can read or write it."""
        return not self.mode & 0o077


@dataclass(frozen=True)
class ModelVectors:
    """The vectors the embedding cache holds for one model."""

    model: str
    dimensions: int
    vectors: int


@dataclass(frozen=True)
class StoreInfo:
    """What a project store holds, where, and who can read it (:func:`store_info`).

    ``text_characters`` counts the characters of transcript text stored (0 for documents stored
    with ``--no-store-text``, counted in ``documents_without_text``). ``review_decisions`` is
    None when the store has no table of review decisions. ``runs`` counts runs by status;
    ``runs_with_results`` those whose suggestions are still stored (not pruned).
    """

    path: str
    files: tuple[StoreFile, ...]
    folder: str
    folder_mode: int
    schema_version: int
    documents: int
    documents_without_text: int
    text_characters: int
    fragments: int
    vectors: tuple[ModelVectors, ...]
    segmentations: int
    codebooks: int
    runs: tuple[tuple[str, int], ...]
    runs_with_results: int
    suggestions: int
    review_decisions: int | None
    forgotten: int

    @property
    def size(self) -> int:
        """Bytes on disk, side files included."""
        return sum(f.size for f in self.files)

    @property
    def private(self) -> bool:
        """Whether the store's files and its folder are owner-only."""
        return all(f.private for f in self.files) and not self.folder_mode & 0o077

    def as_text(self) -> str:
        """The report of ``nlp-coder store info``."""
        lines = [f"store: {self.path} (schema version {self.schema_version})",
                 f"size: {_size(self.size)} on disk"
                 + (f" ({', '.join(f'{Path(f.path).name} {_size(f.size)}' for f in self.files)})"
                    if len(self.files) > 1 else "")]
        perms = [f"{Path(f.path).name} {stat.filemode(f.mode)[1:]}" for f in self.files]
        perms.append(f"folder {self.folder} {stat.filemode(self.folder_mode | stat.S_IFDIR)[1:]}")
        if self.private:
            verdict = " (owner only)"
        elif all(f.private for f in self.files):
            verdict = (f" (the files are owner only; others can list the folder: chmod 700 {self.folder} "
                       "to hide them)")
        else:
            verdict = (" (OTHERS CAN READ IT: chmod 600 the store's files and chmod 700 its folder to make it "
                       "private)")
        lines.append(f"permissions: {', '.join(perms)}{verdict}")
        stored = self.documents - self.documents_without_text
        lines.append(f"documents: {self.documents} ({stored} with their text, {self.text_characters:,} characters; "
                     f"{self.documents_without_text} as hashes and offsets only)")
        lines.append(f"fragments: {self.fragments:,}")
        if self.vectors:
            for model in self.vectors:
                lines.append(f"vectors: {model.vectors:,} of {model.model} ({model.dimensions} dimensions)")
        else:
            lines.append("vectors: none")
        lines.append(f"segmentations cached: {self.segmentations:,} (offsets only, no text)")
        lines.append(f"codebooks: {self.codebooks}")
        total = sum(n for _, n in self.runs)
        by_status = ", ".join(f"{n} {status}" for status, n in self.runs)
        lines.append(f"runs: {total}" + (f" ({by_status}); {self.runs_with_results} with their results, "
                                         f"{self.suggestions:,} suggestions" if total else ""))
        if self.review_decisions is not None:
            lines.append(f"review decisions: {self.review_decisions:,}")
        if self.forgotten:
            lines.append(f"documents forgotten: {self.forgotten} (their hashes are kept in the manifests of the runs "
                         "that read them)")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ForgetResult:
    """What :func:`forget_documents` removed: the documents (id and SHA-256 of their text) and the
    rows that went with them. ``runs`` counts the runs whose manifests now record the documents'
    hashes; ``checkpointed`` is False when another program held the store open, so that the
    write-ahead log could not be emptied (run ``store vacuum`` when it is done)."""

    documents: tuple[tuple[str, str], ...]
    characters: int
    fragments: int
    vectors: int
    suggestions: int
    review_decisions: int
    runs: int
    checkpointed: bool
    learned_models: int = 0
    learned_unchecked: int = 0

    def as_text(self) -> str:
        ids = ", ".join(doc for doc, _ in self.documents)
        text = (f"forgot {len(self.documents)} document(s) ({ids}): {self.characters:,} characters of text, "
                f"{self.fragments:,} fragments, {self.vectors:,} vectors, {self.suggestions:,} suggestions, "
                f"{self.review_decisions:,} review decisions"
                + (f", {self.learned_models} learned model(s) trained on them" if self.learned_models else "")
                + f"; {self.runs} run manifest(s) keep their hashes only\n")
        if self.learned_unchecked:
            text += (f"warning: {self.learned_unchecked} learned model(s) could not be checked (the store keeps no "
                     "text of the forgotten document(s) to find their passages in, or the model's learned.json "
                     "cannot be read); delete those trained on them (the learned folder beside the store)\n")
        if not self.checkpointed:
            text += ("warning: another program has the store open, so its write-ahead log still holds the deleted "
                     "pages; run 'nlp-coder store vacuum' once it is done\n")
        return text


@dataclass(frozen=True)
class VacuumResult:
    """The store's size on disk (side files included) before and after :func:`vacuum_store`."""

    before: int
    after: int

    def as_text(self, path: str | Path) -> str:
        return f"vacuumed {path}: {_size(self.before)} -> {_size(self.after)} on disk\n"


@dataclass(frozen=True)
class PruneResult:
    """What :func:`prune_runs` did: the runs whose results were removed, the suggestions
    removed, the runs kept whole, and runs left alone because they were still ``running``."""

    pruned: tuple[int, ...]
    suggestions: int
    kept: tuple[int, ...]
    running: tuple[int, ...]

    def as_text(self) -> str:
        if not self.pruned:
            text = f"nothing to prune: {len(self.kept)} run(s) with results, all kept\n"
        else:
            text = (f"removed the results of {len(self.pruned)} run(s) ({_ids(self.pruned)}): "
                    f"{self.suggestions:,} suggestions; kept {len(self.kept)}"
                    + (f" ({_ids(self.kept)})" if self.kept else "") + "; "
                    "their manifests stay. Run 'nlp-coder store vacuum' to give the space back\n")
        if self.running:
            text += (f"warning: left alone {len(self.running)} run(s) still marked running ({_ids(self.running)}): "
                     "a command may be writing them\n")
        return text


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(str(i) for i in ids) if len(ids) <= 6 else f"{ids[0]}-{ids[-1]}"


def _size(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    raise AssertionError


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def store_files(path: str | Path) -> tuple[StoreFile, ...]:
    """The store's file and whichever of its side files are there."""
    path = Path(path)
    out = []
    for file in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        try:
            st = os.stat(file)
        except FileNotFoundError:
            continue
        out.append(StoreFile(str(file), st.st_size, st.st_mode & 0o777))
    return tuple(out)


def open_existing(path: str | Path) -> Store:
    """Open a store that must exist already (these commands never create one).

    Raises:
        StoreError: no store there (``E303``), or it cannot be opened (``E300``).
    """
    path = Path(path)
    if not path.is_file():
        raise StoreError("there is no project store here", str(path),
                         "Give the store with -d/--db or $NLP_CODER_DB (default: .nlp-coder/store.db)", code="E303")
    return Store(path)


def _tables(db: sqlite3.Connection) -> dict[str, tuple[str, ...]]:
    """Every table of the store with its columns."""
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                      "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {name: tuple(r[1] for r in db.execute(f'PRAGMA table_info("{name}")')) for name in names}


def _review_tables(tables: dict[str, tuple[str, ...]]) -> list[str]:
    """Tables beyond the first schema that hold rows per document (the review decisions)."""
    return [name for name, columns in tables.items() if name not in KNOWN_TABLES and "document" in columns]


def store_info(path: str | Path) -> StoreInfo:
    """What the store at ``path`` holds, its size on disk and its permissions.

    Raises:
        StoreError: no store at ``path`` (``E303``) or it cannot be read (``E300``).
    """
    with open_existing(path) as store:
        db = store.connection
        try:
            tables = _tables(db)
            one = lambda sql: int(db.execute(sql).fetchone()[0] or 0)  # noqa: E731
            documents = one("SELECT COUNT(*) FROM documents")
            without = one("SELECT COUNT(*) FROM documents WHERE text = ''")
            characters = one("SELECT SUM(length(text)) FROM documents")
            vectors = tuple(ModelVectors(m, int(d), int(n)) for m, d, n in db.execute(
                "SELECT model, dimensions, COUNT(*) FROM embeddings GROUP BY model, dimensions ORDER BY model"))
            counts: dict[str, int] = {}
            forgotten: set[str] = set()
            for status, manifest in db.execute("SELECT status, manifest FROM runs ORDER BY id"):
                key = "failed" if status.startswith("failed") else status
                counts[key] = counts.get(key, 0) + 1
                data = json.loads(manifest)
                forgotten.update(item.get("document_sha256", "") for item in data.get("forgotten", ()))
            runs = tuple(sorted(counts.items()))
            with_results = one("SELECT COUNT(DISTINCT run_id) FROM suggestions")
            review = _review_tables(tables)
            decisions = sum(one(f'SELECT COUNT(*) FROM "{t}"') for t in review) if review else None
            info = StoreInfo(
                path=str(path), files=store_files(path), folder=str(Path(path).parent),
                folder_mode=os.stat(Path(path).parent).st_mode & 0o777, schema_version=store.schema_version,
                documents=documents, documents_without_text=without, text_characters=characters,
                fragments=one("SELECT COUNT(*) FROM fragments"), vectors=vectors,
                segmentations=one("SELECT COUNT(*) FROM segmentations"),
                codebooks=one("SELECT COUNT(*) FROM codebooks"),
                runs=runs, runs_with_results=with_results, suggestions=one("SELECT COUNT(*) FROM suggestions"),
                review_decisions=decisions, forgotten=len(forgotten - {""}))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the project store ({exc})", str(path),
                             "Give another store with -d/--db") from exc
    return info


def documents_where(path: str | Path, conditions: Sequence[str]) -> tuple[str, ...]:
    """The ids of the stored documents whose attributes match every ``attribute=value`` of
    ``conditions`` (the ``--where`` of ``store forget``).

    Raises:
        InputError: a condition is not ``attribute=value`` (``E130``).
        StoreError: no store (``E303``).
    """
    wanted = [_condition(c) for c in conditions]
    with open_existing(path) as store:
        rows = list(store.connection.execute("SELECT id, attributes FROM documents ORDER BY id"))
    found = []
    for doc_id, attributes in rows:
        values = json.loads(attributes)
        if all(str(values.get(key, "")) == value for key, value in wanted):
            found.append(doc_id)
    return tuple(found)


def _condition(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"'{text}' is not attribute=value", "--where",
                         "Give an attribute of metadata.csv and its value, e.g. --where participant=P03", code="E130")
    return key.strip(), value.strip()


def forget_documents(path: str | Path, documents: Sequence[str] = (), *, where: Sequence[str] = ()) -> ForgetResult:
    """Remove ``documents`` (ids as stored), and those whose attributes match every
    ``attribute=value`` of ``where`` (:func:`documents_where`), from the store: their text, fragments, the vectors of
    their fragments' texts that no other document's fragments use, their suggestions in every
    run, and their review decisions. The runs stay; the manifest of each run that coded a
    document records the SHA-256 of its text (``forgotten``), never its id or text. Everything is
    deleted in one transaction, with SQLite's ``secure_delete`` on, and the write-ahead log is
    then checkpointed and emptied.

    Raises:
        StoreError: no store (``E303``), or a document not in it or ``where`` matching none
            (``E302``; nothing is deleted).
        InputError: a ``where`` condition is not ``attribute=value`` (``E130``).
    """
    chosen = list(documents)
    if where:
        matched = documents_where(path, where)
        if not matched:
            raise StoreError(f"no stored document has {' and '.join(where)}", str(path),
                             "Check the attribute and its value in metadata.csv; nothing was forgotten", code="E302")
        chosen += matched
    ids = tuple(dict.fromkeys(chosen))
    if not ids:
        raise StoreError("no document to forget", str(path), "Name documents, or give --where attribute=value",
                         code="E302")
    with open_existing(path) as store:
        db = store.connection
        try:
            texts = {doc: text for doc in ids  # (for the learned models below)
                     for (text,) in db.execute("SELECT text FROM documents WHERE id = ?", (doc,))}
            passages = {h for doc in ids
                        for (h,) in db.execute("SELECT text_sha256 FROM fragments WHERE document = ?", (doc,))}
            db.execute("PRAGMA secure_delete = ON")
            with store.transaction():
                result = _forget(db, ids, str(path))
            busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(f"cannot change the project store ({exc})", str(path),
                             "Wait until no other command uses it, or check that it is writable") from exc
    learned, unchecked = _forget_learned(Path(path), ids, texts, passages)
    return ForgetResult(**{**result, "checkpointed": not busy, "learned_models": learned,  # type: ignore[arg-type]
                           "learned_unchecked": unchecked})


def _forget_learned(path: Path, ids: Sequence[str], texts: dict[str, str], fragments: set[str]) -> tuple[int, int]:
    """Remove the learned models (``suggest --learn``, beside the store) trained on passages of
    the forgotten documents: their ``learned.json`` names a document or holds one of its passages
    (inside its stored text, or one of its fragments by hash). Returns the models removed, and
    those kept that could not be checked (a document stored without its text, a broken file)."""
    import shutil

    from nlp_coder.learn.artefact import learned_folder

    folder = learned_folder(path)
    if folder is None or not folder.is_dir():
        return 0, 0
    names = [json.dumps(doc, ensure_ascii=False) for doc in ids]
    removed = kept = broken = 0
    for model in sorted(p for p in folder.iterdir() if (p / "learned.json").is_file()):
        raw = (model / "learned.json").read_text(encoding="utf-8", errors="replace")
        try:
            passages = _strings(json.loads(raw)) if raw.strip() else []
        except ValueError:  # a broken file: its passages cannot be read, so it is not checked
            broken += 1
            continue
        if any(name in raw for name in names) or any(text_sha256(p) in fragments for p in passages) or any(
                len(p) >= 20 and p in text for p in passages for text in texts.values() if text):
            shutil.rmtree(model)
            removed += 1
        else:
            kept += 1
    return removed, broken + (kept if not all(texts.get(doc) for doc in ids) else 0)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _forget(db: sqlite3.Connection, ids: tuple[str, ...], where: str) -> dict[str, object]:
    found = {}
    for lo in range(0, len(ids), 500):
        chunk = ids[lo:lo + 500]
        marks = ",".join("?" * len(chunk))
        for doc_id, sha, size in db.execute(
                f"SELECT id, sha256, length(text) FROM documents WHERE id IN ({marks})", chunk):
            found[doc_id] = (sha, int(size))
    missing = [doc for doc in ids if doc not in found]
    if missing:
        sample = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise StoreError(f"not in the project store: {sample}", where,
                         "Give document ids as 'nlp-coder store info' counts them (the file name relative to the "
                         "corpus folder); nothing was forgotten", code="E302")
    tables = _review_tables(_tables(db))
    hashes: set[str] = set()
    fragments = suggestions = decisions = 0
    runs: set[int] = set()
    for doc_id in ids:
        hashes.update(r[0] for r in db.execute("SELECT text_sha256 FROM fragments WHERE document = ?", (doc_id,)))
        for run_id, text in db.execute(
                "SELECT run_id, json_extract(result, '$.text') FROM suggestions WHERE document = ?", (doc_id,)):
            runs.add(int(run_id))
            if isinstance(text, str):
                hashes.add(text_sha256(text))
        fragments += db.execute("DELETE FROM fragments WHERE document = ?", (doc_id,)).rowcount
        suggestions += db.execute("DELETE FROM suggestions WHERE document = ?", (doc_id,)).rowcount
        for table in tables:
            decisions += db.execute(f'DELETE FROM "{table}" WHERE document = ?', (doc_id,)).rowcount
        # The segmentation cache holds offsets only, but its fragment ids name the document.
        marker = json.dumps(doc_id, ensure_ascii=False)[:-1] + "#"
        db.execute("DELETE FROM segmentations WHERE instr(CAST(fragments AS TEXT), ?) > 0", (marker,))
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
    used = {r[0] for r in db.execute("SELECT DISTINCT text_sha256 FROM fragments")}
    gone = sorted(hashes - used)
    vectors = 0
    for lo in range(0, len(gone), 500):
        chunk = gone[lo:lo + 500]
        vectors += db.execute(f"DELETE FROM embeddings WHERE text_sha256 IN ({','.join('?' * len(chunk))})",
                              chunk).rowcount
    now = _now()
    hashes_of = {doc: found[doc][0] for doc in ids}
    for run_id, text in list(db.execute("SELECT id, manifest FROM runs ORDER BY id")):
        manifest = json.loads(text)
        scrubbed = _scrub(manifest, hashes_of)
        if scrubbed == manifest and run_id not in runs:
            continue
        runs.add(int(run_id))
        scrubbed.setdefault("forgotten", []).extend(
            {"document_sha256": hashes_of[doc], "forgotten_at": now} for doc in ids)
        db.execute("UPDATE runs SET manifest = ? WHERE id = ?",
                   (json.dumps(scrubbed, sort_keys=True, ensure_ascii=False), run_id))
    return {"documents": tuple((doc, found[doc][0]) for doc in ids),
            "characters": sum(found[doc][1] for doc in ids), "fragments": fragments, "vectors": vectors,
            "suggestions": suggestions, "review_decisions": decisions, "runs": len(runs)}


def _scrub(value: object, hashes: dict[str, str]) -> Any:
    """A manifest without the forgotten documents' names: an entry about one (``{"document": ...}``,
    as in ``reading``) becomes its hash alone, a key that is its id goes, and its id inside any
    text (a warning, a path) becomes ``forgotten:`` and the first 12 digits of its hash."""
    if isinstance(value, dict):
        if value.get("document") in hashes:
            return {"document_sha256": hashes[value["document"]]}
        return {k: _scrub(v, hashes) for k, v in value.items() if k not in hashes}
    if isinstance(value, list):
        return [_scrub(v, hashes) for v in value]
    if isinstance(value, str):
        for doc, sha in hashes.items():
            if doc in value:  # as a whole name: not inside another document's ("p1.txt" in "ap1.txt"), but
                # before a full stop that ends a sentence ("... of p1.txt.")
                value = re.sub(rf"(?<![\w.-]){re.escape(doc)}(?![\w-]|\.[\w-])", f"forgotten:{sha[:12]}", value)
        return value
    return value


def vacuum_store(path: str | Path) -> VacuumResult:
    """Rebuild the store without its free pages (SQLite's ``VACUUM``) and empty its write-ahead
    log, giving the space of deleted rows back to the disk.

    Raises:
        StoreError: no store (``E303``), or it is in use or cannot be written (``E300``).
    """
    before = sum(f.size for f in store_files(path))
    with open_existing(path) as store:
        try:
            store.connection.execute("VACUUM")
            store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot vacuum the project store ({exc})", str(path),
                             "Wait until no other command uses it, and check there is free disk space "
                             "(vacuum needs about the store's size again)") from exc
    return VacuumResult(before, sum(f.size for f in store_files(path)))


def prune_runs(path: str | Path, keep: int) -> PruneResult:
    """Remove the suggestions of all but the ``keep`` most recent runs that have any. The runs
    and their manifests stay (each manifest records ``results_pruned_at``); runs still marked
    ``running`` are left alone. Review decisions are never removed.

    Raises:
        InputError: ``keep`` is negative (``E130``).
        StoreError: no store (``E303``), or it cannot be changed (``E300``).
    """
    if keep < 0:
        raise InputError("--keep must be 0 or more", "--keep", code="E130")
    with open_existing(path) as store:
        db = store.connection
        try:
            with store.transaction():
                rows = list(db.execute("SELECT r.id, r.status FROM runs r WHERE EXISTS "
                                       "(SELECT 1 FROM suggestions s WHERE s.run_id = r.id) ORDER BY r.id DESC"))
                kept = tuple(sorted(r for r, _ in rows[:keep]))
                running = tuple(sorted(r for r, s in rows[keep:] if s == "running"))
                pruned = tuple(sorted(r for r, s in rows[keep:] if s != "running"))
                removed = 0
                now = _now()
                for run_id in pruned:
                    removed += db.execute("DELETE FROM suggestions WHERE run_id = ?", (run_id,)).rowcount
                    manifest = json.loads(db.execute("SELECT manifest FROM runs WHERE id = ?", (run_id,)).fetchone()[0])
                    manifest["results_pruned_at"] = now
                    db.execute("UPDATE runs SET manifest = ? WHERE id = ?",
                               (json.dumps(manifest, sort_keys=True, ensure_ascii=False), run_id))
        except sqlite3.Error as exc:
            raise StoreError(f"cannot change the project store ({exc})", str(path),
                             "Wait until no other command uses it, or check that it is writable") from exc
    return PruneResult(pruned, removed, kept, running)
