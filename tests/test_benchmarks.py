"""The benchmarks run outside the test suite (they need ../shared and minutes of CPU), so the
suite checks at least that each one still imports: a renamed library function breaks it here."""

from __future__ import annotations

import importlib

import pytest
from conftest import REPO

MODULES = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_imports(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    public = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
              and getattr(v, "__module__", "") == module.__name__]
    assert public, f"benchmarks/{name}.py defines no function"
