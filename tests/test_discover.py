from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from nlp_coder.analyses.discover import candidate_codes_yaml, class_tfidf_keywords, cluster_vectors, discover
from nlp_coder.cli import main
from nlp_coder.codebook import parse_codebook
from nlp_coder.errors import InputError
from nlp_coder.records import Decision, Fragment, FragmentResult

THEMES = {
    "parking": ["the parking at the office was terrible", "no parking near the office again",
                "parking tickets at the office car park", "I paid for parking at the office"],
    "weather": ["the rain and the cold weather that week", "cold weather and rain all winter",
                "it was raining and so cold outside", "the weather was cold and the rain kept on"],
}


def _results(texts: list[str]) -> tuple[FragmentResult, ...]:
    nothing = Decision("uncoded", (), ())
    return tuple(FragmentResult(Fragment(f"d#{i}.1", "d", "P", i, 0, len(t), t), nothing)
                 for i, t in enumerate(texts))


def test_clusters_group_similar_fragments_and_drop_small_ones(embedder) -> None:
    texts = THEMES["parking"] + THEMES["weather"] + ["my daughter started at a new school"]
    found = discover(_results(texts), embedder.encode(texts), selection="all", distance_threshold=0.85,
                     min_cluster_size=3)
    groups = [set(c.fragment_ids) for c in found.clusters]
    assert {f"d#{i}.1" for i in range(4)} in groups
    assert {f"d#{i}.1" for i in range(4, 8)} in groups
    assert found.unclustered == 1 and found.candidates == 9
    parking = next(c for c in found.clusters if "d#0.1" in c.fragment_ids)
    assert "parking" in parking.keywords and "office" in parking.keywords
    assert len(parking.representatives) == 3


def test_representatives_do_not_repeat_a_text(embedder) -> None:
    texts = ["the parking at the office was terrible"] * 3 + ["The parking at the office was terrible."] \
        + THEMES["parking"][1:]
    found = discover(_results(texts), embedder.encode(texts), selection="all", distance_threshold=0.85,
                     min_cluster_size=3)
    (cluster,) = found.clusters
    shown = [" ".join(f.text.lower().split()).rstrip(".") for f in cluster.representatives]
    assert len(shown) == 3 and len(set(shown)) == 3
    assert cluster.size == len(texts)


def test_same_input_same_clusters(embedder) -> None:
    texts = THEMES["parking"] + THEMES["weather"]
    vectors = embedder.encode(texts)
    first = discover(_results(texts), vectors, selection="all", distance_threshold=0.85, min_cluster_size=2)
    second = discover(_results(texts), vectors, selection="all", distance_threshold=0.85, min_cluster_size=2)
    assert first == second


def test_labels_are_renumbered_largest_first() -> None:
    vectors = np.array([[1, 0], [1, 0.01], [0, 1], [0.01, 1], [0.02, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = cluster_vectors(vectors, distance_threshold=0.1, min_cluster_size=2)
    assert labels.tolist() == [1, 1, 0, 0, 0]
    assert cluster_vectors(vectors, 0.1, 3).tolist() == [-1, -1, 0, 0, 0]


def test_class_tfidf_prefers_terms_distinctive_of_a_cluster() -> None:
    keywords = class_tfidf_keywords([["office", "office", "parking", "parking", "week", "week"],
                                     ["rain", "rain", "cold", "cold", "week", "week"]])
    assert keywords[0][:2] == ("office", "parking") and keywords[0][-1] == "week"
    assert keywords[1][:2] == ("cold", "rain")


def test_candidate_yaml_pastes_into_a_codebook(embedder) -> None:
    texts = THEMES["parking"] + THEMES["weather"]
    found = discover(_results(texts), embedder.encode(texts), selection="all", distance_threshold=0.85,
                     min_cluster_size=3)
    snippet = candidate_codes_yaml(found)
    codes = yaml.safe_load(snippet)
    book = parse_codebook(yaml.safe_dump({"name": "x", "codes": codes}))
    assert len(book.codes) == 2 and all(len(c.examples) == 3 for c in book.codes)


def test_bad_parameters(embedder) -> None:
    with pytest.raises(InputError, match="outside"):
        discover(_results(["a b c"]), embedder.encode(["a b c"]), selection="all", distance_threshold=0)
    with pytest.raises(InputError, match="unknown selection"):
        discover(_results(["a b c"]), embedder.encode(["a b c"]), selection="some")


def test_discover_command_with_and_without_codebook(tmp_path: Path, codebook_file: Path) -> None:
    transcript = tmp_path / "t.txt"
    lines = ["Interviewer: Tell me more."] + [f"Mother: {t}." for t in THEMES["parking"] + THEMES["weather"]]
    lines += ["Mother: She helped me fill in the housing forms."]
    transcript.write_text("\n".join(lines) + "\n")
    db = str(tmp_path / "p.db")
    out = tmp_path / "themes.json"
    snippet = tmp_path / "candidates.yaml"
    result = CliRunner().invoke(main, ["discover", str(transcript), "-c", str(codebook_file), "-m", "hash-test",
                                       "--db", db, "--out", str(out), "--yaml", str(snippet),
                                       "--distance-threshold", "0.85", "--min-cluster-size", "3"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["selection"] == "uncoded" and len(report["clusters"]) == 2
    assert all(c["nearest_code"] for c in report["clusters"])
    assert yaml.safe_load(snippet.read_text())[0]["id"].startswith("candidate-1-")
    open_coding = CliRunner().invoke(main, ["discover", str(transcript), "-m", "hash-test", "--db", db, "-q",
                                            "--distance-threshold", "0.85", "--min-cluster-size", "3"])
    assert open_coding.exit_code == 0 and open_coding.stdout.startswith("# Candidate themes")
    assert "9 all fragments clustered" in open_coding.stdout
    refused = CliRunner().invoke(main, ["discover", str(transcript), "-m", "hash-test", "--db", db,
                                        "--include", "low"])
    assert refused.exit_code == 1 and "needs a codebook" in refused.output


def test_discover_and_sensitivity_say_what_reading_skipped(tmp_path: Path, codebook_file: Path) -> None:
    transcript = tmp_path / "t.txt"
    lines = ["Interview A", "", "Interviewer: Tell me more."]
    lines += [f"Mother: {t}." for t in THEMES["parking"] + THEMES["weather"]]
    transcript.write_text("\n".join(lines) + "\n")
    db = str(tmp_path / "p.db")
    for command in (["discover", "--distance-threshold", "0.85", "--min-cluster-size", "3"],
                    ["sensitivity", "--bootstrap", "2"]):
        result = CliRunner().invoke(main, [command[0], str(transcript), "-c", str(codebook_file), "-m", "hash-test",
                                           "--db", db, "--out", str(tmp_path / f"{command[0]}.md"), *command[1:]])
        assert result.exit_code == 0, result.output
        warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
        assert warned == ["warning: t.txt: 11 characters without a speaker read as a header (a title, a date "
                          "line) and not coded (--all-speakers codes them)"], result.stderr
        quiet = CliRunner().invoke(main, [command[0], str(transcript), "-c", str(codebook_file), "-m", "hash-test",
                                          "--db", db, "--out", str(tmp_path / f"{command[0]}.md"), "-q",
                                          *command[1:]])
        assert quiet.exit_code == 0 and "warning" not in quiet.stderr
