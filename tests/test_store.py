from __future__ import annotations

import json
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



# -- housekeeping: store info, forget, vacuum, prune (nlp_coder.privacy.store) ---------------------

PRIVATE_LINE = "Zebulon told me his number was changed after the move to Wolverhampton."
SHARED_LINE = "She really listened to what I said and she was kind."


def _coded_store(tmp_path: Path, runs: int = 2) -> Path:
    """A store with two documents (attributes from metadata.csv) coded ``runs`` times; both
    documents hold ``SHARED_LINE``, only ``p1.txt`` holds ``PRIVATE_LINE``."""
    from conftest import SMALL_CODEBOOK

    from nlp_coder.embed.models import HashingEmbedder
    from nlp_coder.run import SuggestOptions, suggest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "p1.txt").write_text(f"Interviewer: How was it?\nMother: {PRIVATE_LINE} {SHARED_LINE}\n"
                                   "Mother: She helped me fill in the forms for housing.\n", encoding="utf-8")
    (corpus / "p2.txt").write_text(f"Interviewer: How was it?\nFather: {SHARED_LINE}\n"
                                   "Father: He drove me to the hospital appointment.\n", encoding="utf-8")
    (corpus / "metadata.csv").write_text("document,participant\np1.txt,P01\np2.txt,P02\n", encoding="utf-8")
    book = tmp_path / "codebook.yaml"
    book.write_text(SMALL_CODEBOOK, encoding="utf-8")
    db = tmp_path / "store" / "p.db"
    for threshold in (0.1, 0.2, 0.3)[:runs]:
        suggest(corpus, book, db, embedder=HashingEmbedder(), options=SuggestOptions(threshold=threshold))
    return db


def _raw_bytes(db: Path) -> bytes:
    """The store's file and its side files, as they are on disk."""
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal"))
                    if p.exists())


def test_store_info_says_what_the_store_holds(tmp_path: Path) -> None:
    from nlp_coder.privacy.store import store_info

    db = _coded_store(tmp_path)
    info = store_info(db)
    assert (info.documents, info.documents_without_text) == (2, 0)
    assert info.text_characters == len((tmp_path / "corpus" / "p1.txt").read_text()) + len(
        (tmp_path / "corpus" / "p2.txt").read_text())
    assert info.fragments == 5 and dict(info.runs) == {"finished": 2} and info.runs_with_results == 2
    assert info.suggestions == 10 and info.review_decisions in (None, 0)  # None before the review migration
    assert [v.model for v in info.vectors] == [v for v, in sqlite3.connect(db).execute(
        "SELECT DISTINCT model FROM embeddings")]
    assert info.private and info.files[0].mode == 0o600 and info.folder_mode == 0o700
    text = info.as_text()
    assert "documents: 2 (2 with their text" in text and "(owner only)" in text and "runs: 2 (2 finished)" in text


def test_store_commands_never_create_a_store(tmp_path: Path) -> None:
    from nlp_coder.privacy.store import forget_documents, prune_runs, store_info, vacuum_store

    for call in (lambda p: store_info(p), lambda p: forget_documents(p, ["x"]), lambda p: vacuum_store(p),
                 lambda p: prune_runs(p, 1)):
        with pytest.raises(StoreError) as caught:
            call(tmp_path / "none.db")
        assert caught.value.code == "E303"
    assert not (tmp_path / "none.db").exists()


def test_forget_and_vacuum_leave_no_trace_of_the_text_in_the_files(tmp_path: Path) -> None:
    from nlp_coder.privacy.store import forget_documents, store_info, vacuum_store

    db = _coded_store(tmp_path)
    secret = PRIVATE_LINE.encode()
    assert secret in _raw_bytes(db)  # the test can fail: the text is there before
    p1_hash = text_sha256((tmp_path / "corpus" / "p1.txt").read_text(encoding="utf-8"))
    done = forget_documents(db, ["p1.txt"])
    assert done.documents == (("p1.txt", p1_hash),) and done.runs == 2
    assert done.suggestions == 2 * 3 and done.fragments == 3 and done.checkpointed
    vacuum_store(db)
    raw = _raw_bytes(db)
    for needle in (secret, b"Zebulon", b"Wolverhampton", b"fill in the forms for housing", b"p1.txt"):
        assert needle not in raw, needle
    assert Path(f"{db}-wal").stat().st_size == 0 if Path(f"{db}-wal").exists() else True
    # what another document shares stays: its text, fragments and the shared line's vector
    with Store(db) as store:
        assert store.count("documents") == 1 and store.count("fragments") == 2
        shared = text_sha256(SHARED_LINE)
        assert store.cached_vectors("hash-test@" + store.runs()[0][4]["model_weights_sha256"][:16], [shared])
        manifests = [m for *_, m in store.runs()]
    assert all(m["forgotten"] == [{"document_sha256": p1_hash, "forgotten_at": m["forgotten"][0]["forgotten_at"]}]
               for m in manifests)
    assert store_info(db).forgotten == 1
    assert b"P01" not in raw  # the attributes went with the document


