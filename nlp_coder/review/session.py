"""A review session: the suggestions of one corpus and codebook, the queue, the reviewer's
decisions (stored in the project store as they are made) and the learning from them.

:func:`open_review` runs ``suggest`` on the corpus (through the store's caches: a second start
embeds nothing) and returns a :class:`ReviewSession`. Every method is safe to call from several
threads (the web app's): one lock guards the state, and the refit runs in a background thread
on a snapshot, swapping its result in when done.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nlp_coder.errors import InputError
from nlp_coder.match.decide import Decisions
from nlp_coder.match.matcher import CodebookMatcher, codebook_texts
from nlp_coder.records import Codebook, Document, Fragment, MatchSettings
from nlp_coder.review.queue import is_random_slot, uncertainty, wilson
from nlp_coder.review.records import (
    ACTIONS,
    CodeProgress,
    ContextTurn,
    DocumentProgress,
    FragmentView,
    Progress,
    ReviewOptions,
    SuggestionView,
)
from nlp_coder.store import ReviewRow, Store

Encode = Callable[[Sequence[str]], np.ndarray]
QUESTION_REACH = 8
"""Turns looked back for the question a fragment answers."""


def _normal(text: str) -> str:
    return " ".join(text.split())


class ReviewSession:
    """The state of a review (see the module docstring). Build it with :func:`open_review`, or
    from a suggest result's parts (the benchmark does).

    Args:
        store: the project store the decisions go to (opened with ``threads=True`` when a web app
            serves the session).
        codebook: the codebook.
        documents: the corpus' documents (for the turns around a fragment).
        decisions: the machine's decisions on every fragment (``SuggestResult.decisions``).
        vectors: the fragments' vectors, one row per fragment.
        matcher: the fitted matcher that made ``decisions``.
        encode: texts to vectors, for texts that are neither the codebook's (the matcher holds
            their vectors) nor fragments (used by refits; default: none are needed).
        run_id: the suggest run the suggestions come from (recorded with each decision).
        options: reviewer, refit interval, random share, seed, context.
    """

    def __init__(self, store: Store, codebook: Codebook, documents: Sequence[Document], decisions: Decisions,
                 vectors: np.ndarray, matcher: CodebookMatcher, encode: Encode | None = None, *,
                 run_id: int | None = None,
                 options: ReviewOptions | None = None) -> None:
        self.options = options or ReviewOptions()
        _check_options(self.options)
        self.store, self.codebook, self.run_id = store, codebook, run_id
        self.documents = {d.id: d for d in documents}
        self.fragments: tuple[Fragment, ...] = decisions.fragments
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self._encode = encode
        self._book_vectors = {_normal(t): v for t, v in zip(codebook_texts(matcher.codebook_), matcher.matrix_)}
        self._lock = threading.RLock()
        ids = [f.id for f in self.fragments]
        unique = len(set(ids)) == len(ids)
        self.keys: tuple[str, ...] = tuple(f.id if unique else f"{f.document}/{f.id}" for f in self.fragments)
        self.index = {k: i for i, k in enumerate(self.keys)}
        self._by_place = {(f.document, f.id): i for i, f in enumerate(self.fragments)}
        self._document_sizes = Counter(f.document for f in self.fragments)
        self.codable = tuple(c for c in codebook.codes if c.codable)
        self._codable_ids = {c.id for c in self.codable}
        self._main = [j for j, c in enumerate(codebook.codes) if c.facet is None and c.codable]
        self.settings: MatchSettings = matcher.settings
        self._set_machine(matcher, decisions)
        rng = np.random.default_rng(self.options.seed)
        self.permutation = rng.permutation(len(self.fragments))
        self._rank = np.empty(len(self.fragments), dtype=np.int64)
        self._rank[self.permutation] = np.arange(len(self.fragments))
        self.current: dict[int, ReviewRow] = {}  # fragment index -> the reviewer's decision in force
        self._history: list[ReviewRow] = []  # decisions in force, oldest first (undo pops the last)
        self._skipped: set[int] = set()
        self._served = 0  # decisions made from the queue (decides whether the next draw is random)
        self._since_refit = 0
        self.refits = 0
        self._refit_thread: threading.Thread | None = None
        self.refit_error: str | None = None
        self.notes: list[str] = []
        self._load()

    # -- the machine's side ----------------------------------------------------------------------
    def _set_machine(self, matcher: CodebookMatcher, decisions: Decisions) -> None:
        self.matcher, self.machine = matcher, decisions
        scores = np.asarray(decisions.score, dtype=np.float64).reshape(len(decisions), len(decisions.codes))
        self._best = scores[:, self._main].max(axis=1) if self._main else np.zeros(len(decisions))
        thresholds = np.array([matcher.threshold_for(c) for c in decisions.codes])
        self.thresholds = thresholds
        self.priority = uncertainty(scores[:, self._main], thresholds[self._main])
        self.overlap = np.array([picks[0][0] == "overlap" for picks in decisions.picks], dtype=bool)
        self.priority = np.where(self.overlap, np.maximum(self.priority, 0.0), self.priority)
        self.machine_codes: list[tuple[str, ...]] = [
            tuple(decisions.codes[j].id for group in picks for j in group[1]) for picks in decisions.picks]
        self._suggested = Counter(code for codes in self.machine_codes for code in codes)

    def _load(self) -> None:
        """The reviewer's earlier decisions on this codebook, from the store."""
        stale = 0
        for row in self.store.review_decisions(self.codebook.sha256, self.options.reviewer):
            i = self._by_place.get((row.document, row.fragment_id))
            if i is None or (self.fragments[i].start, self.fragments[i].end) != (row.start, row.end) \
                    and not self._within(i, row):
                stale += 1
                continue
            self._apply(i, row)
        if stale:
            self.notes.append(f"{stale} earlier decisions of {self.options.reviewer} are on fragments this corpus "
                              "no longer has (changed or removed text); they stay in the store and are not shown")

    def _within(self, i: int, row: ReviewRow) -> bool:
        """Whether a decision's span (maybe widened to a neighbouring sentence) holds fragment ``i``."""
        f = self.fragments[i]
        return row.start <= f.start and f.end <= row.end

    def _apply(self, i: int, row: ReviewRow) -> None:
        self.current[i] = row
        self._history.append(row)

    # -- the queue -------------------------------------------------------------------------------
    @property
    def decided(self) -> int:
        return len(self.current)

    def sample_size(self) -> int:
        """``P``: the first ``P`` fragments of the random permutation are all decided."""
        with self._lock:
            decided = np.zeros(len(self.fragments), dtype=bool)
            decided[list(self.current)] = True
            undecided = np.flatnonzero(~decided[self.permutation])
            return int(undecided[0]) if len(undecided) else len(self.fragments)

    def next(self) -> FragmentView | None:
        """The next fragment to review (``None`` when every fragment is decided): a random draw
        or the most informative pending fragment, by :func:`~nlp_coder.review.queue.is_random_slot`.
        Asking again without deciding gives the same fragment."""
        with self._lock:
            i, drawn = self._pick()
            return None if i is None else self._view(i, drawn)

    def _pick(self) -> tuple[int | None, str]:
        n = len(self.fragments)
        if len(self.current) >= n:
            return None, "active"
        pending = np.ones(n, dtype=bool)
        pending[list(self.current)] = False
        open_ = pending.copy()
        if self._skipped:
            open_[list(self._skipped)] = False
        if not open_.any():  # everything left was skipped: start over on them
            self._skipped.clear()
            open_ = pending
        if is_random_slot(self._served, self.options.random_share):
            for i in self.permutation[self.sample_size():].tolist():
                if open_[i]:
                    return i, "random"
        masked = np.where(open_, self.priority, -np.inf)
        return int(np.argmax(masked)), "active"

    def skip(self, key: str) -> FragmentView | None:
        """Put a fragment aside for now (it comes back once everything else is decided or
        skipped; a fragment of the random sample keeps the sample from growing until decided)."""
        with self._lock:
            self._skipped.add(self._find(key))
            return self.next()

    def view(self, key: str) -> FragmentView:
        """A fragment as the review shows it, by key."""
        with self._lock:
            return self._view(self._find(key), "chosen")

    def _find(self, key: object) -> int:
        if not isinstance(key, str) or key not in self.index:
            shown = str(key)[:60]
            raise InputError(f"unknown fragment {shown!r}", "fragment_id",
                             "Give a fragment id from GET /api/next or /api/fragments", code="E140")
        return self.index[key]

    def _view(self, i: int, drawn: str) -> FragmentView:
        f = self.fragments[i]
        d = self.machine
        picks = d.picks[i]
        shown = list(dict.fromkeys(j for group in picks for j in group[2]))
        suggestions = []
        for j in shown:
            s = d.suggestion(i, j)
            code = d.codes[j]
            suggestions.append(SuggestionView(s.code, s.name, round(float(s.score), 4),
                                              round(float(self.thresholds[j]), 4), bool(s.above_threshold),
                                              s.exemplar, None if s.exemplar_similarity is None
                                              else round(float(s.exemplar_similarity), 4), code.definition))
        def neighbour(k: int) -> tuple[int, int] | None:
            if not 0 <= k < len(self.fragments):
                return None
            g = self.fragments[k]
            return (g.start, g.end) if (g.document, g.turn) == (f.document, f.turn) else None

        return FragmentView(self.keys[i], f.document, f.id, f.speaker, f.start, f.end, f.text, picks[0][0],
                            self.machine_codes[i], tuple(suggestions), self._context(f), drawn, self.current.get(i),
                            neighbour(i - 1), neighbour(i + 1))

    def _context(self, f: Fragment) -> tuple[ContextTurn, ...]:
        doc = self.documents.get(f.document)
        if doc is None or not doc.turns or not 0 <= f.turn < len(doc.turns):
            return (ContextTurn(f.speaker, f.text, "turn", (0, len(f.text))),)

        def text(turn_index: int) -> tuple[str, int]:
            turn = doc.turns[turn_index]
            return doc.text[turn.start:turn.end], turn.start

        out: list[ContextTurn] = []
        first = max(0, f.turn - self.options.before)
        others = [k for k in range(f.turn - 1, max(-1, f.turn - 1 - QUESTION_REACH), -1)
                  if doc.turns[k].speaker is not None and doc.turns[k].speaker != f.speaker]
        # The question it answers: the last turn of another speaker that asks one (a "?"), else the
        # last turn of another speaker (a backchannel such as "Mm-hmm." is passed over for a question).
        question = next((k for k in others if "?" in text(k)[0]), others[0] if others else None)
        if question is not None and question < first:
            out.append(ContextTurn(doc.turns[question].speaker, text(question)[0], "question"))
        for k in range(first, f.turn):
            out.append(ContextTurn(doc.turns[k].speaker, text(k)[0], "question" if k == question else "before"))
        own, start = text(f.turn)
        out.append(ContextTurn(f.speaker, own, "turn", (f.start - start, f.end - start)))
        for k in range(f.turn + 1, min(len(doc.turns), f.turn + 1 + self.options.after)):
            out.append(ContextTurn(doc.turns[k].speaker, text(k)[0], "after"))
        return tuple(out)

    # -- decisions -------------------------------------------------------------------------------
    def decide(self, key: str, action: str, codes: Iterable[str] = (), *, drawn: str | None = None,
               span: tuple[int, int] | None = None) -> ReviewRow:
        """Record the reviewer's decision on a fragment, in the store at once.

        Args:
            key: the fragment's key (``FragmentView.key``).
            action: ``accept`` (the machine's codes are right; for an uncoded fragment: no code
                fits), ``reject`` (no code fits) or ``recode`` (these ``codes`` instead).
            codes: the codes of a ``recode`` (at least one); none for the other actions.
            drawn: how the fragment was drawn (default: as :meth:`next` drew it when it is the
                queue's next, else ``chosen``).
            span: the span coded, when the reviewer widened it to a neighbouring sentence
                (document offsets; must hold the fragment).

        Raises:
            InputError: ``E140`` unknown fragment, ``E141`` unknown action, ``E142`` unknown code,
                ``E143`` codes that do not fit the action, ``E144`` a span that does not hold
                the fragment.
        """
        with self._lock:
            i = self._find(key)
            row = self._row(i, action, codes, drawn, span)
            row = replace(row, id=self.store.save_review_decision(row))
            self._apply(i, row)
            self._skipped.discard(i)
            if row.drawn in ("active", "random"):
                self._served += 1
            self._since_refit += 1
        self._maybe_refit()
        return row

    def _row(self, i: int, action: object, codes: Iterable[str], drawn: str | None,
             span: tuple[int, int] | None) -> ReviewRow:
        if action not in ACTIONS:
            raise InputError(f"unknown action {str(action)[:40]!r}", "action", "Give accept, reject or recode",
                             code="E141")
        if isinstance(codes, str) or not isinstance(codes, Iterable):
            raise InputError("codes must be a list of code ids", "codes", code="E142")
        given = list(codes)
        bad = [c for c in given if not isinstance(c, str) or c not in self._codable_ids]
        if bad:
            raise InputError(f"unknown code {str(bad[0])[:40]!r}", "codes",
                             "Give code ids of the codebook that can be coded (not containers)", code="E142")
        if action == "recode" and not given:
            raise InputError("recode needs at least one code", "codes",
                             "Give the codes that fit, or reject when none does", code="E143")
        if action != "recode" and given:
            raise InputError(f"{action} takes no codes", "codes",
                             "To give codes of your own, use recode", code="E143")
        f = self.fragments[i]
        start, end = f.start, f.end
        if span is not None:
            doc = self.documents.get(f.document)
            limit = len(doc.text) if doc is not None else f.end
            ok = (isinstance(span, (tuple, list)) and len(span) == 2 and all(type(v) is int for v in span))
            if not ok or not (0 <= span[0] <= f.start and f.end <= span[1] <= limit):
                raise InputError("the span must hold the fragment, within its document", "span",
                                 f"Give [start, end] with start <= {f.start} and end >= {f.end}", code="E144")
            start, end = span
        if drawn is None:
            pick, how = self._pick()
            drawn = how if pick == i else "chosen"
        machine = self.machine_codes[i]
        chosen = machine if action == "accept" else tuple(dict.fromkeys(given))
        return ReviewRow(self.codebook.sha256, f.document, f.id, start, end, self.options.reviewer, str(action),
                         chosen, machine, self.run_id, drawn, datetime.now(UTC).isoformat(timespec="seconds"))

    def accept_many(self, keys: Sequence[str]) -> tuple[ReviewRow, ...]:
        """Accept the machine's codes on every fragment of ``keys`` (a filtered list looked at),
        all or none: an unknown key stores nothing."""
        with self._lock:
            indices = [self._find(k) for k in keys]
            rows = []
            for i in indices:
                row = self._row(i, "accept", (), "batch", None)
                row = replace(row, id=self.store.save_review_decision(row))
                self._apply(i, row)
                rows.append(row)
            self._since_refit += len(rows)
        self._maybe_refit()
        return tuple(rows)

    def undo(self) -> FragmentView | None:
        """Take back the reviewer's last decision; returns its fragment (shown again), or
        ``None`` when there is nothing to undo."""
        with self._lock:
            if not self._history:
                return None
            row = self._history.pop()
            self.store.undo_review_decision(row.id)
            i = self._by_place[(row.document, row.fragment_id)]
            earlier = next((r for r in reversed(self._history)
                            if (r.document, r.fragment_id) == (row.document, row.fragment_id)), None)
            if earlier is None:
                del self.current[i]
            else:
                self.current[i] = earlier
            if row.drawn in ("active", "random") and self._served:
                self._served -= 1
            self._since_refit = max(0, self._since_refit - 1)
            return self._view(i, row.drawn)

    # -- listing and progress --------------------------------------------------------------------
    def select(self, *, status: str | None = None, code: str | None = None, document: str | None = None,
               speaker: str | None = None, min_score: float | None = None, max_score: float | None = None,
               decided: str | None = "pending", limit: int | None = None) -> tuple[tuple[str, ...], int]:
        """Keys of the fragments that match a filter (in corpus order), up to ``limit``, and how
        many match in all.

        Args:
            status: the machine's status (coded, overlap, uncoded).
            code: the machine gives this code.
            document, speaker: the fragment's document and speaker.
            min_score, max_score: the best main-code score's range.
            decided: ``pending`` (default), ``decided`` or ``None`` (both).
        """
        if status is not None and status not in ("coded", "overlap", "uncoded"):
            raise InputError(f"unknown status {status[:40]!r}", "status", "Give coded, overlap or uncoded",
                             code="E145")
        if decided not in (None, "pending", "decided"):
            raise InputError(f"unknown decided filter {str(decided)[:40]!r}", "decided",
                             "Give pending or decided", code="E145")
        if code is not None and code not in {c.id for c in self.codebook.codes}:
            raise InputError(f"unknown code {code[:40]!r}", "code", code="E142")
        with self._lock:
            best = self.best_scores()
            keys = []
            total = 0
            for i, f in enumerate(self.fragments):
                if status is not None and self.machine.picks[i][0][0] != status:
                    continue
                if code is not None and code not in self.machine_codes[i]:
                    continue
                if document is not None and f.document != document:
                    continue
                if speaker is not None and f.speaker != speaker:
                    continue
                if min_score is not None and best[i] < min_score:
                    continue
                if max_score is not None and best[i] > max_score:
                    continue
                if decided == "pending" and i in self.current or decided == "decided" and i not in self.current:
                    continue
                total += 1
                if limit is None or len(keys) < limit:
                    keys.append(self.keys[i])
            return tuple(keys), total

    def best_scores(self) -> np.ndarray:
        """Each fragment's best main-code score."""
        return self._best

    def progress(self) -> Progress:
        """Fragments decided, per action, code and document; the estimates from the random sample."""
        with self._lock:
            actions: dict[str, int] = dict.fromkeys(ACTIONS, 0)
            for row in self.current.values():
                actions[row.action] += 1
            size = self.sample_size()
            sample = [self.current[i] for i in self.permutation[:size].tolist()]
            decided_counts: Counter[str] = Counter()
            kept_counts: Counter[str] = Counter()
            for r in self.current.values():
                decided_counts.update(r.suggested)
                kept_counts.update(c for c in r.suggested if c in r.codes)
            answered: Counter[str] = Counter()
            hits: Counter[str] = Counter()
            for r in sample:
                answered.update(r.suggested)
                hits.update(c for c in r.suggested if c in r.codes)
            codes = [CodeProgress(c.id, c.name, self._suggested[c.id], decided_counts[c.id], kept_counts[c.id],
                                  wilson(c.id, hits[c.id], answered[c.id])) for c in self.codable]
            uncoded = [r for r in sample if not r.suggested]
            missed = wilson("missed", sum(bool(r.codes) for r in uncoded), len(uncoded))
            per_doc = {d: [n, 0] for d, n in self._document_sizes.items()}
            for i in self.current:
                per_doc[self.fragments[i].document][1] += 1
            every = self.options.refit_every
            notes = [*self.notes] + ([f"the last refit failed: {self.refit_error}"] if self.refit_error else [])
            return Progress(self.options.reviewer, len(self.fragments), len(self.current), tuple(actions.items()),
                            tuple(codes), tuple(DocumentProgress(d, n, k) for d, (n, k) in per_doc.items()), size,
                            missed, self.refits, self.refitting, max(0, every - self._since_refit) if every else None,
                            tuple(notes))

    # -- learning --------------------------------------------------------------------------------
    @property
    def refitting(self) -> bool:
        thread = self._refit_thread
        return thread is not None and thread.is_alive()

    def _maybe_refit(self) -> None:
        every = self.options.refit_every
        with self._lock:
            if not every or self._since_refit < every or self.refitting:
                return
            self._since_refit = 0
            job = self._snapshot()
            self._refit_thread = threading.Thread(target=self._run_refit, args=(job,), name="nlp-coder-refit",
                                                  daemon=True)
            self._refit_thread.start()

    def _snapshot(self) -> tuple[list[int], list[tuple[str, ...]]]:
        items = sorted(self.current.items())
        return [i for i, _ in items], [r.codes for _, r in items]

    def _run_refit(self, job: tuple[list[int], list[tuple[str, ...]]]) -> None:
        try:
            matcher, decisions = self._fit(*job)
        except Exception as exc:  # reported on the page; the suggestions stay as they were
            self.refit_error = f"{type(exc).__name__}: {exc}"[:300]
            return
        with self._lock:
            self._set_machine(matcher, decisions)
            self.refits += 1
            self.refit_error = None

    def _fit(self, rows: list[int], codes: list[tuple[str, ...]]) -> tuple[CodebookMatcher, Decisions]:
        from nlp_coder.review.learning import refit

        fragments = [self.fragments[i] for i in rows]
        known = dict(self._book_vectors)
        known.update({_normal(f.text): self.vectors[i] for i, f in enumerate(self.fragments)})

        def encode(texts: Sequence[str]) -> np.ndarray:
            texts = list(texts)
            missing = [t for t in texts if _normal(t) not in known]
            if missing:
                if self._encode is None:
                    raise RuntimeError(f"no vector for {missing[0][:40]!r}")
                for t, v in zip(missing, self._encode(missing)):
                    known[_normal(t)] = np.asarray(v, dtype=np.float32)
            if not texts:
                return np.zeros((0, self.vectors.shape[1]), dtype=np.float32)
            return np.stack([known[_normal(t)] for t in texts])

        matcher = refit(self.codebook, self.settings, fragments, self.vectors[rows], codes, encode,
                        seed=self.options.seed)
        return matcher, matcher.decide(self.vectors, self.fragments)

    def refit_now(self) -> None:
        """Refit on the decisions so far and re-score the queue, in this thread (waits for a
        background refit first)."""
        self.wait_for_refit()
        with self._lock:
            job = self._snapshot()
            self._since_refit = 0
        matcher, decisions = self._fit(*job)
        with self._lock:
            self._set_machine(matcher, decisions)
            self.refits += 1

    def wait_for_refit(self, timeout: float | None = None) -> None:
        """Wait until a background refit is done."""
        thread = self._refit_thread
        if thread is not None:
            thread.join(timeout)

    def decisions(self) -> tuple[ReviewRow, ...]:
        """The reviewer's decisions in force, in corpus order."""
        with self._lock:
            return tuple(self.current[i] for i in sorted(self.current))


