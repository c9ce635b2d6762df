"""The learned entity tagger: entities nobody wrote an extractor for, from annotations alone."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from bot.city import City
from bot.nlu.embedding_engine import EmbeddingEngine
from bot.nlu.entities import EntityExtractor
from bot.nlu.entity_tagger import EntityTagger
from bot.nlu.training_data import TrainingData, load_training_data, parse_example
from evaluation.benchmarks.datasets import dataset
from knowledge.embedder import Embedder

FINANCIAL_DEMO = dataset("rasa_financial_demo", "data", "nlu")

BIN_EXAMPLES = [
    ("my [green bin](bin_type) was not emptied", "report_problem"),
    ("the [blue bin](bin_type) is cracked", "report_problem"),
    ("nobody took the [food caddy](bin_type) this week", "report_problem"),
    ("can I get a new [garden waste bin](bin_type)", "ask_question"),
    ("the [black bin](bin_type) lid is broken", "report_problem"),
    ("our [recycling box](bin_type) blew away", "report_problem"),
    ("where do I put the [green bin](bin_type) out", "ask_question"),
    ("my [food caddy](bin_type) went missing", "report_problem"),
    ("order a [blue bin](bin_type) please", "ask_question"),
    ("the [black bin](bin_type) was skipped again", "report_problem"),
    ("when is the [garden waste bin](bin_type) collected", "ask_question"),
    ("someone stole my [recycling box](bin_type)", "report_problem"),
    ("hello there", "greet"),
    ("good morning", "greet"),
    ("there is a pothole on [Elm Street](street)", "report_problem"),
]
MOVE_EXAMPLES = [
    'move my books from [Harbourside]{"entity": "library", "role": "from"} to '
    '[Old Town]{"entity": "library", "role": "to"}',
    'transfer the reservation from [Millbrook]{"entity": "library", "role": "from"} to '
    '[Harbourside]{"entity": "library", "role": "to"}',
    'send my hold to [Millbrook]{"entity": "library", "role": "to"} instead of '
    '[Old Town]{"entity": "library", "role": "from"}',
    'pick up at [Old Town]{"entity": "library", "role": "to"} not '
    '[Millbrook]{"entity": "library", "role": "from"}',
    'from [Old Town]{"entity": "library", "role": "from"} to '
    '[Millbrook]{"entity": "library", "role": "to"} please',
    'move it from [Millbrook]{"entity": "library", "role": "from"} over to '
    '[Old Town]{"entity": "library", "role": "to"}',
]


def data_of(lines: list[tuple[str, str]], **tables: dict[str, list[str]]) -> TrainingData:
    return TrainingData(examples=[parse_example(t, i) for t, i in lines], **tables)


def spans(tagger: EntityTagger, text: str) -> list[tuple[str, str, str | None]]:
    return [(e.entity, e.text, e.role) for e in tagger.extract(text)]


def test_learns_an_entity_from_annotations_in_new_sentences() -> None:
    tagger = EntityTagger().train(data_of(BIN_EXAMPLES))
    assert tagger.entities == ["bin_type", "street"]
    assert spans(tagger, "the green bin was not collected") == [("bin_type", "green bin", None)]
    assert spans(tagger, "can you replace my food caddy") == [("bin_type", "food caddy", None)]
    assert spans(tagger, "good morning") == []


def test_the_city_rule_entities_are_left_to_the_rules() -> None:
    tagger = EntityTagger().train(data_of(BIN_EXAMPLES), skip={"street"})
    assert tagger.entities == ["bin_type"]
    assert all(e.entity != "street" for e in tagger.extract("pothole on Elm Street"))


def test_roles_are_learned() -> None:
    data = data_of([(t, "move_hold") for t in MOVE_EXAMPLES])
    tagger = EntityTagger().train(data)
    found = spans(tagger, "please move my books from Millbrook to Harbourside")
    assert found == [("library", "Millbrook", "from"), ("library", "Harbourside", "to")]


def test_synonyms_normalise_values_and_lookups_are_features() -> None:
    lines = [
        ("I need a [parking permit](permit)", "permit"),
        ("how do I renew my [dog licence](permit)", "permit"),
        ("apply for a [parking permit](permit) for my street", "permit"),
        ("is a [street party licence](permit) free", "permit"),
        ("my [dog licence](permit) expired", "permit"),
        ("hi", "greet"),
        ("hello", "greet"),
    ]
    lookups = {"permit": ["parking permit", "dog licence", "street party licence", "skip permit"]}
    tagger = EntityTagger().train(
        data_of(lines, synonyms={"dog licence": "dog_licence"}, lookups=lookups)
    )
    dog = tagger.extract("my Dog Licence needs renewing")
    assert [(e.text, e.value) for e in dog] == [("Dog Licence", "dog_licence")]
    # Never annotated, but in the lookup table: the table is a feature the CRF learned to trust.
    assert [e.text for e in tagger.extract("I need a skip permit")] == ["skip permit"]


def test_saved_and_loaded_it_tags_the_same(tmp_path: Path) -> None:
    tagger = EntityTagger().train(data_of(BIN_EXAMPLES))
    tagger.save(tmp_path)
    again = EntityTagger()
    again.load(tmp_path)
    text = "my blue bin and the black bin were both left"
    assert again.extract(text) == tagger.extract(text)
    assert again.entities == tagger.entities


def test_no_annotations_means_nothing_learned_and_nothing_saved(tmp_path: Path) -> None:
    tagger = EntityTagger().train(data_of([("hi", "greet"), ("bye", "goodbye")]))
    assert tagger.entities == []
    assert tagger.extract("hi there") == []
    tagger.save(tmp_path)
    again = EntityTagger()
    again.load(tmp_path)
    assert again.extract("hi") == []


@pytest.mark.parametrize(
    "text",
    ["", "   ", "!!!???", "\u202e\u200b", "🙂" * 50, "green bin " * 400, "x" * 4000],
)
def test_empty_huge_and_odd_input_never_breaks_it(text: str) -> None:
    tagger = EntityTagger().train(data_of(BIN_EXAMPLES))
    for entity in tagger.extract(text):
        assert text[entity.start : entity.end] == entity.text


def test_the_engine_returns_learned_and_rule_entities_together(
    embedder: Embedder, city: City, tmp_path: Path
) -> None:
    data = data_of(BIN_EXAMPLES)
    engine = EmbeddingEngine(embedder, EntityExtractor(data, city, ["missed_collection"]))
    engine.train(data)
    found = engine.parse("the green bin on Elm Street was not emptied").entities
    assert [(e.entity, e.extractor) for e in found] == [
        ("bin_type", "crf"),
        ("street", "gazetteer"),
    ]
    engine.save(tmp_path)
    loaded = EmbeddingEngine(embedder, EntityExtractor(data, city, ["missed_collection"]))
    loaded.load(tmp_path)
    assert loaded.parse("the green bin on Elm Street was not emptied").entities == found


@pytest.mark.skipif(not FINANCIAL_DEMO.exists(), reason="the shared data sets are not beside us")
def test_financial_demo_entities_on_a_held_out_split() -> None:
    """A real Rasa project's 258 annotations over 5 entities (measured: micro F1 0.88 in 5-fold
    cross-validation with `hotline evaluate nlu`)."""
    data = load_training_data(FINANCIAL_DEMO)
    examples = list(data.examples)
    random.Random(3).shuffle(examples)
    cut = len(examples) * 4 // 5
    tagger = EntityTagger().train(replace(data, examples=examples[:cut]))
    gold = {(i, a.entity, a.start, a.end) for i, e in enumerate(examples[cut:]) for a in e.entities}
    got = {
        (i, x.entity, x.start, x.end)
        for i, e in enumerate(examples[cut:])
        for x in tagger.extract(e.text)
    }
    precision, recall = len(gold & got) / len(got), len(gold & got) / len(gold)
    assert precision >= 0.85 and recall >= 0.7, (precision, recall)


PAYEE_EXAMPLES = [
    ("send 20 dollars to [Maria](PERSON)", "transfer"),
    ("pay [Tom](PERSON) back for lunch", "transfer"),
    ("transfer money to [Anna Lee](PERSON)", "transfer"),
    ("give [Sam](PERSON) fifty", "transfer"),
    ("send [david](PERSON) the rent", "transfer"),
    ("pay [linda](PERSON) 30", "transfer"),
    ("transfer 100 to [Peter Jones](PERSON)", "transfer"),
    ("can you pay [Grace](PERSON) for me", "transfer"),
    ("move 40 dollars to [Oliver](PERSON)", "transfer"),
    ("pay [karen](PERSON) back", "transfer"),
    ("send [Michael](PERSON) 15 for the tickets", "transfer"),
    ("transfer the deposit to [susan](PERSON)", "transfer"),
    ("give [robert smith](PERSON) the money", "transfer"),
    ("pay [Helen](PERSON) for the cleaning", "transfer"),
    ("send [george](PERSON) what I owe", "transfer"),
    ("send it to my [brother](relation) please", "transfer"),
    ("send money to my [landlord](relation)", "transfer"),
    ("pay my [sister](relation) ten dollars", "transfer"),
    ("transfer to the [plumber](relation)", "transfer"),
    ("give my [neighbour](relation) twenty", "transfer"),
    ("send money to the [babysitter](relation)", "transfer"),
    ("what is my balance", "balance"),
    ("how much money do I have", "balance"),
    ("send me my statement", "statement"),
]


def test_a_name_never_seen_and_written_in_lower_case_is_still_a_name() -> None:
    """Rasa finds these with spaCy's NER; we know common given names and surnames."""
    tagger = EntityTagger().train(data_of(PAYEE_EXAMPLES))
    assert spans(tagger, "transfer money to ethan") == [("PERSON", "ethan", None)]
    assert spans(tagger, "pay james back for lunch") == [("PERSON", "james", None)]
    assert spans(tagger, "send money to my cousin") == [("relation", "cousin", None)]
