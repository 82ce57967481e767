from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, SMALL_CODEBOOK

from nlp_coder.codebook import descendants, load_codebook, parse_codebook
from nlp_coder.errors import InputError
from nlp_coder.lint import lint_codebook
from nlp_coder.records import Fragment


def test_small_codebook_loads_with_groups_and_hierarchy(codebook_file: Path) -> None:
    book = load_codebook(codebook_file)
    assert [c.id for c in book.group(None)] == ["support", "care", "warmth", "listening"]
    assert [c.id for c in book.group("valence")] == ["positive", "negative"]
    assert book.code("warmth").parent == "care"
    assert book.ancestors("listening") == ("care",)
    assert descendants(book, "care") == ("warmth", "listening")
    assert not book.code("care").codable
    assert book.code("warmth").counterexamples == ("The waiting room was warm and stuffy.",)
    assert book.code("support").line == 3
    assert len(book.sha256) == 64


def test_bundled_codebook_is_valid() -> None:
    book = load_codebook(REPO / "codebooks" / "working-alliance.yaml")
    assert {f.name for f in book.facets} == {"phase", "valence"}
    for code in book.codes:
        if code.codable:
            assert code.definition and 3 <= len(code.examples) <= 6, code.id
    assert any(not c.codable for c in book.codes)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("codes:\n  - id: a\n    definition: x\n  - id: a\n    definition: y\n", ":4: duplicate code id 'a'"),
        ("codes:\n  - id: a\n    parent: nope\n    definition: x\n", ":3: code 'a': parent 'nope' is not a code id"),
        ("codes:\n  - id: a\n    parent: b\n    definition: x\n  - id: b\n    parent: a\n    definition: y\n",
         "parent cycle: a -> b -> a"),
        ("codes:\n  - id: a\n    name: A\n", ":2: code 'a' has neither a definition nor examples"),
        ("codes:\n  - id: a\n    definition: x\n    colour: red\n", ":4: code: unknown field 'colour'"),
        ("codes:\n  - id: a\n    definition: x\n    examples: just one\n", ":4: code 'a': examples must be a list"),
        ("codes:\n  - id: a\n    definition: x\n    threshold: high\n", "threshold must be a number"),
        ("codes:\n  - id: a\n    definition: [x\n", "not valid YAML"),
        ("name: x\n", "has no 'codes' list"),
        ("- a\n- b\n", "must be a mapping"),
        ("codes:\n  - id: a\n    codable: false\n", "'codable: false' but has no children"),
        ("codes:\n  - id: a\n    definition: x\n    definition: y\n", ":4: key 'definition' appears twice"),
        ("codes:\n  - id: a\n    definition: x\n    colour:\n      - red\n", ":4: code: unknown field 'colour'"),
        ("threshold: 5\ncodes:\n  - id: a\n    definition: x\n", ":1: threshold 5.0 is outside [-1, 1]"),
        ("margin: -0.1\ncodes:\n  - id: a\n    definition: x\n", ":1: margin -0.1 is outside [0, 2]"),
        ("codes:\n  - id: a\n    definition: x\nfacets:\n  f:\n    threshold: 2\n    codes:\n      - id: b\n"
         "        definition: y\n", ":6: facet 'f': threshold 2.0 is outside [-1, 1]"),
    ],
)
def test_invalid_codebooks_name_line_and_field(yaml_text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_codebook(yaml_text, source="book.yaml")
    text = str(info.value)
    assert message in text
    assert text.startswith("book.yaml")
    assert "\n" not in text


def test_facet_parent_must_stay_in_its_group() -> None:
    text = ("codes:\n  - id: a\n    definition: x\nfacets:\n  f:\n    codes:\n      - id: b\n        parent: a\n"
            "        definition: y\n")
    with pytest.raises(InputError, match=":8: code 'b' \\(in facet 'f'\\): parent 'a' is in the main codes"):
        parse_codebook(text)


def test_unknown_parent_lists_the_other_codes() -> None:
    with pytest.raises(InputError) as info:
        parse_codebook("codes:\n  - id: a\n    parent: ghost\n    definition: x\n  - id: b\n    definition: y\n")
    assert str(info.value).endswith("parent 'ghost' is not a code id. Use one of: b.")


def test_facet_threshold_and_margin(embedder) -> None:
    from nlp_coder.match import CodebookMatcher
    from nlp_coder.records import MatchSettings

    book = parse_codebook(SMALL_CODEBOOK.replace("    description: Positive or negative.\n",
                                                 "    description: Positive or negative.\n    threshold: 0.05\n"
                                                 "    margin: 0.5\n"))
    assert book.facets[0].threshold == 0.05 and book.facets[0].margin == 0.5
    matcher = CodebookMatcher.from_settings(MatchSettings(0.9, 0.01)).fit(book, embedder.encode)
    assert matcher.threshold_for(book.code("positive")) == 0.05
    assert matcher.threshold_for(book.code("support")) == 0.9
    assert matcher.margin_for("valence") == 0.5 and matcher.margin_for(None) == 0.01
    texts = ["I was happy and grateful but also angry and upset"]
    fragment = Fragment("d#1.1", "d", "P", 0, 0, len(texts[0]), texts[0])
    [result] = matcher.predict(embedder.encode(texts), [fragment])
    assert result.decision.status == "uncoded"  # the main codes keep the global 0.9
    valence = dict(result.facets)["valence"]
    assert valence.status == "overlap" and set(valence.codes) == {"positive", "negative"}


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_codebook(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("  \n")
    with pytest.raises(InputError, match="empty"):
        load_codebook(empty)


def test_lint_structural_findings() -> None:
    book = parse_codebook(
        "codes:\n  - id: a\n    examples: ['one quote here', 'same quote']\n"
        "  - id: b\n    definition: x\n    examples: ['Same  quote', 'two', 'three']\n"
    )
    checks = [(f.check, f.codes) for f in lint_codebook(book)]
    assert ("few-examples", ("a",)) in checks
    assert ("no-definition", ("a",)) in checks
    assert ("duplicate-example", ("a", "b")) in checks
    assert not any(c == "few-examples" and codes == ("b",) for c, codes in checks)


def test_lint_finds_inseparable_codes_and_misplaced_exemplars(embedder) -> None:
    book = parse_codebook(
        "codes:\n"
        "  - id: housing\n    definition: housing\n    examples:\n"
        "      - help with the housing forms\n      - help with the housing benefit\n"
        "      - the council housing office\n      - the kids school was closed today\n"
        "  - id: school\n    definition: school\n    examples:\n"
        "      - the kids school was closed\n      - the kids school run\n      - the kids school teacher\n"
        "  - id: weather\n    definition: weather\n    examples:\n"
        "      - sunny weather all week\n      - rainy weather again\n      - cold weather outside\n"
    )
    findings = lint_codebook(book, embedder.encode)
    misplaced = [f for f in findings if f.check == "nearer-other-code"]
    assert [f.codes for f in misplaced] == [("housing", "school")]
    assert "the kids school was closed today" in misplaced[0].message
    assert not any(f.check == "similar-codes" and "weather" in f.codes for f in findings)


def test_lint_reports_a_pair_with_interchangeable_exemplars(embedder) -> None:
    book = parse_codebook(
        "codes:\n"
        "  - id: a\n    definition: a\n"
        "    examples: ['kind and warm staff', 'warm and kind people', 'kind warm team']\n"
        "  - id: b\n    definition: b\n    examples: ['warm kind staff', 'kind and warm people', 'warm team kind']\n"
    )
    assert [f.codes for f in lint_codebook(book, embedder.encode) if f.check == "similar-codes"] == [("a", "b")]



def test_lint_reports_exemplars_on_a_container() -> None:
    book = parse_codebook("codes:\n  - id: box\n    codable: false\n    examples: ['unused quote']\n"
                          "  - id: child\n    parent: box\n    definition: x\n    examples: ['a', 'b', 'c']\n")
    assert [(f.check, f.codes) for f in lint_codebook(book)] == [("container-examples", ("box",))]
