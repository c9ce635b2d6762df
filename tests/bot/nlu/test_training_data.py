"""Our reader of Rasa's NLU YAML: what it loads, and that every mistake names file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.training_data import (
    EntityAnnotation,
    NLUFormatError,
    TrainingData,
    load_training_data,
)

GOOD = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
- intent: report_problem
  examples: |
    - there is a [pothole](service_type) on [Elm St](street)
    - the [street lamp](service_type:streetlight) is out
    - [lights are out]{"entity": "service_type", "value": "streetlight"} on [5th Street](street)
- synonym: pothole
  examples: |
    - pot hole
    - Potholes
- regex: reference
  examples: |
    - \\bREQ-\\d{4}-\\d{6}\\b
- lookup: language
  examples: |
    - English
    - Spanish
"""


def write(tmp_path: Path, text: str, name: str = "nlu.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str, **kwargs: bool) -> NLUFormatError:
    path = write(tmp_path, text)
    with pytest.raises(NLUFormatError) as caught:
        load_training_data(path, **kwargs)
    error = caught.value
    assert error.path == str(path)
    assert str(error).startswith(f"{path}:{error.line}: ")
    return error


def test_loads_intents_entities_synonyms_regexes_and_lookups(tmp_path: Path) -> None:
    data = load_training_data(write(tmp_path, GOOD))
    assert data.intents == ["greet", "report_problem"]
    assert [e.text for e in data.examples_for("greet")] == ["hello", "hi there"]
    first, second, third = data.examples_for("report_problem")
    assert first.text == "there is a pothole on Elm St"
    assert first.entities == (
        EntityAnnotation("service_type", "pothole", 11, 18, "pothole"),
        EntityAnnotation("street", "Elm St", 22, 28, "Elm St"),
    )
    assert second.entities[0].value == "streetlight"
    assert second.text[second.entities[0].start : second.entities[0].end] == "street lamp"
    assert third.text == "lights are out on 5th Street"
    assert third.entities[0] == EntityAnnotation(
        "service_type", "streetlight", 0, 14, "lights are out"
    )
    # synonym blocks, plus the annotations whose value differs from their text (as Rasa does)
    assert data.synonyms == {
        "pot hole": "pothole",
        "potholes": "pothole",
        "street lamp": "streetlight",
        "lights are out": "streetlight",
    }
    assert data.regexes == {"reference": [r"\bREQ-\d{4}-\d{6}\b"]}
    assert data.lookups == {"language": ["English", "Spanish"]}


def test_the_project_data_loads(nlu_data: TrainingData) -> None:
    expected = {
        "greet", "goodbye", "thank", "affirm", "deny", "cancel", "help", "ask_question",
        "report_problem", "check_status", "talk_to_human", "repeat", "slower",
        "change_language", "out_of_scope",
    }  # fmt: skip
    assert set(nlu_data.intents) == expected
    assert {"reference", "phone"} <= set(nlu_data.regexes)
    assert "spanish" in {x.lower() for x in nlu_data.lookups["language"]}
    assert nlu_data.synonyms["potholes"] == "pothole"
    for example in nlu_data.examples:
        for a in example.entities:
            assert example.text[a.start : a.end] == a.text


def test_directories_merge_and_rasa_project_files_are_skipped_when_asked(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    write(
        tmp_path,
        "version: '3.1'\nnlu:\n- intent: greet\n  examples: |\n    - good morning\n"
        "- synonym: streetlight\n  examples: |\n    - lamp post\n",
        "more.yaml",
    )
    write(tmp_path, "version: '3.1'\nresponses:\n  utter_greet:\n  - text: hi\n", "domain.yml")
    (tmp_path / "notes.txt").write_text("not yaml: [", encoding="utf-8")
    data = load_training_data(tmp_path, ignore_other_keys=True)
    assert len(data.examples_for("greet")) == 3
    assert data.synonyms["lamp post"] == "streetlight"
    with pytest.raises(NLUFormatError, match="unknown top-level key 'responses'") as caught:
        load_training_data(tmp_path)
    assert caught.value.line == 2


def test_merge_returns_a_new_object() -> None:
    a = TrainingData(synonyms={"x": "1"}, regexes={"r": ["a"]})
    b = TrainingData(synonyms={"x": "2"}, regexes={"r": ["a", "b"]}, lookups={"l": ["z"]})
    merged = a.merge(b)
    assert merged.synonyms == {"x": "2"}
    assert merged.regexes == {"r": ["a", "b"]}
    assert merged.lookups == {"l": ["z"]}
    assert a.synonyms == {"x": "1"}


def test_rasa_long_form_examples_are_read(tmp_path: Path) -> None:
    text = (
        "nlu:\n- intent: greet\n  examples:\n  - text: |\n      hi\n    metadata:\n"
        "      sentiment: neutral\n  - text: hello\n"
    )
    data = load_training_data(write(tmp_path, text))
    assert [e.text for e in data.examples] == ["hi", "hello"]


def test_comments_and_blank_lines_inside_a_block_are_skipped(tmp_path: Path) -> None:
    text = "nlu:\n- intent: greet\n  examples: |\n    # greetings\n    - hi\n\n    - hey # there\n"
    data = load_training_data(write(tmp_path, text))
    assert [e.text for e in data.examples] == ["hi", "hey # there"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        # bad indentation: the key is not aligned with 'intent'
        ("nlu:\n- intent: greet\n examples: |\n    - hi\n", 3, "not valid YAML"),
        # an example indented more than the others in its block
        ("nlu:\n- intent: greet\n  examples: |\n    - hi\n      - hey\n", 5, "indented more"),
        # an example not starting with '- '
        ("nlu:\n- intent: greet\n  examples: |\n    - hi\n    hello\n", 5, "must start with '- '"),
        # unclosed annotations, both ways
        (
            "nlu:\n- intent: r\n  examples: |\n    - ok\n    - on [Elm St](street\n",
            5,
            "unbalanced",
        ),
        ("nlu:\n- intent: r\n  examples: |\n    - on [Elm St(street)\n", 4, "unbalanced"),
        ("nlu:\n- intent: r\n  examples: |\n    - on Elm St](street)\n", 4, "unbalanced"),
        ('nlu:\n- intent: r\n  examples: |\n    - [x]{"entity": }\n', 4, "not valid JSON"),
        ("nlu:\n- intent: r\n  examples: |\n    - [x]()\n", 4, "no usable entity name"),
        # empty example and empty intent
        ("nlu:\n- intent: greet\n  examples: |\n    - hi\n    -\n", 5, "empty example"),
        ("nlu:\n- intent: greet\n  examples: |\n\n- intent: bye\n", 3, "has no examples"),
        ("nlu:\n- intent: greet\n", 2, "has no examples"),
        ("nlu:\n- intent: ''\n  examples: |\n    - hi\n", 2, "empty intent name"),
        # unknown keys
        ("version: '3.1'\nnlu: []\nintents:\n- greet\n", 3, "unknown top-level key 'intents'"),
        ("nlu:\n- intent: greet\n  exemples: |\n    - hi\n", 3, "unknown key 'exemples'"),
        ("nlu:\n- intent: a\n  regex: b\n  examples: |\n    - hi\n", 2, "exactly one of"),
        ("nlu:\n  intent: greet\n", 2, "must be a list"),
        # a bad regex
        ("nlu:\n- regex: ref\n  examples: |\n    - ok\\d+\n    - REQ-(\\d{4}\n", 5, "bad regex"),
        # not YAML at all
        ("nlu:\n- intent: greet\n  examples: |\n    - hi\n  - [unclosed\n", 5, "not valid YAML"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    error = error_of(tmp_path, text)
    assert error.line == line, str(error)
    assert message in error.message


def test_empty_file_is_empty_data_and_missing_path_is_an_error(tmp_path: Path) -> None:
    assert load_training_data(write(tmp_path, "")).examples == []
    with pytest.raises(FileNotFoundError):
        load_training_data(tmp_path / "missing.yml")


def test_literal_brackets_without_annotation_are_text(tmp_path: Path) -> None:
    data = load_training_data(
        write(tmp_path, "nlu:\n- intent: x\n  examples: |\n    - press [1] to continue\n")
    )
    assert data.examples[0].text == "press [1] to continue"
    assert data.examples[0].entities == ()
