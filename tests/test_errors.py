"""The error catalogue: one error type with codes, documented in docs/errors.md."""

from __future__ import annotations

import pickle
import re

import pytest
from conftest import REPO

from nlp_coder.errors import CATALOGUE, InputError, ModelNotInstalledError, NlpCoderError, OutputError, StoreError

PAGE = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")


def _codes_in_source() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "nlp_coder").rglob("*.py"):
        if path.name == "errors.py":
            continue
        found |= set(re.findall(r"\"(E\d{3})\"", path.read_text(encoding="utf-8")))
    return found


def test_every_code_is_documented_and_no_other() -> None:
    documented = set(re.findall(r"^\| (E\d{3}) \|", PAGE, flags=re.MULTILINE))
    assert documented == set(CATALOGUE)


def test_every_code_the_library_raises_is_in_the_catalogue() -> None:
    used = _codes_in_source()
    assert used and used <= set(CATALOGUE)


def test_a_message_is_one_line_with_what_where_and_fix() -> None:
    error = InputError("bad value\nover two lines", "file.csv:3", "Fix it", code="E103")
    assert str(error) == "file.csv:3: bad value over two lines. Fix it."
    assert (error.code, error.what, error.where, error.fix) == ("E103", "bad value\nover two lines", "file.csv:3",
                                                                "Fix it")


@pytest.mark.parametrize(("kind", "code"), [(InputError, "E100"), (ModelNotInstalledError, "E200"),
                                            (StoreError, "E300"), (OutputError, "E400")])
def test_each_kind_has_its_default_code_and_survives_pickling(kind: type[NlpCoderError], code: str) -> None:
    error = kind("something", "here")
    assert isinstance(error, NlpCoderError) and error.code == code
    again = pickle.loads(pickle.dumps(error))  # Dask workers send errors back to the client
    assert (type(again), again.code, str(again)) == (kind, code, str(error))


def test_an_unknown_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown error code"):
        InputError("x", code="E999")
