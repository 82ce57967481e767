"""Streaming suggest: chunks, bounded results, the segmentation cache and the JSONL written as it goes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SMALL_TRANSCRIPT

from nlp_coder import run as pipeline
from nlp_coder.cli import main
from nlp_coder.errors import InputError
from nlp_coder.export.tables import decision_lines, summarise
from nlp_coder.run import SuggestOptions, suggest
from nlp_coder.segment import SegmentOptions
from nlp_coder.store import Store

MORE = """\
Interviewer: And the second visit?
Father: The worker explained the plan for the school run. It was clear and she was patient with us.
Father: I still do not know who to call when the money runs out.
Interviewer: Right.
Father: She said she would ring back and she never did.
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for n in range(1, 6):
        (folder / f"interview-{n}.txt").write_text(SMALL_TRANSCRIPT if n % 2 else MORE, encoding="utf-8")
    return folder


def _run(corpus: Path, codebook: Path, db: Path, embedder, **kwargs):  # type: ignore[no-untyped-def]
    return suggest(corpus, codebook, db, options=SuggestOptions(model="hash-test"), embedder=embedder,
                   segment_options=SegmentOptions(pipeline="blank"), **kwargs)


def test_chunks_change_nothing_but_memory(tmp_path: Path, corpus: Path, codebook_file: Path, embedder) -> None:
    whole = _run(corpus, codebook_file, tmp_path / "a.db", embedder)
    chunks: list[int] = []
    lines: list[str] = []

    def sink(results, chunk_lines) -> None:  # type: ignore[no-untyped-def]
        chunks.append(len(results))
        lines.extend(chunk_lines)

    streamed = _run(corpus, codebook_file, tmp_path / "b.db", embedder, chunk_size=1, sink=sink, keep_results=False)
    assert len(chunks) == 5  # whole documents stay together: one chunk per document
    assert lines == decision_lines(whole.decisions)
    assert streamed.results == () and streamed.decisions is None and streamed.vectors is None
    assert streamed.summary == summarise(whole.decisions, whole.codebook)
    assert streamed.manifest.fragments == whole.manifest.fragments == len(lines)
    # A text met in several chunks counts once: embedded in the first, not "from cache" later.
    distinct = len({json.loads(line)["text"] for line in lines})
    assert (streamed.embedded, streamed.cached) == (whole.embedded, whole.cached)
    assert streamed.embedded + streamed.cached == distinct
    with Store(tmp_path / "b.db") as store:
        [(_, _, _, status, manifest)] = store.runs()
        assert status == "finished" and manifest["fragments"] == len(lines)
        assert store.count("suggestions") == len(lines)


def _traced_per_chunk(corpus: Path, codebook: Path, db: Path, embedder, keep_results: bool) -> list[int]:  # type: ignore[no-untyped-def]
    """The memory Python holds (tracemalloc, numpy's arrays included) each time a chunk has been
    handed to the sink, after a garbage collection: what the run keeps from chunk to chunk."""
    import gc
    import tracemalloc

    held: list[int] = []

    def sink(decided, lines) -> None:  # type: ignore[no-untyped-def]
        gc.collect()
        held.append(tracemalloc.get_traced_memory()[0])

    tracemalloc.start()
    try:
        _run(corpus, codebook, db, embedder, chunk_size=1, sink=sink, keep_results=keep_results)
    finally:
        tracemalloc.stop()
    return held


def test_memory_stays_flat_from_chunk_to_chunk_without_keep_results(tmp_path: Path, corpus: Path,
                                                                     codebook_file: Path, embedder) -> None:
    """With ``keep_results=False`` the run holds no result or vector of a chunk it has handed on:
    over 30 chunks its memory grows by a small fraction of what the same run keeping its results
    grows by (a few KB per fragment: results, reasons, vectors)."""
    big = tmp_path / "big"
    big.mkdir()
    words = "warm kind forms housing listened bus late school money call plan patient clear".split()
    for d in range(30):  # distinct text in every document: nothing is shared between chunks
        said = [" ".join(words[(d * 7 + i * 3 + k) % len(words)] for k in range(6)) for i in range(10)]
        (big / f"interview-{d:02}.txt").write_text(
            "Interviewer: Go on.\n" + "".join(f"Mother: On visit {d}, part {i}, she was {w} with us.\n"
                                              for i, w in enumerate(said)), encoding="utf-8")
    _run(corpus, codebook_file, tmp_path / "warm.db", embedder)  # spaCy and the imports, before measuring
    streamed = _traced_per_chunk(big, codebook_file, tmp_path / "streamed.db", embedder, keep_results=False)
    kept = _traced_per_chunk(big, codebook_file, tmp_path / "kept.db", embedder, keep_results=True)
    assert len(streamed) == len(kept) == 30
    # From the second chunk on (the first one sets up the matcher and the caches).
    kept_growth, streamed_growth = kept[-1] - kept[1], streamed[-1] - streamed[1]
    assert kept_growth > 28 * 10 * 1000  # the instrument sees results kept: over 1 KB per fragment
    assert streamed_growth < kept_growth / 10, (streamed_growth, kept_growth)


