"""The pipeline on real transcripts: AnnoMI conversations rebuilt as speaker-turn text."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_coder.run import read_and_segment
from nlp_coder.segment import SegmentOptions

pytestmark = pytest.mark.shared


def test_annomi_transcripts_segment_with_exact_offsets(tmp_path: Path) -> None:
    from benchmarks.realdata import rebuild_annomi_transcripts

    written = rebuild_annomi_transcripts(tmp_path)
    assert len(written) == 133
    seg = read_and_segment(tmp_path, SegmentOptions(pipeline="blank"))
    docs = {d.id: d for d in seg.documents}
    assert set(docs) == set(written)
    for f in seg.fragments:
        assert docs[f.document].text[f.start:f.end] == f.text
    # The therapist is recognised as the interviewer: only client talk is coded.
    assert {f.speaker for f in seg.fragments} == {"client"}
    for name, utterances in written.items():
        doc = docs[name]
        assert [t.speaker for t in doc.turns] == [u.speaker for u in utterances]
        assert [t.timestamp for t in doc.turns] == [u.timestamp for u in utterances]
        for turn, u in zip(doc.turns, utterances):
            assert doc.text[turn.start:turn.end] == " ".join(u.text.split())
    # Every fragment lies inside a client turn, and long client turns are all covered.
    by_turn: dict[tuple[str, int], list[str]] = {}
    for f in seg.fragments:
        by_turn.setdefault((f.document, f.turn), []).append(f.text)
    for (name, index), texts in by_turn.items():
        turn_text = docs[name].text[docs[name].turns[index].start:docs[name].turns[index].end]
        assert all(t in turn_text for t in texts)
    therapist_all = read_and_segment(tmp_path, SegmentOptions(pipeline="blank", speakers=("therapist",)))
    assert {f.speaker for f in therapist_all.fragments} == {"therapist"}
