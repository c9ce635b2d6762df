"""`hotline evaluate nlu|retrieval` on small data: figures, plots and pages that hold together."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from bot.runtime import Runtime
from channels.cli import app as cli
from evaluation.qa import nlu_eval, retrieval_eval
from evaluation.qa.nlu_eval import Example, Prediction, folds_of, threshold_for

SMALL_NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey
    - good evening
    - hiya
    - hello hello
    - hi, good afternoon
    - hey there bot
- intent: report_problem
  examples: |
    - there is a [pothole](service_type) on [Elm Street](street)
    - the street light is broken
    - my bin was not collected
    - a tree fell across the road
    - graffiti on the wall of the school
    - water is leaking from a pipe in the street
    - a dead fox on the pavement
    - the drain is blocked again
    - someone dumped rubbish in the lane
- intent: check_status
  examples: |
    - what is the status of [REQ-2026-000123](reference)
    - any news on my report
    - has my request been fixed
    - check my report please
    - what happened to my complaint
    - update on [REQ-2026-000777](reference)
    - is my pothole report done
    - where is my request at
    - progress on my case
- intent: out_of_scope
  examples: |
    - what is the capital of peru
    - tell me a joke about cats
    - who won the football match
    - recommend a good film
    - how tall is mount everest
    - what is two plus two
    - play some music
    - book me a flight to rome
    - what is the weather on mars
- intent: rare
  examples: |
    - only two examples here
    - too few to hold any out
- synonym: streetlight
  examples: |
    - street light
"""


def test_folds_are_stratified_and_skip_rare_intents() -> None:
    examples = [Example(f"{i}", "a") for i in range(7)] + [Example("x", "b")]
    folds = folds_of(examples, 3)
    assert sorted(len(f) for f in folds) == [2, 2, 3]
    assert all(e.intent == "a" for f in folds for e in f)


def test_threshold_for_a_target_recall() -> None:
    predictions = [
        Prediction("a", "greet", "greet", "greet", 0.9),
        Prediction("b", "greet", "greet", "greet", 0.5),
        Prediction("c", OOS := "out_of_scope", "greet", "greet", 0.4),
        Prediction("d", OOS, OOS, OOS, 0.8),
    ]
    found = threshold_for(predictions, 1.0)
    assert found == {"threshold": 0.41, "oos_recall": 1.0, "in_scope_accuracy": 1.0}
    assert threshold_for(predictions, 0.5)["threshold"] == 0.0
    assert threshold_for([p for p in predictions if p.gold != OOS], 0.9) == {}


def test_cross_validation_writes_summary_plots_and_page(tmp_path: Path) -> None:
    data = tmp_path / "nlu.yml"
    data.write_text(SMALL_NLU)
    out = tmp_path / "report"
    summary = nlu_eval.run([data], folds=3, out=out, target_oos_recall=0.8)
    assert summary["examples"] == 36  # "rare" has too few examples to hold out
    assert set(summary["per_intent"]) == {"greet", "report_problem", "check_status", "out_of_scope"}
    assert summary["per_intent"]["greet"]["support"] == 9
    assert 0.5 <= summary["accuracy"] <= 1.0
    oos = summary["out_of_scope"]
    assert {"precision", "recall", "threshold", "oos_recall", "in_scope_accuracy"} <= set(oos)
    assert oos["oos_recall"] >= 0.8
    assert json.loads((out / "summary.json").read_text())["folds"] == 3
    for png in ("confusion.png", "confidence.png", "threshold.png"):
        with Image.open(out / png) as image:
            assert image.size[0] > 300
        assert f'src="{png}"' in (out / "index.html").read_text()
    assert "recall >= 0.80 needs threshold" in nlu_eval.describe(summary)
    # Annotated rule entities are scored too: the report shows how the gazetteer does.
    assert {"street", "service_type", "reference"} <= set(summary["entities"])


def test_cross_validation_scores_learned_entities_with_roles(tmp_path: Path) -> None:
    places = ["Kestrel Hall", "Ivybridge", "Larkspur", "Moor End", "Pennfold", "Wrenham"]
    lines = []
    for i, a in enumerate(places):
        for b in places[i + 1 :]:
            lines.append(
                f'    - move my hold from [{a}]{{"entity": "library", "role": "from"}} '
                f'to [{b}]{{"entity": "library", "role": "to"}}\n'
            )
    data = tmp_path / "nlu.yaml"  # .yaml counts as much as .yml
    data.write_text(
        'version: "3.1"\nnlu:\n- intent: move_hold\n  examples: |\n'
        + "".join(lines)
        + "- intent: greet\n  examples: |\n"
        + "".join(f"    - hello {p}\n" for p in "abcdef")
    )
    summary = nlu_eval.run([tmp_path], folds=3, out=tmp_path / "report")
    assert set(summary["entities"]) == {"library#from", "library#to"}
    assert summary["entities_micro"]["support"] == 2 * len(lines)
    assert summary["entities_micro"]["f1"] >= 0.8
    assert "library#from F1" in nlu_eval.describe(summary)


def test_cli_evaluate_nlu_refuses_one_fold(tmp_path: Path) -> None:
    data = tmp_path / "nlu.yml"
    data.write_text(SMALL_NLU)
    result = CliRunner().invoke(
        cli, ["evaluate", "nlu", "--folds", "1", "--data", str(data), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "cannot evaluate: cross-validation needs at least 2 folds" in result.output
    data.write_text("nlu:\n- intent: x\n  examples: 12\n")
    result = CliRunner().invoke(cli, ["evaluate", "nlu", "--data", str(data)])
    assert result.exit_code == 2 and "nlu.yml:3: an example must start with" in result.output


def test_retrieval_quality_on_labelled_questions(runtime: Runtime, tmp_path: Path) -> None:
    questions = tmp_path / "q.yml"
    questions.write_text(
        "questions:\n"
        "  - {slug: emergency-numbers, text: what number do I call for an ambulance}\n"
        "  - {slug: emergency-numbers, text: who do I ring when someone collapsed}\n"
        "  - {slug: house-fire, text: smoke is coming out of the flat next door}\n"
    )
    out = tmp_path / "retrieval"
    summary = retrieval_eval.run(out=out, questions=[questions], embedder=runtime.embedder)
    overall = summary["overall"]
    assert overall["questions"] == 3
    assert overall["hit@1"] <= overall["hit@3"] <= 1.0
    assert overall["hit@1"] <= overall["mrr"] <= 1.0
    assert overall["hit@3"] >= 2 / 3
    assert set(summary["per_article"]) == {"emergency-numbers", "house-fire"}
    page = (out / "index.html").read_text()
    assert 'src="ranks.png"' in page and 'src="top_scores.png"' in page
    assert (out / "ranks.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("questions: {}", "expected 'questions"),
        ("questions: [{slug: emergency-numbers}]", "needs a slug and a text"),
        ("questions: [{slug: no-such-article, text: hi}]", "no article 'no-such-article'"),
        ("questions: []", "no labelled questions"),
    ],
)
def test_bad_labels_are_refused(runtime: Runtime, tmp_path: Path, content: str, message: str):
    questions = tmp_path / "q.yml"
    questions.write_text(content)
    with pytest.raises(retrieval_eval.LabelError, match=message):
        retrieval_eval.run(out=tmp_path, questions=[questions], embedder=runtime.embedder)
