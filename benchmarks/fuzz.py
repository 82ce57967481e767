"""Fuzzing the readers with many more cases than the test suite runs.

Run from the repository root (needs no data beyond the repository)::

    .venv/bin/python -m benchmarks.fuzz --cases 10000           # the full run
    .venv/bin/python -m benchmarks.fuzz --case 1234              # replay one case, with its traceback
    .venv/bin/python -m benchmarks.fuzz --cases 2000 --target codebook-yaml

Case ``i`` is the case ``tests/test_fuzz.py`` runs as number ``i`` (the mutations are in
``tests/fuzzing.py``): the test suite runs the first few hundred, this runs as many as asked.
Every reader entry point must return or raise :class:`~nlp_coder.errors.NlpCoderError`; the run
prints how many cases there were, how many were read, how many were refused (by error code), how
many raised anything else (with the first tracebacks) and how many hung (ran past ``--timeout``
seconds), the slowest case and the peak memory. The exit status is 1 when a case crashed or
hung.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fuzzing import DEFAULT_TIMEOUT, Outcome, build_targets, describe, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="number of cases (default 10,000)")
    parser.add_argument("--case", type=int, help="run only this case and print its outcome")
    parser.add_argument("--first", type=int, default=0, help="number of the first case (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations (default 0)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds after which a case is a hang (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--target", action="append", default=[], help="only this target (repeatable)")
    parser.add_argument("--show", type=int, default=3, help="tracebacks to print (default 3)")
    parser.add_argument("--keep", type=Path, help="write the inputs of failing cases to this folder")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="nlp-coder-fuzz-") as tmp:
        folder = Path(tmp)
        targets = build_targets(folder)
        if args.case is not None:
            summary = run([args.case], folder, seed=args.seed, timeout=args.timeout, targets=targets)
            outcome = summary.outcomes[0]
            print(describe(outcome) if outcome.status in ("crash", "hang") else
                  f"case {outcome.case} ({outcome.target}, {', '.join(outcome.mutations)}): {outcome.status} "
                  f"{outcome.code} {outcome.detail}".rstrip())
            return 1 if summary.failures else 0
        cases = range(args.first, args.first + args.cases)
        started = time.perf_counter()

        def progress(outcome: Outcome) -> None:
            done = outcome.case - args.first + 1
            if done % 1000 == 0:
                print(f"  {done:,} cases, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
            if outcome.status in ("crash", "hang") and args.keep is not None:
                from fuzzing import case_input

                target, data, _ = case_input(targets, outcome.case, args.seed)
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"case-{outcome.case}-{target.name}{target.suffix}").write_bytes(data)

        summary = run(cases, folder, seed=args.seed, timeout=args.timeout, targets=targets,
                      names=args.target, progress=progress)
    elapsed = time.perf_counter() - started
    total = len(summary.outcomes)
    print(f"cases: {total:,} in {elapsed:.0f} s ({len(targets)} targets, seed {args.seed}, "
          f"timeout {args.timeout:g} s)")
    print(f"  read without error:      {summary.count('accepted'):,}")
    print(f"  refused (NlpCoderError): {summary.count('refused'):,}  "
          + ", ".join(f"{code} {n:,}" for code, n in sorted(summary.codes().items())))
    print(f"  unexpected exceptions:   {summary.count('crash'):,}")
    print(f"  hangs (> {args.timeout:g} s):        {summary.count('hang'):,}")
    slowest = summary.slowest()
    if slowest is not None:
        print(f"slowest case: {slowest.case} ({slowest.target}) {slowest.seconds:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak memory: {peak:,.0f} MiB")
    by_target = Counter((o.target, o.status) for o in summary.outcomes)
    print("per target (accepted / refused / crash / hang):")
    for target in targets:
        if not args.target or target.name in args.target:
            counts = " / ".join(str(by_target[(target.name, s)]) for s in ("accepted", "refused", "crash", "hang"))
            print(f"  {target.name:<24} {counts}")
    failures = summary.failures
    kinds = Counter((o.target, o.code or o.status) for o in failures)
    for (target, kind), n in sorted(kinds.items()):
        print(f"  failing: {target}: {kind} x{n}")
    for outcome in failures[: args.show]:
        print("-" * 100)
        print(describe(outcome))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