def _check_options(options: ReviewOptions) -> None:
    if not isinstance(options.reviewer, str) or not options.reviewer.strip() or len(options.reviewer) > 100:
        raise InputError("the reviewer's name must be 1 to 100 characters", "--reviewer", code="E130")
    if options.reviewer.strip().casefold().startswith("nlp-coder"):
        raise InputError(f"{options.reviewer!r} is the machine's own user name", "--reviewer",
                         "Give your own name", code="E130")
    if options.refit_every < 0:
        raise InputError("refit_every must be 0 (never) or more", "--refit-every", code="E130")
    if not 0 <= options.random_share <= 1:
        raise InputError("the random share must be between 0 and 1", "--random-share", code="E130")


def _start_notes(result: Any) -> list[str]:
    """What ``suggest`` said when the review started (the model chosen, what was learned and
    what was left out of the learning), with the learner's lines on single codes
    (``learned: <code>: ...``: ``nlp-coder learn`` prints them) condensed into a count."""
    notes = result.summary.notes if result.summary is not None else ()
    per_code = tuple(f"learned: {c.id}: " for c in result.codebook.codes)
    out = [n for n in notes if not n.startswith(per_code)]
    more = len(notes) - len(out)
    if more:
        at = next((i for i, n in enumerate(out) if n.startswith("learned: ")), None)
        said = f"{more} more line{'s' if more > 1 else ''} on single codes: nlp-coder learn prints them"
        if at is None:
            out.append(said)
        else:
            out[at] += f" ({said})"
    return out


