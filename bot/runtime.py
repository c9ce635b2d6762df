"""Build a ready assistant from settings: database, knowledge base, index and trained NLU."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.actions.answer import Answerer
from bot.assistant import Assistant
from bot.catalogue import DATA, Catalogue
from bot.city import City
from bot.dialogue.choosing import ChoiceMatcher, Lexicon
from bot.dialogue.report import ReportPolicy
from bot.dialogue.understanding import Interpreter
from bot.identity import Hasher, load_or_create_secret
from bot.nlu import build_engine
from bot.nlu.engine import NLUEngine
from bot.nlu.entities import EntityExtractor
from bot.nlu.spelling import SpellCorrector, words
from bot.nlu.training_data import TrainingData, load_training_data, nlu_files
from bot.settings import Settings
from bot.storage.db import Database
from bot.triage import Lines, Triage, prepare_triage
from knowledge.demo import seed_demo
from knowledge.embedder import Embedder, load_embedder
from knowledge.schema import ArticleView
from knowledge.search import KnowledgeSearch
from knowledge.service import KnowledgeService

log = logging.getLogger(__name__)
NLU_DATA = DATA / "nlu.yml"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    embedder: Embedder
    knowledge: KnowledgeService
    search: KnowledgeSearch
    nlu: NLUEngine
    city: City
    catalogue: Catalogue
    hasher: Hasher
    assistant: Assistant
    triage: Triage


def training_files(settings: Settings) -> list[Path]:
    return [NLU_DATA, *settings.nlu_data]


def _fingerprint(engine: str, paths: list[Path]) -> str:
    digest = hashlib.sha256(engine.encode())
    for file in nlu_files(paths):
        digest.update(file.read_bytes())
    return digest.hexdigest()


def prepare_nlu(
    settings: Settings,
    embedder: Embedder,
    extractor: EntityExtractor,
    data: TrainingData,
    *,
    force: bool = False,
) -> NLUEngine:
    """Load the trained model if it matches the training data, else train and save it."""
    engine = build_engine(settings.nlu_engine, embedder, extractor, rasa_url=settings.rasa_url)
    directory = settings.model_dir / f"nlu-{settings.nlu_engine}"
    stamp = directory / "fingerprint.json"
    fingerprint = _fingerprint(settings.nlu_engine, training_files(settings))
    if not force and stamp.exists() and json.loads(stamp.read_text())["sha256"] == fingerprint:
        try:
            engine.load(directory)
            return engine
        except (OSError, ValueError, KeyError) as error:  # an older format, a damaged file
            log.warning("retraining: the saved NLU model does not load (%s)", error)
    report = engine.train(data)
    log.info("trained NLU engine %s in %.1f s", settings.nlu_engine, report.seconds)
    directory.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)  # a crash mid-save leaves no stamp, so the next start retrains
    engine.save(directory)
    stamp.write_text(json.dumps({"sha256": fingerprint}))
    return engine


def domain_vocabulary(
    data: TrainingData,
    articles: Iterable[ArticleView],
    city: City,
    catalogue: Catalogue,
    lexicon: Lexicon,
) -> Counter[str]:
    """The words this deployment talks about, for spelling correction."""
    texts: list[str] = [e.text for e in data.examples]
    for article in articles:
        texts += [article.title, article.short_answer, article.answer, *article.questions]
    for item in [*city.streets, *city.places]:
        texts += item.names
    texts += [d.name for d in city.districts]
    for service in catalogue.services:
        texts += [service.name, service.description, *service.keywords]
    texts += [p for phrases in lexicon.phrases.values() for p in phrases]
    return words(texts)


def build_runtime(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> Runtime:
    """Everything the server needs; on an empty data dir it seeds the demo and trains first."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    knowledge = KnowledgeService(db.sessions)
    city = City.load()
    catalogue = Catalogue.load()
    data = load_training_data(*training_files(settings))
    clock = clock or (lambda: datetime.now(UTC))
    zone = ZoneInfo(settings.timezone)
    extractor = EntityExtractor(  # the services' names and keywords name their type too
        data, city, catalogue.services, timezone=settings.timezone, now=clock
    )
    # Instances started together on one database take turns: one migrates, seeds and trains,
    # the others find it done.
    with db.exclusive("hotline:first-start"):
        db.migrate()
        if settings.seed_demo:
            seed_demo(knowledge)
        embedder = load_embedder(cache_dir=settings.model_dir)
        search = KnowledgeSearch(knowledge, embedder, settings.index_dir)
        search.ensure_fresh()
        nlu = prepare_nlu(settings, embedder, extractor, data)
        triage = prepare_triage(embedder, settings.model_dir)
    hasher = Hasher(
        load_or_create_secret(
            settings.secret_key.get_secret_value() if settings.secret_key else None,
            settings.data_dir,
        )
    )
    lexicon = Lexicon.build(catalogue)
    assistant = Assistant(
        db=db,
        interpreter=Interpreter(
            nlu,
            embedder,
            ChoiceMatcher(lexicon, embedder.encode),
            SpellCorrector(
                domain_vocabulary(data, knowledge.published(), city, catalogue, lexicon)
            ),
        ),
        answerer=Answerer(search, knowledge, districts=tuple(d.name for d in city.districts)),
        report=ReportPolicy(catalogue, city, embedder),
        catalogue=catalogue,
        hasher=hasher,
        session_ttl=timedelta(minutes=settings.session_ttl_minutes),
        max_text_chars=settings.max_text_chars,
        languages=(settings.default_language,),
        clock=clock,
        office_hours=city.office_hours,
        zone=zone,
        triage=triage,
        lines=Lines.load(emergency=settings.emergency_number, crisis=settings.crisis_line),
    )
    return Runtime(
        settings, db, embedder, knowledge, search, nlu, city, catalogue, hasher, assistant, triage
    )
