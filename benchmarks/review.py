"""The review loop with a simulated reviewer, and the server's time per decision.

    .venv/bin/python -m benchmarks.review                 # AnnoMI therapist behaviour and Manifesto UK
    .venv/bin/python -m benchmarks.review --data therapist --decisions 0 50 100 --no-timing --seeds 1

The gold labels answer each request: a fragment whose machine codes equal its gold codes is
accepted, one whose gold has no code is rejected, any other is recoded to its gold codes. The
codebook is the evaluation's few-shot one (:func:`nlp_coder.analyses.evaluate.draw_split`, K
exemplars per code from training documents, one split per seed). The review starts as
``review`` does by default: from the codebook learned from those exemplars (the learner's
cross-validated choice, fine-tuned or frozen, kept in ``out/review-learned`` for the next run);
``--no-learn`` starts from the frozen default. The test documents are split in two, every
other one: the *pool* under review and a *held-out* half that is never reviewed. After 0, 50,
100, 200 and 400 decisions the suggestions are compared with the gold (Cohen's kappa):

* ``remaining``: on the pool's fragments not yet decided, the machine's top-1 code;
* ``held-out``: on the held-out half, the top-1 code (what the learning carries to new text);
* ``decided``: on the held-out half, the decision as ``suggest`` makes it (the code when coded,
  the best code of an overlap, none when uncoded).

Two orders are compared: the review's (active, with its random share of 0.25) and a random
order (random share 1); ``--priority`` gives the active order another measure of what to ask
first (``margin``: the two best codes nearest each other, the threshold aside; ``entropy``) and
``--shares 0.25`` runs the active order alone. Refits run every 20 decisions, as in the page,
but in the foreground so that the figures do not depend on timing. Then the server's time per decision: the review app
(in process, through Starlette's test client: routing, JSON, the store's commit) with 10,000
Manifesto fragments loaded, refits off (they run in the background in the page).
Prints Markdown; vectors are cached in ``out/eval-cache.db``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.evaluate import DEFAULT_STORE, Dataset, annomi_dataset, cached_encoder, load_book, manifesto_dataset
from nlp_coder.analyses.evaluate import GoldFragment, draw_split, gold_documents
from nlp_coder.match.matcher import build_matcher
from nlp_coder.match.settings import resolve_settings
from nlp_coder.records import Codebook, Document, Fragment
from nlp_coder.review import ReviewOptions, ReviewSession
from nlp_coder.review.queue import uncertainty
from nlp_coder.store import Store

CHECKPOINTS = (0, 50, 100, 200, 400)
NONE = "(none)"


def fragments_of(gold: Sequence[GoldFragment]) -> list[Fragment]:
    return [Fragment(g.id, g.document, g.speaker, i, 0, len(g.text), g.text) for i, g in enumerate(gold)]


def kappa(truth: Sequence[str], predicted: Sequence[str]) -> float:
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(list(truth), list(predicted))) if truth else float("nan")


def gold_label(g: GoldFragment) -> str:
    return g.codes[0] if g.codes else NONE


def top1(session: ReviewSession, vectors: np.ndarray, fragments: Sequence[Fragment]) -> tuple[list[str], list[str]]:
    """The top-1 main code and the decided code (none when uncoded) of ``vectors`` (the
    fragments' texts: a learned classifier on character n-grams reads them)."""
    decided = session.matcher.decide(vectors, list(fragments))
    main = [j for j, c in enumerate(decided.codes) if c.facet is None and c.codable]
    scores = np.asarray(decided.score).reshape(len(decided), -1)[:, main]
    best = [decided.codes[main[j]].id for j in scores.argmax(axis=1)]
    chosen = [decided.codes[p[0][1][0]].id if p[0][1] else NONE for p in decided.picks]
    return best, chosen


def learned_start(book: Codebook, encode, seed: int, folder: Path | None,  # type: ignore[no-untyped-def]
                  documents: Sequence[Document] = ()):
    """What ``review --learn`` starts from: the codebook learned from its exemplars
    (:func:`nlp_coder.learn.artefact.learn_model`, kept in ``folder``; the exemplars found in
    ``documents``, as the review finds them in its corpus), its matcher and the encoder its vectors
    come from (the fine-tuned one when it chose ``fine-tuned``)."""
    from nlp_coder.embed.models import load_embedder
    from nlp_coder.learn.artefact import learn_model
    from nlp_coder.learn.data import labelled_set
    from nlp_coder.learn.finetune import load_trainable

    settings = resolve_settings(book)
    base = load_embedder("default")
    loaded: list[object] = []

    def trainable() -> object:
        if not loaded:
            loaded.append(load_trainable("default"))
        return loaded[0]

    learned, notes = learn_model(labelled_set(book, corpus=documents), book, settings, encode, base_model=base.model_id,
                                 base_weights_sha256=base.weights_sha256, trainable=trainable, folder=folder,
                                 seed=seed)
    if learned is None:
        raise RuntimeError("; ".join(notes))
    learned_encode = encode
    if learned.encoder is not None:
        cache: dict[str, np.ndarray] = {}

        def learned_encode(texts: Sequence[str]) -> np.ndarray:  # type: ignore[misc]
            texts = list(texts)
            missing = [t for t in dict.fromkeys(texts) if t not in cache]
            if missing:
                cache.update(zip(missing, learned.encoder.encode(missing)))
            return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, learned.encoder.dimensions))
    matcher = learned.matcher(book, settings).fit(learned.codebook(book), learned_encode)
    return learned, matcher, learned_encode