def open_review(corpus: str | Path, codebook: str | Path | Codebook, store: str | Path | Store | None, *,
                options: ReviewOptions | None = None, suggest_options: object = None,
                segment_options: object = None, metadata: str | Path | None = None,
                embedder: object = None, progress: bool = False) -> ReviewSession:
    """Open a review of ``corpus`` against ``codebook``: run ``suggest`` (through the store's
    caches) and load the reviewer's earlier decisions from the store.

    Args:
        corpus, codebook, metadata: as for :func:`nlp_coder.run.suggest`.
        store: the project store's path (opened for use from several threads), an open store,
            or ``None`` for one in memory (the decisions are then lost on exit).
        options: the review's :class:`~nlp_coder.review.records.ReviewOptions`.
        suggest_options, segment_options, embedder: passed to :func:`nlp_coder.run.suggest`;
            ``suggest_options`` defaults to ``SuggestOptions(learn=True)``: the review starts from
            the codebook learned from its exemplars (:mod:`nlp_coder.learn`), and its refits
            build on the learned model's vectors.

    Raises:
        NlpCoderError: as ``suggest`` does, and ``E130`` for invalid review options.
    """
    from nlp_coder.run import SuggestOptions, suggest

    options = options or ReviewOptions()
    _check_options(options)
    opened = Store(store, threads=True) if isinstance(store, (str, Path)) else \
        (store if store is not None else Store(":memory:", threads=True))
    try:
        result = suggest(corpus, codebook, opened, options=suggest_options or SuggestOptions(learn=True),  # type: ignore[arg-type]
                         segment_options=segment_options, metadata=metadata, embedder=embedder,  # type: ignore[arg-type]
                         progress=progress)
        if result.decisions is None or result.vectors is None or result.matcher is None:
            raise InputError("the suggestions cannot be reviewed (no vectors were kept)", str(corpus),
                             "Leave out --cascade", code="E146")
        session = ReviewSession(opened, result.codebook, result.segmentation.documents, result.decisions,
                                result.vectors, result.matcher, run_id=result.run_id, options=options)
        session.notes[:0] = [*result.segmentation.warnings, *_start_notes(result)]
        return session
    except BaseException:
        if opened is not store:
            opened.close()
        raise
