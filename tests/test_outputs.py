"""Output files: owner-only modes, the check before any work, and clean failures."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from conftest import file_mode

from nlp_coder.errors import OutputError
from nlp_coder.export import tables
from nlp_coder.export.tables import atomic_output, check_writable, write_atomic
from nlp_coder.refi import write_atomic_bytes

AS_ROOT = os.geteuid() == 0



def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _refused(path: Path) -> OutputError:
    with pytest.raises(OutputError) as caught:
        check_writable(path)
    error = caught.value
    assert error.code == "E400"
    assert str(path) in str(error) and "\n" not in str(error)
    return error


# -- modes ------------------------------------------------------------------------------------------
def test_a_new_output_is_owner_only(tmp_path: Path, umask_022: None) -> None:
    write_atomic(tmp_path / "out.jsonl", "{}\n")
    write_atomic_bytes(tmp_path / "project.qdpx", b"PK")
    assert file_mode(tmp_path / "out.jsonl") == 0o600
    assert file_mode(tmp_path / "project.qdpx") == 0o600
    assert (tmp_path / "out.jsonl").read_text() == "{}\n"


def test_the_temporary_file_is_owner_only_from_the_start(tmp_path: Path, umask_022: None) -> None:
    target = tmp_path / "out.csv"
    with atomic_output(target) as handle:
        [tmp] = [p for p in tmp_path.iterdir() if p.name.startswith(".out.csv.") and p.name.endswith(".tmp")]
        assert file_mode(tmp) == 0o600
        handle.write(b"a,b\n")
        assert not target.exists()
    assert _files(tmp_path) == ["out.csv"] and file_mode(target) == 0o600


def test_an_output_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o277)  # would leave a new file read-only for its owner
    try:
        write_atomic(tmp_path / "out.md", "# x\n")
    finally:
        os.umask(old)
    assert file_mode(tmp_path / "out.md") == 0o600


def test_missing_folders_are_created_owner_only(tmp_path: Path, umask_022: None) -> None:
    before = file_mode(tmp_path)
    write_atomic(tmp_path / "out" / "run-1" / "s.json", "[]")
    assert file_mode(tmp_path / "out") == 0o700 and file_mode(tmp_path / "out" / "run-1") == 0o700
    assert file_mode(tmp_path / "out" / "run-1" / "s.json") == 0o600
    assert file_mode(tmp_path) == before  # a folder that was there is not changed


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask_022: None) -> None:
    target = tmp_path / "shared.csv"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n" and file_mode(target) == 0o640


# -- check_writable ---------------------------------------------------------------------------------
def test_check_writable_accepts_a_new_or_existing_file_and_creates_nothing(tmp_path: Path) -> None:
    check_writable(tmp_path / "new.jsonl")
    check_writable(tmp_path / "not" / "yet" / "there.jsonl")  # the folders are made when writing
    (tmp_path / "old.csv").write_text("x")
    check_writable(tmp_path / "old.csv")
    assert _files(tmp_path) == ["old.csv"]


def test_check_writable_refuses_a_folder(tmp_path: Path) -> None:
    assert "is a folder" in str(_refused(tmp_path))


def test_check_writable_refuses_a_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert "not a folder" in str(_refused(tmp_path / "notes.txt" / "out.csv"))
    assert "not a folder" in str(_refused(tmp_path / "notes.txt" / "sub" / "out.csv"))
    assert _files(tmp_path) == ["notes.txt"]


def test_check_writable_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    assert "not a regular file" in str(_refused(tmp_path / "pipe"))


@pytest.mark.skipif(AS_ROOT, reason="permissions do not stop root")
def test_check_writable_refuses_a_read_only_file(tmp_path: Path) -> None:
    target = tmp_path / "final.csv"
    target.write_text("keep\n")
    os.chmod(target, 0o444)
    assert "read-only" in str(_refused(target))
    with pytest.raises(OutputError):
        write_atomic(target, "new\n")
    assert target.read_text() == "keep\n" and _files(tmp_path) == ["final.csv"]


@pytest.mark.skipif(AS_ROOT, reason="permissions do not stop root")
def test_check_writable_refuses_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o500)
    try:
        assert "not writable" in str(_refused(folder / "out.csv"))
        assert "not writable" in str(_refused(folder / "sub" / "out.csv"))
        with pytest.raises(OutputError):
            write_atomic(folder / "out.csv", "x")
        assert _files(folder) == []
    finally:
        os.chmod(folder, 0o700)


# -- failed writes ----------------------------------------------------------------------------------
def test_a_write_under_a_file_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    for write in (write_atomic, write_atomic_bytes):
        with pytest.raises(OutputError) as caught:
            write(tmp_path / "notes.txt" / "out.csv", b"a")
        assert caught.value.code == "E400"
    with pytest.raises(OutputError):
        write_atomic(tmp_path, "x")  # a folder
    assert _files(tmp_path) == ["notes.txt"]


class _FullDisk:
    """A file whose writes fail as on a full disk."""

    def __init__(self, fd: int, mode: str) -> None:
        self._file = open(fd, mode)

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        self._file.close()


def test_a_full_disk_is_an_output_error_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("earlier\n")
    monkeypatch.setattr(tables.os, "fdopen", _FullDisk)
    with pytest.raises(OutputError, match="No space left on device") as caught:
        write_atomic(target, "new\n")
    assert caught.value.code == "E400" and "Free disk space" in str(caught.value)
    assert str(target) in str(caught.value)
    assert _files(tmp_path) == ["out.jsonl"] and target.read_text() == "earlier\n"


def test_a_failed_move_is_an_output_error_and_leaves_nothing(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot_move(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(tables.os, "replace", cannot_move)
    with pytest.raises(OutputError) as caught:
        write_atomic_bytes(tmp_path / "p.qdpx", b"PK")
    assert caught.value.code == "E400"
    assert _files(tmp_path) == []


def test_an_error_in_the_block_removes_the_temporary_file_and_passes_through(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with pytest.raises(FileNotFoundError):  # e.g. an input that vanished: not an output error
        with atomic_output(target) as handle:
            handle.write(b"half")
            raise FileNotFoundError(errno.ENOENT, "No such file", "corpus/x.txt")
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as handle:
        handle.write(b"half")
        raise KeyboardInterrupt
    assert _files(tmp_path) == []