def test_forget_removes_the_documents_vectors_that_no_other_document_uses(tmp_path: Path) -> None:
    from nlp_coder.privacy.store import forget_documents

    db = _coded_store(tmp_path, runs=1)
    with Store(db) as store:
        before = store.count("embeddings")
    done = forget_documents(db, ["p1.txt"])
    with Store(db) as store:
        # p1's own sentences go (the private line and the housing line); the shared line stays
        assert done.vectors == 2 and store.count("embeddings") == before - 2
        assert store.count("segmentations") == 1


def test_forget_by_attribute_and_unknown_documents(tmp_path: Path) -> None:
    from nlp_coder.errors import InputError
    from nlp_coder.privacy.store import forget_documents

    db = _coded_store(tmp_path, runs=1)
    with pytest.raises(StoreError) as caught:
        forget_documents(db, ["p1.txt", "nobody.txt"])
    assert caught.value.code == "E302" and "nobody.txt" in str(caught.value)
    with pytest.raises(StoreError) as caught:
        forget_documents(db, where=["participant=P99"])
    assert caught.value.code == "E302"
    with pytest.raises(InputError) as wrong:
        forget_documents(db, where=["participant"])
    assert wrong.value.code == "E130"
    with Store(db) as store:
        assert store.count("documents") == 2  # nothing was forgotten
    done = forget_documents(db, where=["participant=P02"])
    assert [d for d, _ in done.documents] == ["p2.txt"]


def test_forget_removes_rows_of_a_review_table(tmp_path: Path) -> None:
    """Review decisions (a later migration's table with a ``document`` column) go too."""
    from nlp_coder.privacy.store import forget_documents, store_info

    db = _coded_store(tmp_path, runs=1)
    raw = sqlite3.connect(db, isolation_level=None)
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "review_decisions" not in tables:  # a schema before the review decisions' migration
        raw.execute("CREATE TABLE review_decisions (document TEXT, fragment_id TEXT)")
    columns = [r[1] for r in raw.execute("PRAGMA table_info(review_decisions)") if r[1] != "id"]
    for document in ("p1.txt", "p2.txt"):
        values = {c: "x" for c in columns} | {"document": document, "fragment_id": f"{document}#2.1", "start": 0,
                                               "end": 1, "run_id": 1, "undone_at": None}
        raw.execute(f"INSERT INTO review_decisions ({', '.join(f'[{c}]' for c in columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))})", [values[c] for c in columns])
    raw.close()
    assert store_info(db).review_decisions == 2
    done = forget_documents(db, ["p1.txt"])
    assert done.review_decisions == 1 and store_info(db).review_decisions == 1


def test_prune_keeps_the_latest_runs_results_and_every_manifest(tmp_path: Path) -> None:
    from nlp_coder.privacy.store import prune_runs, store_info

    db = _coded_store(tmp_path, runs=3)
    done = prune_runs(db, 1)
    assert done.pruned == (1, 2) and done.kept == (3,) and done.suggestions == 10
    info = store_info(db)
    assert info.runs_with_results == 1 and dict(info.runs) == {"finished": 3} and info.suggestions == 5
    with Store(db) as store:
        assert ["results_pruned_at" in m for *_, m in store.runs()] == [True, True, False]
    assert prune_runs(db, 1).pruned == ()
    assert prune_runs(db, 0).pruned == (3,)


def test_store_commands_on_the_command_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from nlp_coder.cli import main

    db = _coded_store(tmp_path)
    run = CliRunner().invoke
    info = run(main, ["store", "info", "--db", str(db)])
    assert info.exit_code == 0 and "documents: 2" in info.output
    forgot = run(main, ["store", "forget", "--where", "participant=P01", "--db", str(db)])
    assert forgot.exit_code == 0 and "forgot 1 document(s) (p1.txt)" in forgot.output
    missing = run(main, ["store", "forget", "p1.txt", "--db", str(db)])
    assert missing.exit_code == 1 and "Error E302" in missing.output
    assert run(main, ["store", "vacuum", "--db", str(db)]).exit_code == 0
    pruned = run(main, ["store", "prune", "--keep", "1", "--db", str(db)])
    assert pruned.exit_code == 0 and "removed the results of 1 run(s)" in pruned.output


