"""A million fragments through ``nlp-coder suggest``: throughput, peak memory, and a resumed run.

Run from the repository root (needs ``../shared/data``)::

    .venv/bin/python -m benchmarks.million                      # 1,000,000 fragments, --model fast
    .venv/bin/python -m benchmarks.million --fragments 100000   # a quicker look

The corpus is synthetic but made of real talk: fragments of mixed length, each one to three
sentences drawn at random (fixed seed) from the AnnoMI utterances and the Manifesto UK
quasi-sentences, in documents of 1,000 fragments, written as one fragment table to a temporary
folder (never into the repository). Most fragments are distinct texts, so the embedding cache
does not flatter the figures.

``nlp-coder suggest`` runs as a user runs it, in a fresh process, writing JSONL and the project
store; peak RSS is the child process' maximum resident set. Then the same run is killed part way
(SIGKILL) and started again, and the second start's figures show what was reused.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.realdata import annomi_utterances, manifesto_sentences
from nlp_coder.embed.models import file_sha256

REPO = Path(__file__).resolve().parent.parent
CODEBOOK = REPO / "codebooks" / "working-alliance.yaml"
PER_DOCUMENT = 1000


def synthetic_table(path: Path, fragments: int, seed: int = 0) -> int:
    """Write ``fragments`` rows (``id``, ``document``, ``text``); returns how many texts are distinct."""
    pool = [u.text.strip() for u in annomi_utterances() if u.text.strip()]
    pool += [s.text.strip() for s in manifesto_sentences() if s.text.strip()]
    rng = random.Random(seed)
    distinct: set[int] = set()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "document", "text"])
        for i in range(fragments):
            text = " ".join(rng.choice(pool) for _ in range(rng.choice((1, 1, 2, 3))))
            distinct.add(hash(text))
            writer.writerow([f"f{i}", f"doc-{i // PER_DOCUMENT:05d}", text])
    return len(distinct)


def run_suggest(table: Path, db: Path, out: Path, model: str, kill_after: float | None = None) -> dict[str, float]:
    """One ``nlp-coder suggest`` in a fresh process: wall seconds and peak RSS (MiB)."""
    command = [sys.executable, "-m", "nlp_coder", "suggest", str(table), "--codebook", str(CODEBOOK),
               "--model", model, "--db", str(db), "--out", str(out), "--quiet"]
    start = time.perf_counter()
    child = subprocess.Popen(command)
    if kill_after is not None:
        try:
            child.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.kill(child.pid, signal.SIGKILL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if kill_after is None and status != 0:
        raise SystemExit(f"nlp-coder suggest failed with status {status}")
    return {"wall": wall, "rss_mib": usage.ru_maxrss / 1024, "status": status}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fragments", type=int, default=1_000_000)
    parser.add_argument("--model", default="fast")
    parser.add_argument("--kill-after", type=float, default=None,
                        help="seconds before the interrupted run is killed (default: half the first run)")
    parser.add_argument("--no-resume", dest="resume", action="store_false",
                        help="skip the killed and resumed runs (only cold and warm)")
    parser.add_argument("--keep", type=Path, help="keep the table, store and output in this folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        table = work / "million.csv"
        start = time.perf_counter()
        distinct = synthetic_table(table, args.fragments)
        built = time.perf_counter() - start
        first = run_suggest(table, work / "first.db", work / "first.jsonl", args.model)
        rate = args.fragments / first["wall"]
        kill_after = args.kill_after or first["wall"] / 2
        if args.resume:
            killed = run_suggest(table, work / "resumed.db", work / "resumed.jsonl", args.model, kill_after=kill_after)
            resumed = run_suggest(table, work / "resumed.db", work / "resumed.jsonl", args.model)
            (work / "resumed.db").unlink()
        again = run_suggest(table, work / "first.db", work / "again.jsonl", args.model)
        outputs = ["first.jsonl", "again.jsonl"] + (["resumed.jsonl"] if args.resume else [])
        same = len({file_sha256(work / name) for name in outputs}) == 1
        sizes = {name: (work / name).stat().st_size / 2**20 for name in ("million.csv", "first.db", "first.jsonl")}
        print(f"{args.fragments} fragments ({distinct} distinct texts) in {args.fragments // PER_DOCUMENT} documents; "
              f"table built in {built:.0f} s; model {args.model}; {os.cpu_count()} CPUs; "
              f"load average {os.getloadavg()[0]:.1f}; benchmark process peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        print()
        print("| run | wall s | fragments/s | peak RSS MiB |")
        print("|---|---|---|---|")
        print(f"| cold store | {first['wall']:.0f} | {rate:.0f} | {first['rss_mib']:.0f} |")
        if args.resume:
            print(f"| killed (SIGKILL) after {kill_after:.0f} s | {killed['wall']:.0f} | | {killed['rss_mib']:.0f} |")
            print(f"| same command again: finishes the job | {resumed['wall']:.0f} | "
                  f"{args.fragments / resumed['wall']:.0f} | {resumed['rss_mib']:.0f} |")
        print(f"| warm store (everything cached) | {again['wall']:.0f} | {args.fragments / again['wall']:.0f} | "
              f"{again['rss_mib']:.0f} |")
        print()
        names = ", ".join(o.split(".")[0] for o in outputs)
        print(f"Outputs identical ({names}): {same}. Sizes: table {sizes['million.csv']:.0f} MiB, "
              f"store {sizes['first.db']:.0f} MiB, JSONL {sizes['first.jsonl']:.0f} MiB.")


if __name__ == "__main__":
    main()
