"""The review loop's library: queue, decisions in the store, undo, persistence, estimates, refit, export."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlp_coder.embed.models import HashingEmbedder
from nlp_coder.errors import InputError
from nlp_coder.refi import MACHINE_USER, read_codings
from nlp_coder.review import ReviewOptions, export_review, open_review
from nlp_coder.review.queue import is_random_slot, uncertainty, wilson
from nlp_coder.run import SuggestOptions
from nlp_coder.store import Store

TRANSCRIPT = """\
Interviewer: How did the assessment go?
Mother: She helped me fill in the forms for housing. She was warm and kind to my kids.
Interviewer: And the meetings?
Mother: She really listened to what I said. He drove me to the hospital appointment.
Interviewer: Anything else?
Mother: The bus was late again so I walked. They arranged childcare so I could rest.
Mother: He listened carefully and took notes. It was awful and unfair.
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (folder / "b.txt").write_text(TRANSCRIPT.replace("Mother", "Father"), encoding="utf-8")
    return folder


def open_session(corpus: Path, codebook: Path, db: Path | None, **options: object):  # type: ignore[no-untyped-def]
    return open_review(corpus, codebook, db, embedder=HashingEmbedder(), suggest_options=SuggestOptions(threshold=0.2),
                       options=ReviewOptions(**{"refit_every": 0, **options}))  # type: ignore[arg-type]