def test_no_store_text_keeps_hashes_and_offsets_only(tmp_path: Path, transcript_file: Path,
                                                     codebook_file: Path) -> None:
    from click.testing import CliRunner

    from nlp_coder.cli import main
    from nlp_coder.privacy.store import store_info

    db = tmp_path / "p.db"
    base = ["suggest", str(transcript_file), "-c", str(codebook_file), "-m", "hash-test", "-q", "--db", str(db)]
    without = CliRunner().invoke(main, [*base, "--no-store-text", "-o", str(tmp_path / "a.jsonl")])
    assert without.exit_code == 0, without.output
    raw = _raw_bytes(db)
    assert b"forms for housing" not in raw and b"The bus was late" not in raw  # (exemplars are not transcripts)
    info = store_info(db)
    assert (info.documents, info.documents_without_text, info.text_characters) == (1, 1, 0)
    assert info.fragments > 0 and info.suggestions == info.fragments
    with Store(db) as store:
        starts = [r[0] for r in store.connection.execute("SELECT start FROM fragments ORDER BY position")]
        nulls = {r[0] for r in store.connection.execute("SELECT json_extract(result, '$.text') FROM suggestions")}
    assert starts == sorted(starts) and starts[0] > 0 and nulls == {None}
    # the outputs are the same: the text is read from the transcripts
    with_text = CliRunner().invoke(main, [*base, "-o", str(tmp_path / "b.jsonl")])
    assert with_text.exit_code == 0
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert store_info(db).text_characters == len(transcript_file.read_text(encoding="utf-8"))  # stored again
    CliRunner().invoke(main, ["embed", str(transcript_file), "-m", "hash-test", "-q", "--db", str(db),
                              "--no-store-text"])
    assert store_info(db).documents_without_text == 1  # and left out again


def test_without_text_is_scoped(tmp_path: Path, embedder) -> None:
    from nlp_coder.store import without_text

    doc = Document("d", "Hello there, this is private.", "d.txt", "txt", (Turn(0, None, (Span(0, 29),)),))
    frag = Fragment("d#1", "d", None, 0, 0, 29, doc.text)
    with without_text(), Store(tmp_path / "p.db") as store:
        assert not store.keep_text
        store.save_fragments([doc], [frag], "sentence")
        assert store.connection.execute("SELECT text, sha256 FROM documents").fetchone() == ("", text_sha256(doc.text))
    with Store(tmp_path / "p.db") as store:
        assert store.keep_text


def test_forget_removes_learned_models_trained_on_the_document(tmp_path: Path) -> None:
    from nlp_coder.learn.artefact import learned_folder
    from nlp_coder.privacy.store import forget_documents

    db = _coded_store(tmp_path, runs=1)
    folder = learned_folder(db)
    assert folder is not None
    for name, exemplars in (("a", [PRIVATE_LINE]), ("b", ["He drove me to the hospital appointment."]),
                            ("c", ["Something else entirely, said nowhere here."])):
        (folder / name).mkdir(parents=True)
        (folder / name / "learned.json").write_text(json.dumps({"exemplars": {"support": exemplars}}))
    done = forget_documents(db, ["p1.txt"])
    assert done.learned_models == 1 and sorted(p.name for p in folder.iterdir()) == ["b", "c"]
    assert "1 learned model(s) trained on them" in done.as_text()


def test_forget_scrubs_a_document_name_that_ends_a_sentence() -> None:
    from nlp_coder.privacy.store import _scrub

    hashes = {"p1.txt": "abcdef1234567890"}
    scrubbed = _scrub({"warnings": ["the header of p1.txt.", "read p1.txt... then", "p1.txt: x"],
                       "other": ["ap1.txt", "p1.txt.bak", "p1.txt-2"]}, hashes)
    assert scrubbed["warnings"] == ["the header of forgotten:abcdef123456.", "read forgotten:abcdef123456... then",
                                    "forgotten:abcdef123456: x"]
    assert scrubbed["other"] == ["ap1.txt", "p1.txt.bak", "p1.txt-2"]  # other documents' names stay


def test_forget_finds_learned_models_of_a_document_stored_without_its_text(tmp_path: Path) -> None:
    from nlp_coder.learn.artefact import learned_folder
    from nlp_coder.privacy.store import forget_documents
    from nlp_coder.store import without_text

    with without_text():
        db = _coded_store(tmp_path, runs=1)
    folder = learned_folder(db)
    assert folder is not None
    # a passage coded as one fragment of p1.txt; a passage of p1.txt that is no fragment; another text
    for name, exemplars in (("a", ["She helped me fill in the forms for housing."]),
                            ("b", ["told me his number was changed"]), ("c", ["Said nowhere here at all."])):
        (folder / name).mkdir(parents=True)
        (folder / name / "learned.json").write_text(json.dumps({"exemplars": {"support": exemplars}}))
    done = forget_documents(db, ["p1.txt"])
    assert done.learned_models == 1 and sorted(p.name for p in folder.iterdir()) == ["b", "c"]
    assert done.learned_unchecked == 2  # the store has no text of p1.txt to look for the others' passages in
    assert "2 learned model(s) could not be checked" in done.as_text()


def test_forget_with_a_broken_learned_model_file_says_so(tmp_path: Path) -> None:
    from nlp_coder.learn.artefact import learned_folder
    from nlp_coder.privacy.store import forget_documents

    db = _coded_store(tmp_path, runs=1)
    folder = learned_folder(db)
    assert folder is not None
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "learned.json").write_text('{"exemplars": {"support": ["Zebulon told', encoding="utf-8")
    done = forget_documents(db, ["p1.txt"])  # no traceback after the store has changed
    assert done.documents[0][0] == "p1.txt" and done.learned_unchecked == 1 and (folder / "a").is_dir()
