"""Inter-coder agreement: two CSVs, two users of one project, human vs machine; AnnoMI's ten coders."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SHARED
from refi_projects import TRANSCRIPT_1, TRANSCRIPT_2, make_qdpx
from sklearn.metrics import cohen_kappa_score

from nlp_coder.analyses.agree import OVERALL, Rater, agreement, agreement_from_inputs
from nlp_coder.cli import main
from nlp_coder.refi import Coding, read_codings

# Five passages of document d; coder A and coder B, one code each (x or y), or none.
SPANS = [(0, 10), (10, 20), (20, 30), (30, 40), (40, 50)]
A = ["x", "x", "y", "x", None]
B = ["x", "y", "y", None, None]


def _csv(path: Path, coder: str, labels: list[str | None]) -> Path:
    rows = ["document,start,end,code,coder"]
    rows += [f"d,{s},{e},{code},{coder}" for (s, e), code in zip(SPANS, labels) if code]
    rows.append("d,50,60,,")  # an uncoded row: the document is covered, nothing is coded
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_fragment_level_matches_a_direct_computation(tmp_path: Path) -> None:
    a, b = _csv(tmp_path / "a.csv", "ann", A), _csv(tmp_path / "b.csv", "ben", B)
    report = agreement_from_inputs([read_codings(a), read_codings(b)], levels=("fragment",))
    assert report.raters == ("ann", "ben")
    # Units: the passages anyone coded (the last one nobody coded is not a unit).
    la = ["x", "x", "y", "x", "-"][:4]
    lb = ["x", "y", "y", "-"]
    overall = report.row("fragment")
    assert overall.units == 4
    assert overall.percent == pytest.approx(np.mean([p == q for p, q in zip(la, lb)]))
    assert overall.kappa == pytest.approx(cohen_kappa_score(la, lb))
    ids = {v: i for i, v in enumerate(sorted(set(la + lb)))}
    assert overall.alpha == pytest.approx(krippendorff.alpha(
        reliability_data=[[ids[v] for v in la], [ids[v] for v in lb]], level_of_measurement="nominal"))
    x = report.row("fragment", "x")
    xa, xb = [int(v == "x") for v in la], [int(v == "x") for v in lb]
    assert x.applied == (3, 1)
    assert x.kappa == pytest.approx(cohen_kappa_score(xa, xb))
    assert x.alpha == pytest.approx(krippendorff.alpha(reliability_data=[xa, xb], level_of_measurement="nominal"))


def test_character_level_counts_characters() -> None:
    raters = [Rater("a", (Coding("d", 0, 10, "x", "a"),)), Rater("b", (Coding("d", 5, 10, "x", "b"),))]
    report = agreement(raters, documents=["d"], lengths={"d": 20}, levels=("character",))
    row = report.row("character", "x")
    assert row.units == 20 and row.applied == (10, 5)
    assert row.percent == pytest.approx(15 / 20)
    labels = [[1] * 10 + [0] * 10, [0] * 5 + [1] * 5 + [0] * 10]
    assert row.kappa == pytest.approx(cohen_kappa_score(*labels))
    assert row.alpha == pytest.approx(krippendorff.alpha(reliability_data=labels, level_of_measurement="nominal"))


def test_partial_overlap_counts_when_it_covers_enough_of_the_fragment() -> None:
    raters = [Rater("a", (Coding("d", 0, 100, "x", "a"),)),
              Rater("b", (Coding("d", 0, 50, "x", "b"), Coding("d", 50, 100, "x", "b")))]
    report = agreement(raters, documents=["d"], levels=("fragment",))
    assert report.row("fragment", "x").percent == 1.0  # b's two halves cover a's passage and vice versa
    strict = agreement([raters[0], Rater("b", (Coding("d", 0, 40, "x", "b"),))], documents=["d"],
                       levels=("fragment",), min_overlap=0.5)
    assert strict.row("fragment", "x").applied == (2, 1)


def test_undefined_statistics_are_none_not_nan() -> None:
    raters = [Rater("a", (Coding("d", 0, 5, "x", "a"),)), Rater("b", (Coding("d", 0, 5, "x", "b"),))]
    row = agreement(raters, documents=["d"], levels=("fragment",)).row("fragment", "x")
    assert row.percent == 1.0 and row.kappa is None and row.alpha is None


def test_cli_compares_two_users_of_one_project(tmp_path: Path) -> None:
    project = make_qdpx(tmp_path / "p.qdpx", crlf=True)
    result = CliRunner().invoke(main, ["agree", str(project), "--coder", "alice", "--coder", "bob",
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["coders"] == ["alice", "bob"]
    rows = {(r["level"], r["code"]): r for r in data["rows"]}
    support = rows[("fragment", "support")]
    # Both coded "She helped me..." as support; alice also coded "He drove me..." as support.
    assert (support["n_alice"], support["n_bob"]) == (2, 1)
    assert rows[("character", OVERALL)]["units"] == len(TRANSCRIPT_1) + len(TRANSCRIPT_2)
    text = CliRunner().invoke(main, ["agree", str(project), "--coder", "alice", "--coder", "bob"])
    assert "Agreement between alice, bob on 2 document(s)" in text.output and "kappa" in text.output
    many = CliRunner().invoke(main, ["agree", str(project), "--coder", "alice", "--coder", "carol"])
    assert many.exit_code == 1 and "no codings by coder 'carol'" in many.output


def test_cli_compares_a_human_with_the_machine(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    out = tmp_path / "s.jsonl"
    result = CliRunner().invoke(main, ["suggest", str(transcript_file), "-c", str(codebook_file), "-m", "hash-test",
                                       "--spacy", "blank", "-q", "--threshold", "0.2", "--db", str(tmp_path / "d.db"),
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    human = tmp_path / "human.csv"
    with human.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["document", "start", "end", "code", "coder"])
        for row in rows:  # the human agrees on the main codes of every fragment
            for code in row["codes"]:
                writer.writerow([row["document"], row["start"], row["end"], code, "hana"])
    csv_out = tmp_path / "agree.csv"
    result = CliRunner().invoke(main, ["agree", str(human), str(out), "--level", "fragment", "-o", str(csv_out)])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(csv_out.open(encoding="utf-8")))
    by_code = {r["code"]: r for r in table}
    assert float(by_code["support"]["percent_agreement"]) == 1.0
    assert int(by_code[OVERALL]["units"]) == len(rows)  # every fragment is a unit, coded or not


def test_two_inputs_with_several_coders_need_names(tmp_path: Path) -> None:
    project = make_qdpx(tmp_path / "p.qdpx")
    other = _csv(tmp_path / "a.csv", "ann", A)
    result = CliRunner().invoke(main, ["agree", str(project), str(other)])
    assert result.exit_code == 1 and "holds codings by alice, bob" in result.output


def _annomi_project(folder: Path) -> tuple[Path, dict[str, list[tuple[str, str]]], list[str]]:
    """The 7 transcripts coded by all 10 AnnoMI annotators as one .qdpx, one user per annotator."""
    from nlp_coder.readers import read_corpus
    from nlp_coder.records import Code, Codebook
    from nlp_coder.refi import build_qdpx

    with (SHARED / "data" / "annomi" / "AnnoMI-full.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    coders: dict[str, set[str]] = {}
    for r in rows:
        coders.setdefault(r["transcript_id"], set()).add(r["annotator_id"])
    full = sorted((t for t, a in coders.items() if len(a) == 10), key=int)
    assert len(full) == 7
    codings, labels = [], {}
    (folder / "corpus").mkdir()
    for t in full:
        mine = [r for r in rows if r["transcript_id"] == t]
        utterances = sorted({int(r["utterance_id"]): r for r in mine if r["annotator_id"] == "0"}.items())
        name = f"annomi-{int(t):03d}.txt"
        lines = [f"[{r['timestamp']}] {r['interlocutor']}: {' '.join(r['utterance_text'].split()) or '...'}"
                 for _, r in utterances]
        (folder / "corpus" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        doc = read_corpus(folder / "corpus" / name)[0]
        assert len(doc.turns) == len(utterances)
        for r in mine:
            turn = doc.turns[[u for u, _ in utterances].index(int(r["utterance_id"]))]
            code = r["main_therapist_behaviour"] if r["interlocutor"] == "therapist" else r["client_talk_type"]
            codings.append(Coding(name, turn.start, turn.end, code, f"annotator {r['annotator_id']}"))
            labels.setdefault(r["annotator_id"], []).append((f"{name}:{turn.start}", code))
    codes = sorted({c.code for c in codings})
    book = Codebook("AnnoMI", tuple(Code(c, c, definition=c) for c in codes))
    documents = read_corpus(folder / "corpus")
    path = folder / "annomi.qdpx"
    path.write_bytes(build_qdpx(documents=documents, codebook=book, codings=codings, name="AnnoMI"))
    from nlp_coder.refi import read_qdpx

    again = read_qdpx(path)  # the round trip keeps every coding, offsets exact
    assert set(again.codings) == set(codings) and [d.text for d in again.documents] == [d.text for d in documents]
    return path, {a: sorted(v) for a, v in labels.items()}, codes


@pytest.mark.shared
def test_annomi_ten_coders_agree_as_computed_directly(tmp_path: Path) -> None:
    path, labels, codes = _annomi_project(tmp_path)
    coded = read_codings(path)
    assert len(coded.coders) == 10
    a, b = labels["0"], labels["1"]
    assert [u for u, _ in a] == [u for u, _ in b]
    la, lb = [c for _, c in a], [c for _, c in b]
    result = CliRunner().invoke(main, ["agree", str(path), "--coder", "annotator 0", "--coder", "annotator 1",
                                       "--level", "fragment", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["code"]: r for r in json.loads(result.stdout)["rows"]}
    overall = rows[OVERALL]
    assert overall["units"] == len(la)
    assert overall["percent_agreement"] == pytest.approx(np.mean([p == q for p, q in zip(la, lb)]))
    assert overall["cohen_kappa"] == pytest.approx(cohen_kappa_score(la, lb))
    ids = {c: i for i, c in enumerate(codes)}
    assert overall["krippendorff_alpha"] == pytest.approx(krippendorff.alpha(
        reliability_data=[[ids[c] for c in la], [ids[c] for c in lb]], level_of_measurement="nominal"))
    for code in ("reflection", "change"):
        ya, yb = [int(c == code) for c in la], [int(c == code) for c in lb]
        assert rows[code]["cohen_kappa"] == pytest.approx(cohen_kappa_score(ya, yb))
    # All ten at once: alpha over every annotator, kappa as the mean over the 45 pairs.
    everyone = [f"annotator {i}" for i in range(10)]
    report = agreement_from_inputs([coded], everyone, levels=("fragment", "character"))
    matrix = [[ids[c] for _, c in labels[str(i)]] for i in range(10)]
    assert report.row("fragment").alpha == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    pairs = [cohen_kappa_score(matrix[i], matrix[j]) for i in range(10) for j in range(i + 1, 10)]
    assert report.row("fragment").kappa == pytest.approx(np.mean(pairs))
    character = report.row("character")
    assert 0 < character.percent <= 1 and -1 <= character.alpha <= 1


def test_a_second_coders_sample_is_compared_on_the_sampled_fragments_only(tmp_path: Path) -> None:
    from nlp_coder.refi import build_qdpx, read_qdpx

    project = make_qdpx(tmp_path / "p.qdpx", crlf=True)
    sample = tmp_path / "sample.qdpx"
    args = ["sample", str(project), "--n", "3", "--seed", "2", "--spacy", "blank", "-q"]
    assert CliRunner().invoke(main, [*args, "-o", str(sample)]).exit_code == 0
    drawn = read_qdpx(sample)
    assert len(drawn.markers) == 3
    # The second coder codes every sampled fragment as support in their tool, and exports.
    carol = [Coding(d, s, e, "support", "carol") for d, s, e in drawn.markers]
    coded = tmp_path / "carol.qdpx"
    coded.write_bytes(build_qdpx(documents=drawn.documents, codebook=drawn.codebook, codings=carol, base=drawn))
    result = CliRunner().invoke(main, ["agree", str(project), str(coded), "--coder", "alice", "--coder", "carol",
                                       "--format", "json", "-q"])
    assert result.exit_code == 0, result.output
    rows = {(r["level"], r["code"]): r for r in json.loads(result.stdout)["rows"]}
    assert rows[("fragment", OVERALL)]["units"] == 3  # the sample, not every passage alice coded
    assert rows[("character", OVERALL)]["units"] == sum(e - s for _, s, e in drawn.markers)
    # The same through a filled-in sample CSV, limited with --within.
    sheet = tmp_path / "sample.csv"
    assert CliRunner().invoke(main, [*args, "-o", str(sheet)]).exit_code == 0
    lines = sheet.read_text(encoding="utf-8").splitlines()
    filled = tmp_path / "carol.csv"
    filled.write_text("\n".join([lines[0]] + [line.replace(",,,", ",support,carol,", 1) for line in lines[1:]])
                      + "\n", encoding="utf-8")
    via_csv = CliRunner().invoke(main, ["agree", str(project), str(filled), "--coder", "alice", "--coder", "carol",
                                        "--within", str(sheet), "--format", "json", "-q"])
    assert via_csv.exit_code == 0, via_csv.output
    assert json.loads(via_csv.stdout)["rows"] == json.loads(result.stdout)["rows"]


def test_character_level_equals_the_per_character_computation() -> None:
    rng = np.random.default_rng(5)
    raters = []
    for name in ("a", "b", "c"):
        codings = []
        for _ in range(12):
            start = int(rng.integers(0, 180))
            codings.append(Coding("d", start, start + int(rng.integers(1, 30)), str(rng.choice(["x", "y", "z"])), name))
        raters.append(Rater(name, tuple(codings)))
    report = agreement(raters, documents=["d"], lengths={"d": 220}, levels=("character",))
    codes = ["x", "y", "z"]
    chars = np.zeros((3, 3, 220), dtype=int)
    for r, rater in enumerate(raters):
        for c in rater.codings:
            chars[r, codes.index(c.code), c.start:c.end] = 1
    for j, code in enumerate(codes):
        row = report.row("character", code)
        assert row.units == 220
        assert row.alpha == pytest.approx(krippendorff.alpha(reliability_data=chars[:, j],
                                                             level_of_measurement="nominal"))
        pairs = [cohen_kappa_score(chars[a, j], chars[b, j]) for a, b in ((0, 1), (0, 2), (1, 2))]
        assert row.kappa == pytest.approx(np.mean(pairs))
    overall = (chars * np.array([1, 2, 4])[None, :, None]).sum(axis=1)
    assert report.row("character").alpha == pytest.approx(
        krippendorff.alpha(reliability_data=overall, level_of_measurement="nominal"))