@pytest.fixture
def session(corpus: Path, codebook_file: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = open_session(corpus, codebook_file, tmp_path / "store.db", reviewer="alice")
    yield opened
    opened.store.close()


def stored(db: Path) -> list[tuple[object, ...]]:
    with Store(db) as store:
        return list(store.connection.execute("SELECT fragment_id, action, codes, undone_at FROM review_decisions"))


def test_next_is_stable_until_a_decision_and_shows_evidence_and_context(session) -> None:  # type: ignore[no-untyped-def]
    first = session.next()
    assert session.next() == first
    assert first.suggestions and first.suggestions[0].definition  # the main codes come first
    main = [s.score for s in first.suggestions if s.code not in ("positive", "negative")]
    assert main == sorted(main, reverse=True)
    roles = [t.role for t in first.context]
    assert "turn" in roles
    turn = next(t for t in first.context if t.role == "turn")
    assert turn.text[slice(*turn.highlight)] == first.text
    assert first.decision is None
    session.decide(first.key, "reject")
    assert session.next().key != first.key


def test_the_question_a_fragment_answers_is_in_its_context(session) -> None:  # type: ignore[no-untyped-def]
    key = next(k for k, f in zip(session.keys, session.fragments) if f.text.startswith("She really listened"))
    context = session.view(key).context
    question = [t for t in context if t.role == "question"]
    assert question and question[-1].text == "And the meetings?" and question[-1].speaker == "Interviewer"


def test_decisions_are_stored_as_they_are_made_with_reviewer_action_and_suggestion(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = session.next()
    row = session.decide(view.key, "accept")
    assert row.codes == view.codes == row.suggested
    assert row.reviewer == "alice" and row.action == "accept" and row.run_id and row.drawn in ("active", "random")
    other = session.next()
    recoded = session.decide(other.key, "recode", ["warmth", "listening", "warmth"])
    assert recoded.codes == ("warmth", "listening")
    rows = stored(tmp_path / "store.db")
    assert [(r[0], r[1]) for r in rows] == [(view.fragment_id, "accept"), (other.fragment_id, "recode")]
    with Store(tmp_path / "store.db") as store:  # never mixed with the machine's suggestions
        assert store.count("suggestions") == len(session.fragments)


@pytest.mark.parametrize(("action", "codes", "code"), [
    ("maybe", [], "E141"), ("recode", ["nonsense"], "E142"), ("recode", ["care"], "E142"), ("recode", [], "E143"),
    ("accept", ["support"], "E143"), ("reject", ["support"], "E143"), ("recode", "support", "E142"),
])
def test_bad_decisions_store_nothing(session, tmp_path: Path, action: str, codes: object, code: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as caught:
        session.decide(session.next().key, action, codes)  # type: ignore[arg-type]
    assert caught.value.code == code
    with pytest.raises(InputError) as unknown:
        session.decide("no-such-fragment", "accept")
    assert unknown.value.code == "E140"
    assert stored(tmp_path / "store.db") == [] and session.decided == 0


def test_a_span_widened_to_the_next_sentence_is_kept_and_a_bad_one_refused(session) -> None:  # type: ignore[no-untyped-def]
    f = session.fragments[0]
    nxt = session.fragments[1]
    row = session.decide(session.keys[0], "recode", ["support"], span=(f.start, nxt.end))
    assert (row.start, row.end) == (f.start, nxt.end)
    with pytest.raises(InputError) as caught:
        session.decide(session.keys[1], "reject", span=(nxt.start + 1, nxt.end))
    assert caught.value.code == "E144"


def test_undo_takes_back_the_last_decision_and_shows_its_fragment_again(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = session.next()
    session.decide(a.key, "accept")
    b = session.next()
    session.decide(b.key, "reject")
    session.decide(b.key, "recode", ["support"])  # a change of mind: the latest decision is in force
    assert session.view(b.key).decision.action == "recode"
    assert session.undo().key == b.key
    assert session.view(b.key).decision.action == "reject"
    session.undo()
    assert session.view(b.key).decision is None and session.decided == 1
    session.undo()
    assert session.undo() is None and session.decided == 0
    assert all(r[3] is not None for r in stored(tmp_path / "store.db"))


def test_decisions_survive_a_restart(corpus: Path, codebook_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    first = open_session(corpus, codebook_file, db, reviewer="alice")
    keys = [first.next().key]
    first.decide(keys[0], "recode", ["listening"])
    keys.append(first.next().key)
    first.decide(keys[1], "reject")
    first.store.close()
    again = open_session(corpus, codebook_file, db, reviewer="alice")
    assert again.decided == 2 and again.view(keys[0]).decision.codes == ("listening",)
    assert again.next().key not in keys
    again.store.close()
    bob = open_session(corpus, codebook_file, db, reviewer="bob")  # each reviewer has their own decisions
    assert bob.decided == 0
    bob.store.close()


def test_the_random_share_is_a_prefix_of_one_permutation(session) -> None:  # type: ignore[no-untyped-def]
    drawn = []
    for _ in range(8):
        view = session.next()
        drawn.append(view.drawn)
        session.decide(view.key, "accept")
    assert drawn.count("random") == 2  # a quarter, every fourth draw
    assert session.sample_size() >= 0
    progress = session.progress()
    assert progress.decided == 8 and dict(progress.actions)["accept"] == 8
    sample = [session.current[i] for i in session.permutation[:progress.sample].tolist()]
    assert len(sample) == progress.sample
    for code in progress.codes:  # accepting everything: every estimate that has data is 1
        if code.precision.n:
            assert code.precision.value == 1.0 and code.precision.low < 1.0


def test_the_estimates_come_from_the_random_sample_only(corpus: Path, codebook_file: Path) -> None:
    session = open_session(corpus, codebook_file, None, random_share=1.0)
    for _ in range(len(session.fragments)):
        view = session.next()
        assert view.drawn == "random"
        session.decide(view.key, "reject")
    progress = session.progress()
    assert progress.sample == len(session.fragments)
    coded = [c for c in progress.codes if c.suggested]
    assert coded and all(c.precision.value == 0.0 and c.precision.n == c.suggested for c in coded)
    assert session.next() is None


def test_skip_puts_a_fragment_aside(session) -> None:  # type: ignore[no-untyped-def]
    first = session.next()
    assert session.skip(first.key).key != first.key


def test_select_filters_and_batch_accept_is_all_or_nothing(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keys, total = session.select(document="a.txt")
    assert total == len(keys) and all(session.view(k).document == "a.txt" for k in keys)
    coded, _ = session.select(status="coded", min_score=0.2)
    assert all(session.view(k).status == "coded" for k in coded)
    with pytest.raises(InputError):
        session.accept_many([*keys[:2], "missing"])
    assert stored(tmp_path / "store.db") == []
    rows = session.accept_many(keys[:3])
    assert [r.drawn for r in rows] == ["batch"] * 3
    assert session.select(document="a.txt")[1] == total - 3
    assert session.select(document="a.txt", decided="decided")[1] == 3
    with pytest.raises(InputError) as caught:
        session.select(status="maybe")
    assert caught.value.code == "E145"


def test_refit_learns_from_the_decisions_and_rescores_the_queue(session) -> None:  # type: ignore[no-untyped-def]
    before = [v for v in session.machine_codes]
    for key, f in zip(session.keys, session.fragments):
        if "listen" in f.text:
            session.decide(key, "recode", ["listening"])
        elif "bus" in f.text or "awful" in f.text:
            session.decide(key, "reject")
    session.refit_now()
    assert session.refits == 1
    assert session.machine_codes != before or session.priority is not None


def test_a_review_starts_from_the_learned_codebook_unless_told_not_to(tmp_path: Path) -> None:
    """``open_review`` learns the codebook by default (the learner's line is among the notes,
    and the machine is the learned model's matcher); refits build on the same vectors;
    ``learn=False`` keeps the frozen default."""
    from nlp_coder.learn.artefact import LearnedMatcher

    root = Path(__file__).resolve().parent.parent
    corpus, book = root / "corpus" / "interview-01.txt", root / "codebooks" / "working-alliance.yaml"
    learned = open_review(corpus, book, None, embedder=HashingEmbedder(), options=ReviewOptions(refit_every=0))
    frozen = open_review(corpus, book, None, embedder=HashingEmbedder(), options=ReviewOptions(refit_every=0),
                         suggest_options=SuggestOptions(learn=False))
    try:
        assert any(n.startswith("learned: ") for n in learned.notes)
        assert isinstance(learned.matcher, LearnedMatcher) and not isinstance(frozen.matcher, LearnedMatcher)
        assert not any(n.startswith("learned") for n in frozen.notes)
        code = learned.codable[0].id
        learned.decide(learned.next().key, "recode", [code])
        learned.decide(learned.next().key, "reject")  # a negative for every code
        learned.refit_now()
        assert learned.refits == 1 and learned.refit_error is None
        assert code in learned.matcher.heads_  # a classifier on the learned vectors
    finally:
        learned.store.close()
        frozen.store.close()


def test_what_the_learner_says_at_start_is_not_dropped(corpus: Path, tmp_path: Path) -> None:
    """Every note of the learned start reaches the review (a code left out of the learning, the
    learner's line); only the per-code detail lines are condensed into a count."""
    from conftest import SMALL_CODEBOOK

    book = tmp_path / "book.yaml"
    book.write_text(SMALL_CODEBOOK.replace("facets:", "  - id: humour\n    name: Humour\n"
                                           "    definition: The professional made a joke.\nfacets:"), encoding="utf-8")
    session = open_review(corpus, book, None, embedder=HashingEmbedder(), options=ReviewOptions(refit_every=0))
    try:
        assert any("not learned: humour" in n for n in session.notes)
        assert not any(n.startswith(("learned: support: ", "learned: warmth: ")) for n in session.notes)
        assert sum("more lines on single codes" in n for n in session.notes) == 1
    finally:
        session.store.close()


def test_refit_runs_in_the_background_every_n_decisions(corpus: Path, codebook_file: Path) -> None:
    session = open_session(corpus, codebook_file, None, refit_every=3)
    for _ in range(3):
        session.decide(session.next().key, "recode", ["support"])
    session.wait_for_refit(60)
    assert session.refits == 1 and session.refit_error is None
    assert session.progress().next_refit == 3


def test_the_machines_own_name_is_not_a_reviewer(corpus: Path, codebook_file: Path) -> None:
    with pytest.raises(InputError) as caught:
        open_session(corpus, codebook_file, None, reviewer="nlp-coder")
    assert caught.value.code == "E130"


def test_export_keeps_reviewer_and_machine_apart(session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recoded = session.next()
    session.decide(recoded.key, "recode", ["warmth"])
    rejected = session.next()
    session.decide(rejected.key, "reject")
    for suffix in ("csv", "qdpx"):
        out = tmp_path / f"review.{suffix}"
        written = export_review(session, out)
        codings = read_codings(out).codings
        assert len(codings) == written
        mine = [c for c in codings if c.coder == "alice"]
        assert [(c.document, c.start, c.code) for c in mine] == [(recoded.document, recoded.start, "warmth")]
        machine = [c for c in codings if c.coder == MACHINE_USER]
        places = {(c.document, c.start) for c in machine}
        assert (recoded.document, recoded.start) not in places and (rejected.document, rejected.start) not in places
        assert {c.code for c in machine} & {"nlp-coder-uncoded", "nlp-coder-overlap"}
    with pytest.raises(InputError) as caught:
        export_review(session, tmp_path / "review.txt")
    assert caught.value.code == "E104"


@given(st.integers(0, 500), st.integers(0, 500))
def test_wilson_interval_holds_the_share(hits: int, extra: int) -> None:
    n = hits + extra
    estimate = wilson("x", hits, n)
    if n == 0:
        assert estimate.value is None
    else:
        assert 0.0 <= estimate.low <= estimate.value <= estimate.high <= 1.0


@given(st.floats(0.0, 1.0), st.integers(1, 400))
def test_random_slots_are_the_share_of_the_draws(share: float, draws: int) -> None:
    count = sum(is_random_slot(k, share) for k in range(draws))
    assert abs(count - share * draws) <= 1


@given(st.lists(st.lists(st.floats(0, 1), min_size=3, max_size=3), min_size=2, max_size=20))
def test_the_active_order_asks_first_where_the_best_code_is_nearest_its_threshold_or_the_runner_up(
        rows: list[list[float]]) -> None:
    import numpy as np

    scores = np.array(rows)
    thresholds = np.array([0.3, 0.5, 0.7])
    priority = uncertainty(scores, thresholds)
    best = scores.argmax(axis=1)
    top = np.sort(scores, axis=1)
    gap = np.minimum(np.abs(top[:, -1] - thresholds[best]), top[:, -1] - top[:, -2])
    assert np.allclose(priority, -gap)
    one = uncertainty(scores[:, :1], thresholds[:1])  # a single code: its distance to the threshold
    assert np.allclose(one, -np.abs(scores[:, 0] - 0.3))


def test_forgetting_a_document_removes_its_review_decisions(corpus: Path, codebook_file: Path,
                                                            tmp_path: Path) -> None:
    from nlp_coder.privacy.store import forget_documents

    db = tmp_path / "store.db"
    session = open_session(corpus, codebook_file, db, reviewer="alice")
    firsts = {}
    for key, fragment in zip(session.keys, session.fragments):
        firsts.setdefault(fragment.document, key)
    for key in firsts.values():  # one decision in each document
        session.decide(key, "reject")
    session.store.close()
    with Store(db) as store:
        documents = [row[0] for row in store.connection.execute("SELECT document FROM review_decisions")]
    assert "a.txt" in documents
    forgot = forget_documents(db, ["a.txt"])
    assert forgot.review_decisions == documents.count("a.txt")
    with Store(db) as store:
        left = [row[0] for row in store.connection.execute("SELECT document FROM review_decisions")]
    assert left == [d for d in documents if d != "a.txt"]


def test_export_pseudonymised_keeps_no_name_and_moves_the_codings(tmp_path: Path, codebook_file: Path) -> None:
    import zipfile

    from click.testing import CliRunner

    from nlp_coder.cli import main

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(TRANSCRIPT.replace("Mother:", "Sarah:")
                                  + "Sarah: Write to sarah.jones@example.org if you need me.\n", encoding="utf-8")
    db, key, out = tmp_path / "store.db", tmp_path / "key.yaml", tmp_path / "review.qdpx"
    session = open_review(folder, codebook_file, db, embedder=HashingEmbedder(),
                          suggest_options=SuggestOptions(model="hash-test", threshold=0.2),
                          options=ReviewOptions(reviewer="alice", refit_every=0))
    view = next(v for v in (session.view(k) for k in session.keys) if v.text.startswith("She helped me"))
    session.decide(view.key, "recode", ["warmth"])
    session.store.close()
    args = ["review", str(folder), "-c", str(codebook_file), "-m", "hash-test", "--threshold", "0.2", "--db", str(db),
            "--reviewer", "alice"]
    refused = CliRunner().invoke(main, [*args, "--pseudonymise", str(key), "--no-browser"])
    assert refused.exit_code == 2 and "--export only" in refused.output and not key.exists()
    result = CliRunner().invoke(main, [*args, "--export", str(out), "--pseudonymise", str(key)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as project:
        raw = b"".join(project.read(name) for name in project.namelist())
    assert b"Sarah" not in raw and b"sarah.jones" not in raw
    assert "Sarah" in key.read_text(encoding="utf-8")
    from nlp_coder.refi.read import read_qdpx

    project = read_qdpx(out)
    mine = [c for c in project.codings if c.coder == "alice"]
    assert [c.code for c in mine] == ["warmth"]
    text = next(d.text for d in project.documents if d.id == "a.txt")
    assert "Person 1: She helped me" in text and "[Email 1]" in text
    assert text[mine[0].start:mine[0].end].startswith("She helped me")


def test_export_pseudonymised_replaces_names_in_the_codebook_too(tmp_path: Path) -> None:
    import zipfile

    from conftest import SMALL_CODEBOOK

    from nlp_coder.privacy.pseudonymise import open_key_file
    from nlp_coder.review import export_review

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(TRANSCRIPT.replace("Mother:", "Sarah:"), encoding="utf-8")
    book = tmp_path / "codebook.yaml"  # an exemplar quoted from a pilot interview names her
    book.write_text(SMALL_CODEBOOK.replace("She was warm and kind to my kids.", "Sarah was warm and kind to my kids."),
                    encoding="utf-8")
    session = open_review(folder, book, tmp_path / "store.db", embedder=HashingEmbedder(),
                          suggest_options=SuggestOptions(model="hash-test", threshold=0.2),
                          options=ReviewOptions(reviewer="alice", refit_every=0))
    try:
        out = tmp_path / "review.qdpx"
        export_review(session, out, pseudonymiser=open_key_file(tmp_path / "key.yaml"))
    finally:
        session.store.close()
    with zipfile.ZipFile(out) as project:
        raw = b"".join(project.read(name) for name in project.namelist())
    assert b"Sarah" not in raw and b"[Person 1] was warm and kind" in raw


def test_export_pseudonymised_csv_renames_a_document_named_after_someone(tmp_path: Path, codebook_file: Path) -> None:
    from nlp_coder.privacy.pseudonymise import open_key_file
    from nlp_coder.review import export_review

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "interview-Sarah.txt").write_text(TRANSCRIPT.replace("Mother:", "Sarah:"), encoding="utf-8")
    session = open_review(folder, codebook_file, tmp_path / "store.db", embedder=HashingEmbedder(),
                          suggest_options=SuggestOptions(model="hash-test", threshold=0.2),
                          options=ReviewOptions(reviewer="alice", refit_every=0))
    try:
        out = tmp_path / "review.csv"
        assert export_review(session, out, pseudonymiser=open_key_file(tmp_path / "key.yaml")) > 0
    finally:
        session.store.close()
    text = out.read_text(encoding="utf-8")
    assert "Sarah" not in text and "interview-[Person 1].txt," in text


def test_export_with_a_wrong_suffix_is_refused_before_any_work(tmp_path: Path, corpus: Path,
                                                                codebook_file: Path) -> None:
    from click.testing import CliRunner

    from nlp_coder.cli import main

    db = tmp_path / "store.db"
    result = CliRunner().invoke(main, ["review", str(corpus), "-c", str(codebook_file), "-m", "hash-test",
                                       "--db", str(db), "--export", str(tmp_path / "review.txt")])
    assert result.exit_code == 1 and "Error E104" in result.output
    assert not db.exists()  # refused before the corpus was coded: no store made
