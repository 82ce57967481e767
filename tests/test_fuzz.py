"""Fuzzing: mutated inputs of every reader raise only NlpCoderError, and none hangs.

The mutations and targets are in ``fuzzing.py``; ``python -m benchmarks.fuzz --cases 10000`` runs
the same cases, many more of them (case ``i`` is the same case in both).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzzing import TARGET_NAMES, Hang, Target, build_targets, case_rng, describe, mutate, run, run_case

from nlp_coder.errors import CATALOGUE

CASES = 540
"""Cases in the test run: 30 per target (the benchmark runs 10,000 and more)."""
TIMEOUT = 10.0
"""Seconds a case may run before it fails as a hang (the slowest case takes about 1 s)."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def targets(folder: Path) -> list[Target]:
    return build_targets(folder)


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_mutated_inputs_raise_only_nlp_coder_errors(name: str, targets: list[Target], folder: Path) -> None:
    summary = run(range(CASES), folder, timeout=TIMEOUT, targets=targets, names=[name])
    assert len(summary.outcomes) == CASES // len(targets)
    failures = summary.failures
    first = describe(failures[0]) if failures else ""
    assert not failures, f"{len(failures)} of {len(summary.outcomes)} cases failed; the first:\n{first}"
    for outcome in summary.outcomes:
        if outcome.status == "refused":
            assert outcome.code in CATALOGUE and outcome.code.startswith("E1"), outcome
            assert "\n" not in outcome.detail, outcome  # one line


def test_every_target_reads_its_unmutated_input(targets: list[Target], folder: Path) -> None:
    for target in targets:
        path = folder / "valid" / target.name / f"{target.name}{target.suffix}"
        path.parent.mkdir(parents=True)
        path.write_bytes(target.seed)
        target.read(path)  # raises if the starting point is not valid input


def test_cases_are_reproducible(targets: list[Target]) -> None:
    for case in (0, 7, 123):
        target = targets[case % len(targets)]
        first = mutate(target, case_rng(0, target, case))
        assert first == mutate(target, case_rng(0, target, case))
    assert mutate(targets[0], case_rng(0, targets[0], 0)) != mutate(targets[0], case_rng(1, targets[0], 0))


def test_a_crash_and_a_hang_are_reported(folder: Path) -> None:
    """The harness itself: an exception that is not NlpCoderError is a crash; a reader still
    running after the timeout is a hang."""
    def crash(path: Path) -> None:
        raise ValueError("boom")

    def hang(path: Path) -> None:
        while True:
            pass

    crashing = [Target("crashing", ".txt", b"x", crash)]
    hanging = [Target("hanging", ".txt", b"x", hang)]
    crashed = run_case(crashing, 0, folder, timeout=TIMEOUT)
    assert crashed.status == "crash" and crashed.code == "ValueError" and "boom" in crashed.detail
    hung = run_case(hanging, 0, folder, timeout=0.2)
    assert hung.status == "hang" and 0.2 <= hung.seconds < 2
    assert issubclass(Hang, BaseException) and not issubclass(Hang, Exception)
