"""Run a snippet of Python in fresh interpreters, for determinism across processes.

String hashing (``PYTHONHASHSEED``), and so the order of sets and of anything built from them,
changes only from one process to the next: a result computed twice in the same process is
the same even when it depends on that order. A test of determinism runs its snippet here
under two hash seeds and compares the bytes it printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def run_python(code: str, *args: str, hash_seeds: tuple[int, ...] = (0, 1),
                    timeout: float = 120) -> list[bytes]:
    """The standard output of ``code`` (dedented), run with ``args`` as ``sys.argv[1:]`` in a
    fresh interpreter per hash seed (``PYTHONHASHSEED``), side by side; ``nlp_coder`` and the
    tests' modules (``conftest``) import there. A snippet that fails fails the test, with its
    stderr."""
    path = os.pathsep.join([str(REPO), str(TESTS), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    script = textwrap.dedent(code)
    children = [
        subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**os.environ, "PYTHONHASHSEED": str(seed), "PYTHONPATH": path}, cwd=REPO)
        for seed in hash_seeds
    ]
    outputs = []
    try:
        for seed, child in zip(hash_seeds, children):
            out, err = child.communicate(timeout=timeout)
            if child.returncode != 0:
                raise AssertionError(f"the snippet failed with PYTHONHASHSEED={seed} "
                                     f"(exit status {child.returncode}):\n{err.decode(errors='replace')}")
            outputs.append(out)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    return outputs


def same_in_two_processes(code: str, *args: str, hash_seeds: tuple[int, int] = (0, 1),
                          timeout: float = 120) -> bytes:
    """Run ``code`` under two hash seeds, assert that both printed the same bytes (and
    something), and return them."""
    first, second = run_python(code, *args, hash_seeds=hash_seeds, timeout=timeout)
    assert first, "the snippet printed nothing"
    assert first == second, (f"PYTHONHASHSEED={hash_seeds[0]} and {hash_seeds[1]} printed different output:\n"
                             f"{first[:2000]!r}\n!=\n{second[:2000]!r}")
    return first


_CLI = """
import os, sys
from click.testing import CliRunner
from nlp_coder.cli import main
seed = os.environ["PYTHONHASHSEED"]
args = [a.replace("{seed}", seed) for a in sys.argv[1:]]
result = CliRunner().invoke(main, args)
assert result.exit_code == 0, result.output
out = args[args.index("--out") + 1]
with open(out, "rb") as handle:
    sys.stdout.buffer.write(handle.read())
"""


def cli_output_in_two_processes(*args: str) -> bytes:
    """Run ``nlp-coder ARGS`` (which must hold ``--out FILE``) in two fresh interpreters under two
    hash seeds, assert that both wrote the same bytes, and return them. ``{seed}`` in an argument
    becomes the hash seed, so that the two runs write to their own store and output."""
    return same_in_two_processes(_CLI, *args)
