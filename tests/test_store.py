from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import file_mode

from nlp_coder.errors import StoreError
from nlp_coder.records import Document, Fragment, RunManifest, Span, Turn
from nlp_coder.store import MIGRATIONS, Store, embed_cached, resolve_store_path, text_sha256


def _manifest() -> RunManifest:
    return RunManifest("0", "hash-test", "w", "book", "b", "c", (("threshold", 0.3),), 1, 1)


def test_new_store_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "p.db"
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"documents", "fragments", "embeddings", "codebooks", "runs", "suggestions"} <= tables


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this nlp_coder") as caught:
        Store(path)
    assert caught.value.code == "E300"


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the project store") as caught:
        Store(path)
    assert caught.value.code == "E300"
    with pytest.raises(StoreError, match="is a folder") as caught:
        Store(tmp_path)
    assert caught.value.code == "E300"



def test_a_new_store_its_folders_and_side_files_are_owner_only(tmp_path: Path, umask_022: None) -> None:
    before = file_mode(tmp_path)
    path = tmp_path / "project" / ".nlp-coder" / "store.db"
    with Store(path) as store:
        store.start_run("suggest", _manifest())  # a write: the -wal and -shm files are there now
        side = [Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(p.exists() for p in side)
        assert {p.name: file_mode(p) for p in side} == {"store.db-wal": 0o600, "store.db-shm": 0o600}
    assert file_mode(path) == 0o600
    assert file_mode(path.parent) == 0o700 and file_mode(path.parent.parent) == 0o700
    assert file_mode(tmp_path) == before  # a folder that was there is not changed


def test_a_rollback_journal_gets_the_store_files_mode(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "p.db"
    Store(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("BEGIN")
    db.execute("INSERT INTO codebooks VALUES ('x', 'x', 'x', 'x')")
    journal = Path(f"{path}-journal")
    assert journal.exists() and file_mode(journal) == 0o600
    db.execute("COMMIT")
    db.close()


def test_an_existing_store_and_folder_keep_their_modes(tmp_path: Path, umask_022: None) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    os.chmod(folder, 0o750)
    path = folder / "p.db"
    Store(path).close()
    os.chmod(path, 0o640)
    with Store(path) as store:
        store.start_run("suggest", _manifest())
        assert file_mode(Path(f"{path}-wal")) == 0o640
    assert file_mode(path) == 0o640 and file_mode(folder) == 0o750


def _code(path: Path) -> str:
    with pytest.raises(StoreError) as caught:
        Store(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    return caught.value.code


def test_a_store_that_cannot_be_opened_is_a_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "folder.db"
    folder.mkdir()
    assert _code(folder) == "E300"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert _code(a_file / "store.db") == "E300"  # its folder would have to be a regular file
    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("interview notes, not a database\n" * 200)
    assert _code(not_sqlite) == "E300"
    damaged = tmp_path / "damaged.db"
    Store(damaged).close()
    data = bytearray(damaged.read_bytes())
    data[100:500] = b"\xff" * 400  # the schema page after the header
    damaged.write_bytes(bytes(data))
    assert _code(damaged) == "E300"
    assert not (tmp_path / "file").is_dir()


def test_a_locked_store_is_a_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nlp_coder.store

    monkeypatch.setattr(nlp_coder.store, "BUSY_TIMEOUT", 0.05)
    path = tmp_path / "p.db"
    other = sqlite3.connect(path, isolation_level=None)  # another program, in rollback-journal mode
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StoreError, match="in use by another command") as caught:
        Store(path)  # switching to WAL needs the lock
    assert caught.value.code == "E300"
    other.execute("ROLLBACK")
    with Store(path) as store:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match="in use by another command") as caught:
            store.start_run("suggest", _manifest())  # a write while another holds the lock
        assert caught.value.code == "E300"
        other.execute("ROLLBACK")
        store.start_run("suggest", _manifest())
        assert len(store.runs()) == 1
    other.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not stop root")
def test_a_read_only_location_is_a_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o500)
    try:
        assert _code(folder / "store.db") == "E300"
        assert not (folder / "store.db").exists()
    finally:
        os.chmod(folder, 0o700)


def test_embedding_cache_embeds_only_new_text(tmp_path: Path, embedder) -> None:
    with Store(tmp_path / "p.db") as store:
        first, new = embed_cached(store, embedder, ["a b", "c d", "a b"], batch_size=1)
        assert new == 2 and embedder.texts_encoded == 2
        assert np.allclose(first[0], first[2])
        again, new = embed_cached(store, embedder, ["c d", "e f", "a b"])
        assert new == 1 and embedder.texts_encoded == 3
        assert np.allclose(again[0], first[1])
        assert store.count("embeddings") == 3


def test_batches_already_embedded_survive_an_interruption(tmp_path: Path, embedder) -> None:
    class Failing:
        model_id, weights_sha256, dimensions = embedder.model_id, embedder.weights_sha256, 256

        def __init__(self) -> None:
            self.batches = 0

        def encode(self, texts):
            self.batches += 1
            if self.batches == 3:
                raise KeyboardInterrupt
            return embedder.encode(texts)

    texts = [f"text number {i}" for i in range(10)]
    with Store(tmp_path / "p.db") as store, pytest.raises(KeyboardInterrupt):
        embed_cached(store, Failing(), texts, batch_size=4)
    with Store(tmp_path / "p.db") as store:
        assert store.count("embeddings") == 8
        before = embedder.texts_encoded
        embed_cached(store, embedder, texts, batch_size=4)
        assert embedder.texts_encoded - before == 2


def test_an_interrupted_suggest_run_is_marked_failed_and_keeps_its_batches(tmp_path: Path, transcript_file: Path,
                                                                          codebook_file: Path, embedder) -> None:
    from nlp_coder.run import SuggestOptions, suggest

    class Interrupted:
        model_id, weights_sha256, dimensions = "hash-test", "w", 256

        def __init__(self) -> None:
            self.calls = 0

        def encode(self, texts):
            self.calls += 1
            if self.calls == 2:  # the codebook texts went through; the fragments do not
                raise KeyboardInterrupt
            return embedder.encode(texts)

    db = tmp_path / "p.db"
    with pytest.raises(KeyboardInterrupt):
        suggest(transcript_file, codebook_file, db, options=SuggestOptions(model="hash-test"), embedder=Interrupted())
    with Store(db) as store:
        [(_, _, _, status, _)] = store.runs()
        assert status == "failed: KeyboardInterrupt"
        assert store.count("suggestions") == 0 and store.count("embeddings") > 0


def test_the_cache_is_keyed_by_model_and_weights(tmp_path: Path, embedder) -> None:
    from nlp_coder.embed.models import HashingEmbedder

    other_weights = HashingEmbedder(dimensions=256, model_id="hash-test")
    other_weights_sha = "0" * 64

    class SameNameOtherWeights:
        model_id, weights_sha256, dimensions = "hash-test", other_weights_sha, 256

        def encode(self, texts):
            return other_weights.encode(texts)

    with Store(tmp_path / "p.db") as store:
        embed_cached(store, embedder, ["a b"])
        _, new = embed_cached(store, SameNameOtherWeights(), ["a b"])
        assert new == 1 and store.count("embeddings") == 2


def test_fragments_are_replaced_not_duplicated(tmp_path: Path) -> None:
    doc = Document("d.txt", "P: hello there you", "d.txt", "txt", (Turn(0, "P", (Span(3, 18),)),))
    frag = Fragment("d.txt#1", "d.txt", "P", 0, 3, 18, "hello there you")
    with Store(tmp_path / "p.db") as store:
        store.save_fragments([doc], [frag], "sentence")
        store.save_fragments([doc], [frag], "sentence")
        store.save_fragments([doc], [frag], "turn")
        assert store.count("documents") == 1 and store.count("fragments") == 2
        run = store.start_run("suggest", _manifest())
        assert store.runs()[0][3] == "running"
        store.finish_run(run)
        assert store.runs()[0][3] == "finished"
        assert store.runs()[0][4]["parameters"] == {"threshold": 0.3}


def test_unchanged_documents_are_not_written_again(tmp_path: Path) -> None:
    doc = Document("d.txt", "P: hello there. And you", "d.txt", "txt", (Turn(0, "P", (Span(3, 23),)),))
    first = [Fragment("d.txt#1.1", "d.txt", "P", 0, 3, 15, "hello there."),
             Fragment("d.txt#1.2", "d.txt", "P", 0, 16, 23, "And you")]
    with Store(tmp_path / "p.db") as store:
        store.save_fragments([doc], first, "sentence")
        store._db.execute("UPDATE documents SET updated_at = 'then'")
        store.save_fragments([doc], first, "sentence")  # the same: nothing is written
        assert store._db.execute("SELECT updated_at FROM documents").fetchone()[0] == "then"
        store.save_fragments([doc], first[:1], "sentence")  # a fragment fewer: rewritten
        assert store._db.execute("SELECT updated_at FROM documents").fetchone()[0] != "then"
        rows = store._db.execute("SELECT id, position FROM fragments ORDER BY position").fetchall()
        assert rows == [("d.txt#1.1", 0)]
        store.save_fragments([doc], first, "sentence")
        positions = store._db.execute("SELECT id, position FROM fragments ORDER BY position").fetchall()
        assert positions == [("d.txt#1.1", 0), ("d.txt#1.2", 1)]  # the place within the document


def test_store_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NLP_CODER_DB", raising=False)
    assert resolve_store_path(None) == Path(".nlp-coder/store.db")
    monkeypatch.setenv("NLP_CODER_DB", str(tmp_path / "x.db"))
    assert resolve_store_path(None) == tmp_path / "x.db"
    assert resolve_store_path(tmp_path / "y.db") == tmp_path / "y.db"


def test_text_hash_is_sha256() -> None:
    assert text_sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_new_store_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    from nlp_coder.store import PAGE_SIZE

    with Store(tmp_path / "new.db") as store:
        assert store._db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("CREATE TABLE t (x)")
    old.commit()
    default = old.execute("PRAGMA page_size").fetchone()[0]
    old.close()
    assert default != PAGE_SIZE
    with Store(tmp_path / "old.db") as store:  # opened and migrated in place, pages untouched
        assert store._db.execute("PRAGMA page_size").fetchone()[0] == default
