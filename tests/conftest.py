"""Shared fixtures: a small codebook, a small corpus and the deterministic hashing embedder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlp_coder.embed.models import HashingEmbedder

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

SMALL_CODEBOOK = """\
name: Small test codebook
codes:
  - id: support
    name: Support
    definition: The professional gave practical or emotional support.
    examples:
      - "She helped me fill in the housing forms."
      - "He drove me to the hospital appointment."
      - "They arranged childcare so I could rest."
  - id: care
    name: Care
    codable: false
    definition: Container for how caring professionals were.
  - id: warmth
    name: Warmth
    parent: care
    definition: The professional was warm and kind.
    examples:
      - "She was warm and kind to my kids."
      - "He was so kind and gentle with us."
      - "She gave me a warm hug when I cried."
    counterexamples:
      - "The waiting room was warm and stuffy."
  - id: listening
    name: Listening
    parent: care
    definition: The professional listened carefully.
    examples:
      - "She really listened to what I said."
      - "He listened carefully and took notes."
      - "They listened to my side of the story."
facets:
  valence:
    description: Positive or negative.
    codes:
      - id: positive
        name: Positive
        examples:
          - "It was great, really good."
          - "I was happy and grateful."
      - id: negative
        name: Negative
        examples:
          - "It was awful and unfair."
          - "I was angry and upset."
"""

SMALL_TRANSCRIPT = """\
Interviewer: How did the assessment go?
Mother: She helped me fill in the forms for housing. She was warm and kind to my kids.
Interviewer: Mm-hmm.
Mother: Yeah. She really listened to what I said and she was kind.
Mother: The bus was late again so I walked.
"""


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def codebook_file(tmp_path: Path) -> Path:
    path = tmp_path / "codebook.yaml"
    path.write_text(SMALL_CODEBOOK, encoding="utf-8")
    return path


@pytest.fixture
def transcript_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus" / "interview.txt"
    path.parent.mkdir()
    path.write_text(SMALL_TRANSCRIPT, encoding="utf-8")
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `shared` need ../shared (real data, the REFI-QDA schema): skip when absent."""
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason="../shared is not present")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common umask, under which new files are world-readable unless made otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def file_mode(path: Path) -> int:
    """A file's permission bits (``0o600`` for owner-only)."""
    return os.stat(path).st_mode & 0o777
