"""RasaEngine against a local HTTP server that answers as Rasa's /model/parse does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.catalogue import Catalogue
from bot.city import City
from bot.nlu import build_engine
from bot.nlu.engine import OUT_OF_SCOPE
from bot.nlu.entities import EntityExtractor
from bot.nlu.rasa_engine import RasaEngine
from bot.nlu.training_data import TrainingData, load_training_data
from bot.runtime import NLU_DATA


class FakeRasa(BaseHTTPRequestHandler):
    """Answers with whatever the test put in ``server.answer`` (a dict, raw bytes or a status)."""

    def log_message(self, *_args: Any) -> None:
        pass

    def do_POST(self) -> None:
        server: Any = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.received.append((self.path, body))
        answer = server.answer(body["text"]) if callable(server.answer) else server.answer
        if isinstance(answer, int):
            self.send_response(answer)
            self.end_headers()
            return
        payload = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def rasa() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), FakeRasa)
    server.received, server.answer = [], {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor(load_training_data(NLU_DATA), City.load(), Catalogue.load().codes)


def parse_answer(text: str) -> dict[str, Any]:
    """Shaped as a real Rasa 3.6 server (DIET pipeline) answers /model/parse."""
    start = text.index("pothole")
    return {
        "text": text,
        "intent": {"name": "report_problem", "confidence": 0.97},
        "entities": [
            {
                "entity": "service_type",
                "start": start,
                "end": start + 7,
                "value": "pothole",
                "confidence_entity": 0.99,
                "extractor": "DIETClassifier",
            },
            {"entity": "broken", "start": 500, "end": 505, "value": "x"},  # a bad span
            "not even a dict",
        ],
        "intent_ranking": [
            {"name": "report_problem", "confidence": 0.97},
            {"name": "ask_question", "confidence": 0.02},
        ],
        "text_tokens": [[0, 5]],
    }


def test_parse_maps_intent_entities_and_supplements_ours(rasa: Any, extractor) -> None:
    rasa.answer = parse_answer
    engine = build_engine("rasa", None, extractor, rasa_url=rasa.url + "/")  # type: ignore[arg-type]
    assert isinstance(engine, RasaEngine)
    text = "there is a pothole outside 12 Elm Street, call 206-555-0142"
    result = engine.parse(text)
    assert rasa.received == [("/model/parse", {"text": text})]
    assert (result.intent, result.confidence) == ("report_problem", 0.97)
    assert result.ranking == [("report_problem", 0.97), ("ask_question", 0.02)]
    found = {e.entity: e for e in result.entities}
    assert found["service_type"].extractor == "rasa"  # Rasa's own, kept
    assert found["service_type"].text == "pothole"
    assert found["street"].value == "Elm Street" or "Elm Street" in found["street"].value
    assert "phone" in found  # Rasa did not find it: ours adds it
    assert "broken" not in found
    assert [e.start for e in result.entities] == sorted(e.start for e in result.entities)


def test_fallback_is_out_of_scope(rasa: Any) -> None:
    rasa.answer = {
        "text": "x",
        "intent": {"name": "nlu_fallback", "confidence": 0.3},
        "entities": [],
        "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.3}],
    }
    result = RasaEngine(rasa.url).parse("what is the meaning of life")
    assert result.intent == OUT_OF_SCOPE
    assert result.ranking == [(OUT_OF_SCOPE, 0.3)]


@pytest.mark.parametrize(
    "answer", [500, b"<html>bad gateway</html>", b"[1, 2]", {"intent": None}, {}]
)
def test_a_broken_server_is_out_of_scope_not_a_crash(rasa: Any, extractor, answer, caplog) -> None:
    rasa.answer = answer
    text = "status of REQ-2026-000123 please"
    result = RasaEngine(rasa.url, extractor).parse(text)
    assert result.intent == OUT_OF_SCOPE and result.confidence == 0.0
    assert [e.entity for e in result.entities] == ["reference"]  # ours still work
    assert text not in caplog.text  # no resident text in logs


def test_an_unreachable_server(extractor, caplog) -> None:
    engine = RasaEngine("http://127.0.0.1:9", extractor, timeout=1)
    assert engine.parse("hello").intent == OUT_OF_SCOPE
    assert "did not parse" in caplog.text


def test_train_save_load_only_record_the_url(rasa: Any, tmp_path: Path) -> None:
    engine = RasaEngine(rasa.url)
    report = engine.train(TrainingData())
    assert report.seconds == 0.0 and report.n_examples == 0
    engine.save(tmp_path)
    assert json.loads((tmp_path / "engine.json").read_text()) == {"engine": "rasa", "url": rasa.url}
    engine.load(tmp_path)
    assert rasa.received == []  # nothing asked of Rasa


def test_build_engine_needs_the_url(extractor) -> None:
    with pytest.raises(ValueError, match="HOTLINE_RASA_URL"):
        build_engine("rasa", None, extractor)  # type: ignore[arg-type]