def test_a_second_run_reuses_the_segmentation(tmp_path: Path, corpus: Path, codebook_file: Path, embedder,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "p.db"
    first = _run(corpus, codebook_file, db, embedder)

    def no_spacy(*args: str):  # type: ignore[no-untyped-def]
        raise AssertionError("spaCy was loaded although every document was cut before")

    monkeypatch.setattr("nlp_coder.segment.load_pipeline", no_spacy)  # the segmentation cache lives in segment
    second = _run(corpus, codebook_file, db, embedder)
    assert second.results == first.results
    assert second.manifest == first.manifest  # the pipeline's name comes from the cache
    (corpus / "interview-1.txt").write_text(SMALL_TRANSCRIPT + "Mother: One more thing about the forms.\n",
                                            encoding="utf-8")
    with pytest.raises(AssertionError, match="spaCy was loaded"):  # a changed document is cut again
        _run(corpus, codebook_file, db, embedder)


def test_segmentation_cache_depends_on_the_options(tmp_path: Path, corpus: Path, embedder) -> None:
    from nlp_coder.readers import read_corpus
    from nlp_coder.segment import Segmenter

    [doc, *_] = read_corpus(corpus)
    keys = {Segmenter(SegmentOptions(pipeline="blank", **change)).key(doc)
            for change in ({}, {"min_words": 1}, {"unit": "turn"}, {"speakers": ("Mother",)})}
    assert len(keys) == 4
    with Store(tmp_path / "p.db") as store:
        cut = Segmenter(SegmentOptions(pipeline="blank"), store).fragments_many([doc])[0]
        again = Segmenter(SegmentOptions(pipeline="blank"), store)
        assert again.fragments_many([doc])[0] == cut and again.nlp is None
        assert store.count("segmentations") == 1


def test_no_fragment_leaves_no_run(tmp_path: Path, corpus: Path, codebook_file: Path, embedder) -> None:
    db = tmp_path / "p.db"
    with pytest.raises(InputError, match="no fragments to code"):
        suggest(corpus, codebook_file, db, options=SuggestOptions(model="hash-test"), embedder=embedder,
                segment_options=SegmentOptions(pipeline="blank", speakers=("Nobody",)))
    with Store(db) as store:
        assert store.runs() == [] and store.count("suggestions") == 0


def test_jsonl_is_streamed_and_only_appears_complete(tmp_path: Path, corpus: Path, codebook_file: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.jsonl"
    args = ["suggest", str(corpus), "-c", str(codebook_file), "--model", "hash-test", "--spacy", "blank",
            "--db", str(tmp_path / "p.db"), "--out", str(out)]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["fragment_id"] for r in records][:2] == ["interview-1.txt#2.1", "interview-1.txt#2.2"]

    calls = 0
    real = pipeline.embed_cached

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 3:  # the codebook, the first chunk, then the second chunk fails
            raise InputError("simulated failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "embed_cached", failing)
    monkeypatch.setattr(pipeline, "DEFAULT_CHUNK", 1)
    broken = tmp_path / "broken.jsonl"
    args[-1] = str(broken)
    failed = CliRunner().invoke(main, args)
    assert failed.exit_code == 1 and "simulated failure" in failed.output
    assert not broken.exists() and not list(tmp_path.glob(".broken.jsonl.*"))


def test_where_on_streamed_jsonl_keeps_exactly_the_selected_lines(tmp_path: Path, codebook_file: Path) -> None:
    table = tmp_path / "table.csv"  # the same ids in two documents
    table.write_text("id,document,text\n1,a,She was warm and kind to my kids.\n2,a,The bus was late again.\n"
                     "1,b,She helped me fill in the forms for housing.\n2,b,She really listened to me.\n",
                     encoding="utf-8")
    common = ["suggest", str(table), "-c", str(codebook_file), "--model", "hash-test", "--threshold", "0.0",
              "--db", str(tmp_path / "p.db")]
    everything = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "all.jsonl")])
    assert everything.exit_code == 0, everything.output
    records = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()]
    code = records[0]["codes"][0]
    selected = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "some.jsonl"), "--where", code])
    assert selected.exit_code == 0, selected.output
    kept = [json.loads(line) for line in (tmp_path / "some.jsonl").read_text(encoding="utf-8").splitlines()]
    assert kept == [r for r in records if code in r["codes"]] and 0 < len(kept) < len(records)


def test_a_run_thaws_the_heap_it_froze_and_leaves_a_callers_freeze_alone(tmp_path: Path, corpus: Path,
                                                                         codebook_file: Path, embedder) -> None:
    import gc

    frozen_during: list[int] = []

    def sink(decided, lines) -> None:  # type: ignore[no-untyped-def]
        frozen_during.append(gc.get_freeze_count())

    assert gc.get_freeze_count() == 0
    _run(corpus, codebook_file, tmp_path / "a.db", embedder, sink=sink, keep_results=False)
    assert frozen_during and min(frozen_during) > 0  # the objects older than the run were frozen
    assert gc.get_freeze_count() == 0  # and thawed after it
    gc.freeze()
    try:
        mine = gc.get_freeze_count()
        _run(corpus, codebook_file, tmp_path / "b.db", embedder)
        assert 0 < gc.get_freeze_count() <= mine  # a caller's freeze: neither thawed nor extended
    finally:
        gc.unfreeze()
