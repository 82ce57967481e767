from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from subprocess_run import cli_output_in_two_processes

from nlp_coder.cli import main

TRANSCRIPT = """\
Interviewer: How did it go?
Mother: She helped me fill in the housing forms and arranged childcare for us.
Mother: She was warm and kind to my kids, and she really listened to what I said.
Mother: It was awful and unfair at first, I was angry and upset.
Mother: The parking at the office was terrible, no parking near the office again.
Interviewer: And later?
Mother: He drove me to the hospital appointment and helped with the forms, I was happy and grateful.
Mother: They listened to my side of the story and were so kind and gentle with us.
Mother: The parking tickets at the office car park cost me a fortune.
"""


@pytest.fixture
def report_file(tmp_path: Path, codebook_file: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TRANSCRIPT)
    (corpus / "b.txt").write_text(TRANSCRIPT.replace("Mother", "Father"))
    (corpus / "metadata.csv").write_text("document,site\na.txt,north\nb.txt,south\n")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(corpus), "-c", str(codebook_file), "-m", "hash-test",
                                       "--db", str(tmp_path / "p.db"), "--out", str(out), "--threshold", "0.2",
                                       "--bootstrap", "3", "--min-cluster-size", "2"])
    assert result.exit_code == 0, result.output
    return out


def test_report_is_self_contained_and_has_every_section(report_file: Path) -> None:
    html = report_file.read_text()
    for heading in ("Corpus overview", "Codes", "Codes by facet and attribute", "Map of fragments", "Quotes",
                    "Candidate themes", "Sensitivity of the category boundaries", "Agreement",
                    "Co-occurrence network"):
        assert f">{heading}</h2>" in html, heading
    # nothing is loaded from elsewhere: no scripts, stylesheets, fonts or images by URL
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert re.findall(r"(?:src|href)=\"(?!#)[^\"]*\"", html) == []
    assert "Codes by site" in html and ">north</th>" in html
    assert "valence" in html  # facet table
    assert 'role="img"' in html and "<desc" in html  # figures carry text alternatives
    assert "(a.txt, characters" in html  # quotes with their position


def test_report_compares_human_coding_with_the_machine(tmp_path: Path, codebook_file: Path) -> None:
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.txt").write_text(TRANSCRIPT)
    start = TRANSCRIPT.index("She helped me fill in")
    end = TRANSCRIPT.index("\n", start)
    codings = tmp_path / "codings.csv"
    codings.write_text(f"document,start,end,code,coder\na.txt,{start},{end},support,anna\n"
                       f"a.txt,{start},{end},support,ben\n")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", str(corpus), "-c", str(codebook_file), "-m", "hash-test",
                                       "--db", str(tmp_path / "p.db"), "--out", str(out), "--threshold", "0.2",
                                       "--bootstrap", "2", "--codings", str(codings)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "<caption>anna and nlp-coder (1 document)</caption>" in html
    assert "<caption>ben and nlp-coder (1 document)</caption>" in html
    assert "<caption>anna and ben (1 document)</caption>" in html
    assert "No human coding was given" not in html


def test_same_input_same_report_in_two_processes(report_file: Path, tmp_path: Path, codebook_file: Path) -> None:
    written = cli_output_in_two_processes(
        "report", str(tmp_path / "corpus"), "-c", str(codebook_file), "-m", "hash-test",
        "--db", str(tmp_path / "p{seed}.db"), "--out", str(tmp_path / "again{seed}.html"), "--threshold", "0.2",
        "--bootstrap", "3", "--min-cluster-size", "2")
    assert written == report_file.read_bytes()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian package 'chromium')")
def test_report_renders_offline_in_chromium(report_file: Path, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", report_file.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "Co-occurrence network" in dom and "<svg" in dom
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--window-size=1000,3000",
                    f"--screenshot={shot}", report_file.as_uri()], capture_output=True, timeout=120)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 3000)
    assert len(data) > 50_000  # a rendered page, not a blank one