def margin(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Margin sampling: minus the best code's lead over the runner-up (the threshold aside)."""
    if scores.shape[1] < 2:
        return uncertainty(scores, thresholds)
    top = np.sort(scores, axis=1)
    return -(top[:, -1] - top[:, -2])


def entropy(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """The entropy of the main codes' scores, normalised to sum to one."""
    p = np.clip(scores, 1e-6, None)
    p = p / p.sum(axis=1, keepdims=True)
    return -(p * np.log(p)).sum(axis=1)


PRIORITIES = {"threshold-or-lead": uncertainty, "margin": margin, "entropy": entropy}
"""The active orders compared (``--priority``); ``threshold-or-lead`` is the review's
(:func:`nlp_coder.review.queue.uncertainty`)."""


def simulate(data: Dataset, k: int, checkpoints: Sequence[int], share: float, encode, seed: int = 0,  # type: ignore[no-untyped-def]
             limit: int | None = None, learn: bool = True, folder: Path | None = None,
             priority: str = "threshold-or-lead") -> list[dict[str, object]]:
    from unittest import mock

    import nlp_coder.review.session as session_module

    with mock.patch.object(session_module, "uncertainty", PRIORITIES[priority]):
        return _simulate(data, k, checkpoints, share, encode, seed, limit, learn, folder, priority)


def _simulate(data: Dataset, k: int, checkpoints: Sequence[int], share: float, encode, seed: int,  # type: ignore[no-untyped-def]
              limit: int | None, learn: bool, folder: Path | None, priority: str) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        base = load_book(data, Path(tmp))
        codes = [c.id for c in base.codes if c.codable]
        split, _ = draw_split(data.gold, codes, k, seed)
        by_id = {g.id: g for g in data.gold}
        drawn = dict(split.exemplars)
        book: Codebook = replace(base, codes=tuple(
            replace(c, examples=tuple(by_id[i].text for i in drawn.get(c.id, ()))) for c in base.codes))
        test_docs = sorted(split.test_documents)
        pool_docs, held_docs = set(test_docs[0::2]), set(test_docs[1::2])
        pool = [g for g in data.gold if g.document in pool_docs and len(g.codes) <= 1]
        held = [g for g in data.gold if g.document in held_docs and len(g.codes) <= 1]
        if limit:
            pool, held = pool[:limit], held[:limit]
        settings = resolve_settings(book)
        method = "frozen default"
        if learn:
            trained_on = set(split.train_documents)
            documents = gold_documents([g for g in data.gold if g.document in trained_on])
            learned, matcher, encode = learned_start(book, encode, seed, folder, documents)
            method = f"learned: {learned.method}"
        else:
            matcher = build_matcher(settings).fit(book, encode)
        pool_vectors, held_vectors = encode([g.text for g in pool]), encode([g.text for g in held])
        fragments = fragments_of(pool)
        held_fragments = fragments_of(held)
        store = Store(":memory:", threads=True)
        session = ReviewSession(store, book, [], matcher.decide(pool_vectors, fragments), pool_vectors, matcher,
                                encode, options=ReviewOptions(reviewer="gold", refit_every=0, random_share=share,
                                                              seed=seed))
        truth = {f.id: gold_label(g) for f, g in zip(fragments, pool)}
        held_truth = [gold_label(g) for g in held]
        rows = []
        done = 0
        refit_seconds = []
        for checkpoint in checkpoints:
            while done < checkpoint:
                view = session.next()
                if view is None:
                    break
                gold = by_id[view.fragment_id].codes
                if set(gold) == set(view.codes):
                    session.decide(view.key, "accept")
                elif not gold:
                    session.decide(view.key, "reject")
                else:
                    session.decide(view.key, "recode", list(gold))
                done += 1
                if done % 20 == 0:
                    start = time.perf_counter()
                    session.refit_now()
                    refit_seconds.append(time.perf_counter() - start)
            remaining = [i for i in range(len(fragments)) if i not in session.current]
            best, _ = top1(session, pool_vectors[remaining], [fragments[i] for i in remaining]) if remaining \
                else ([], [])
            held_best, held_decided = top1(session, held_vectors, held_fragments)
            rows.append({"data": data.name, "start": method, "seed": seed,
                         "order": f"active ({priority})" if share < 1 else "random", "decisions": done,
                         "pool": len(fragments), "held": len(held),
                         "remaining": kappa([truth[fragments[i].id] for i in remaining], best),
                         "held-out": kappa(held_truth, held_best), "decided": kappa(held_truth, held_decided),
                         "refit s": statistics.mean(refit_seconds) if refit_seconds else float("nan")})
        store.close()
        return rows


def time_decisions(encode, n: int = 10_000, decisions: int = 300, seed: int = 0) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Server time per decision and per next-fragment request with ``n`` fragments loaded."""
    from starlette.testclient import TestClient

    from nlp_coder.review.app import build_app

    data = manifesto_dataset()
    gold = list(data.gold[:n])
    with tempfile.TemporaryDirectory() as tmp:
        book = load_book(data, Path(tmp))
        codes = [c.id for c in book.codes if c.codable]
        split, _ = draw_split(data.gold, codes, 16, seed)
        by_id = {g.id: g for g in data.gold}
        drawn = dict(split.exemplars)
        book = replace(book, codes=tuple(replace(c, examples=tuple(by_id[i].text for i in drawn.get(c.id, ())))
                                         for c in book.codes))
        matcher = build_matcher(resolve_settings(book)).fit(book, encode)
        vectors = encode([g.text for g in gold])
        fragments = fragments_of(gold)
        store = Store(Path(tmp) / "store.db", threads=True)
        session = ReviewSession(store, book, [], matcher.decide(vectors, fragments), vectors, matcher, encode,
                                options=ReviewOptions(reviewer="gold", refit_every=0))
        client = TestClient(build_app(session, "t"), base_url="http://127.0.0.1", headers={"X-Review-Token": "t"})
        post, get = [], []
        for k in range(decisions):
            start = time.perf_counter()
            view = client.get("/api/next").json()["fragment"]
            get.append(time.perf_counter() - start)
            body = {"fragment_id": view["key"], "action": "reject" if k % 3 else "accept"}
            start = time.perf_counter()
            answer = client.post("/api/decisions", json=body)
            post.append(time.perf_counter() - start)
            assert answer.status_code == 200, answer.text
        store.close()
    ms = sorted(1000 * t for t in post)
    return {"fragments": len(fragments), "decisions": decisions, "post median ms": statistics.median(ms),
            "post p95 ms": ms[int(0.95 * len(ms)) - 1], "next median ms": statistics.median(1000 * t for t in get)}


def render(rows: list[dict[str, object]]) -> str:
    lines = ["| data | start | seed | order | decisions | κ remaining | κ held-out (top-1) | κ held-out (decided) | "
             "refit s |", "|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['data']} | {r['start']} | {r['seed']} | {r['order']} | {r['decisions']} | "
                     f"{r['remaining']:.3f} | {r['held-out']:.3f} | {r['decided']:.3f} | {r['refit s']:.1f} |")
    return "\n".join(lines)


def summary(rows: list[dict[str, object]]) -> str:
    """Mean κ over the seeds per data set, order and number of decisions."""
    groups: dict[tuple[object, ...], list[dict[str, object]]] = {}
    for r in rows:
        groups.setdefault((r["data"], r["decisions"], r["order"]), []).append(r)
    lines = ["| data | order | decisions | seeds | κ remaining | κ held-out (top-1) |", "|---|---|---:|---:|---:|---:|"]

    def mean(group: list[dict[str, object]], key: str) -> str:
        return f"{statistics.mean(float(r[key]) for r in group):.3f}"  # type: ignore[arg-type]

    for (data, decisions, order), group in sorted(groups.items(), key=lambda g: (str(g[0][0]), str(g[0][2]),
                                                                                 int(g[0][1]))):  # type: ignore[call-overload]
        lines.append(f"| {data} | {order} | {decisions} | {len(group)} | {mean(group, 'remaining')} | "
                     f"{mean(group, 'held-out')} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", action="append", choices=["therapist", "manifesto"])
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=3, help="Seeds (splits and queues) 0, 1, ...")
    parser.add_argument("--decisions", type=int, nargs="+", default=list(CHECKPOINTS))
    parser.add_argument("--limit", type=int, default=None, help="At most this many pool and held-out fragments.")
    parser.add_argument("--learn", action=argparse.BooleanOptionalAction, default=True,
                        help="Start from the learned codebook, as review does by default (--no-learn: the frozen "
                             "default).")
    parser.add_argument("--priority", choices=sorted(PRIORITIES), default="threshold-or-lead",
                        help="The active order (threshold-or-lead: the review's).")
    parser.add_argument("--shares", type=float, nargs="+", default=[0.25, 1.0],
                        help="Random shares to run (0.25: the review's active order; 1: random order).")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    args = parser.parse_args(argv)
    encode, model = cached_encoder(args.store)
    folder = args.store.parent / "review-learned"  # learned models, reused by the next run
    sets = {"therapist": lambda: annomi_dataset("therapist"), "manifesto": manifesto_dataset}
    rows = []
    for name in args.data or ["therapist", "manifesto"]:
        data = sets[name]()
        for seed in range(args.seeds):
            for share in args.shares:
                start = time.perf_counter()
                made = simulate(data, args.k, args.decisions, share, encode, seed=seed, limit=args.limit,
                                learn=args.learn, folder=folder, priority=args.priority)
                rows.extend(made)
                print(f"{data.name}, seed {seed}, share {share}: {time.perf_counter() - start:.0f} s", flush=True)
                print(render(made), flush=True)
    print(f"\nModel {model}, K = {args.k} exemplars per code, seeds 0-{args.seeds - 1}.\n")
    print(render(rows))
    print()
    print(summary(rows))
    if not args.no_timing:
        t = time_decisions(encode)
        print(f"\nServer time with {t['fragments']} fragments loaded, {t['decisions']} decisions: POST /api/decisions "
              f"median {t['post median ms']:.1f} ms (p95 {t['post p95 ms']:.1f} ms); GET /api/next median "
              f"{t['next median ms']:.1f} ms.")


if __name__ == "__main__":
    main()
