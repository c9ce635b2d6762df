"""Emergency and crisis triage: every free-text message, before anything else is done with it.

A resident in danger must be told the emergency number (or the crisis line) in the first
reply, whatever they were doing, in whatever words they used. Two parts decide:

- a classifier over the turn's own MiniLM features (the same run the intent classifier
  uses, so triage costs well under a millisecond) beside word and character n-grams for
  typos: the NLU engine's model (bot/nlu/embedding_engine.py), trained on the kinds in
  bot/data/triage.yml. Its alert score is one minus the probability of the ordinary kinds;
- a backstop of strong cues ("not breathing", "on fire", "smell gas", "kill myself"), each
  held back in a question about emergencies ("what should I do if someone collapses?"),
  for the wordings the classifier has never seen; a cue counts only where the classifier
  gives the message at least a floor, since idioms match cues too ("drowning in bills").

Two thresholds and the cue floor come from out-of-fold predictions on the training data
(never from the held-out sets, evaluation/data/triage_heldout*.yml). Above the alert
threshold (the least cost when a missed emergency costs ``MISS_COST`` false alarms) the
reply opens with the number and staff are told. Above the interrupt threshold (the lowest
whose out-of-fold false alarms stay within ``SURE_FALSE_ALARMS``), or on a backstop cue, the
alert is sure and replaces the rest of the turn (an open report waits); between the two the
number comes first and the turn goes on as usual, so a false alarm costs a resident one
extra sentence, not their answer. Figures: docs/benchmarks.md (python -m
evaluation.benchmarks.triage).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from bot.nlu.embedding_engine import EngineConfig, _Model
from bot.nlu.training_data import load_training_data
from knowledge.embedder import Embedder

log = logging.getLogger(__name__)

DATA = Path(__file__).with_name("data") / "triage.yml"
NLU_DATA = Path(__file__).with_name("data") / "nlu.yml"  # every example there is ordinary
CITY = Path(__file__).with_name("data") / "city.yml"
EMERGENCY, CRISIS, NONE = "emergency", "crisis", "none"
EMERGENCY_KINDS = ("medical", "fire", "gas", "violence", "water", "electric", "flood_electric")
ORDINARY_KINDS = ("report", "question", "chat")
FORMAT_VERSION = 2
FOLDS = 5
SEED = 7
# A missed emergency is worse than a needless "call 911" line: the threshold minimises
# misses * MISS_COST + false alarms on out-of-fold predictions.
MISS_COST = 10.0
SURE_FALSE_ALARMS = 0.01
THRESHOLD_GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)
# A cue counts only where the classifier gives the message at least this much: "drowning in
# bills lol" matches the water cue with an alert score near zero. Chosen with the threshold.
CUE_FLOOR_GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2)
# The NLU engine's defaults measured best here too (out-of-fold, bot/data/triage.yml, ROC
# AUC): sentence vector only 0.984, all features 0.986, without n-grams 0.978; C 3, 10 and
# 30 within 0.0003; kinds as classes rather than three outcomes (fewer false alarms at the
# same recall: 11.5 % against 17.4 % at 98 % recall).
CONFIG = EngineConfig()


def outcome(kind: str) -> str:
    """emergency, crisis or none, for one of the data's kinds."""
    if kind == CRISIS:
        return CRISIS
    return NONE if kind in ORDINARY_KINDS else EMERGENCY


def load_examples(path: Path = DATA) -> list[tuple[str, str]]:
    """(text, kind) pairs from a file of ``kinds: {kind: [text, ...]}``."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    known = {*EMERGENCY_KINDS, CRISIS, *ORDINARY_KINDS}
    examples = []
    for kind, texts in (raw.get("kinds") or {}).items():
        if kind not in known:
            raise ValueError(f"{path}: unknown kind {kind!r} (one of {', '.join(sorted(known))})")
        for text in texts or []:
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{path}: {kind}: {text!r} is not a message (quote yes/no)")
            examples.append((text, kind))
    return examples


def training_examples(data: Path = DATA, nlu: Path | None = NLU_DATA) -> list[tuple[str, str]]:
    """The triage data, plus the NLU examples as ordinary messages: what residents say most
    (greetings, reports, answers to the form's questions) must never raise an alert."""
    examples = load_examples(data)
    if nlu is None:
        return examples
    seen = {text.lower() for text, _ in examples}
    kinds = {"report_problem": "report", "ask_question": "question"}
    for example in load_training_data(nlu).examples:
        if example.text.lower() not in seen:
            seen.add(example.text.lower())
            examples.append((example.text, kinds.get(example.intent, "chat")))
    return examples


# -- the backstop ------------------------------------------------------------------------------
_PERSON = (
    r"(?:he|she|i|i'?ve|someone|somebody|some1|sum1|a (?:man|woman|lady|guy|boy|girl|child|kid"
    r"|person|baby|toddler)|my \w+(?: \w+)?|the (?:man|woman|lady|guy|boy|girl|child|kid|baby)"
    r"|people|they)"
)
CUES: dict[str, re.Pattern[str]] = {
    kind: re.compile(pattern, re.I)
    for kind, pattern in {
        "medical": (
            r"\b(?:not|isn'?t|is not|stopped|barely|can'?t|cannot|not)\s+breath|\bbreething"
            r"|\bunconsc?ious|\bunresponsive|\bnot (?:responding|moving|waking)"
            r"|\b(?:won'?t|can'?t|cannot)\s+(?:wake|get up)|\bpassed out|\bfainted"
            rf"|\b{_PERSON}\b[^.]{{0,30}}\bcollaps|\boverdos|\bheart attack"
            r"|\bhaving a (?:stroke|seizure|fit)\b|\bseizure\b|\b(?:is|'s) choking"
            r"|\bbleeding (?:heavily|badly|a lot)|\b(?:so much|lots of|a lot of) blood"
            r"|\bswallowed\b|\bdr[ao]nk (?:some |the )?(?:bleach|weedkiller|antifreeze|poison)"
            r"|\bturning blue|\bneed an ambulance|\belectrocuted"
        ),
        "fire": (
            r"\b(?:is|are|'s|caught|on) fire\b|\bin flames\b|\bis alight\b"
            r"|\bsmoke (?:is )?(?:pouring|coming|filling|everywhere)|\bfull of smoke"
            r"|\bflames (?:are )?(?:coming|everywhere)|\bhouse fire\b|\bfire (?:is )?spreading"
        ),
        "gas": (
            r"\bsmel+\w*\s+(?:of\s+|like\s+)?gas+\b|\bgas+\s+(?:smel+|leak|leek)"
            r"|\bgas\b[^.]{0,20}\bhissing|\bhissing\b[^.]{0,20}\bgas\b|\brotten eggs?"
            r"|\b(?:reeks|stinks) of gas|\b(?:carbon monoxide|co) (?:alarm|detector)"
            r"\b[^.]{0,20}\b(?:going off|beeping|sounding|ringing)"
        ),
        "violence": (
            r"\b(?:knife|gun|machete|crowbar)\b|\bstabbed\b|\bshot\b|\bgunshots?\b"
            r"|\b(?:breaking|break|broke|brake|kicking)\s+(?:in\b|into\b|down (?:my|the|our) door)"
            r"|\battack(?:ing|ed)\b|\bbeating (?:me|her|him|up)|\bhitting (?:me|her|him)"
            r"|\b(?:kill|hurt) (?:me|us)\b|\bfollowing me\b|\bkidnap"
        ),
        "water": (
            r"\bdrown|\b(?:went|gone|going) under\b|\bswept (?:away|out)|\boverboard"
            r"|\bthrough the ice"
            rf"|\b{_PERSON}\b[^.]{{0,30}}\b(?:in|into) the (?:river|water|harbour|sea|lake"
            r"|canal|dock|pond)\b"
        ),
        "electric": (
            r"\blive (?:wire|cable|line)s?\b|\b(?:power|electric\w*)\s*(?:lines?|cables?)\s+"
            r"(?:are |is |have |has )?(?:down|come down|came down|fallen|sparking)"
            r"|\b(?:lines?|cables?|wires?)\b[^.]{0,30}\b(?:sparking|arcing)\b|\bpowerline"
        ),
        "flood_electric": (
            r"\b(?:flood\w*|water|pouring|leak\w*)\b[^.]{0,40}\b(?:sockets?|plugs?|fuse ?box"
            r"|electrics|wiring)\b"
        ),
        CRISIS: (
            r"\bkill (?:my ?self|himself|herself|themselves)|\bkms\b|\bsuicid"
            r"|\bend (?:it all|my life|her life|his life)\b|\bwant(?:s)? to die\b|\bwanna die"
            r"|\b(?:take|taking) (?:my|his|her) own life|\bself.?harm"
            r"|\bcutting (?:my|him|her)self|\bhurt(?:ing)? myself"
            r"|\bdon'?t want to (?:live|be alive|be here|wake up)|\bbetter off (?:without me|dead)"
            r"|\bwish i (?:was|were) dead|\bno (?:point|reason) (?:in |to )?(?:living|live)"
            r"|\b(?:going to|gonna) jump\b|\bsuicide note|\bcan'?t go on\b"
        ),
    }.items()
}
# Questions about emergencies, and what is over or a nuisance rather than a danger.
_QUESTION = re.compile(
    r"^\s*(?:how|what|what'?s|where|who|when|which|is|are|can|could|do|does|should|would|any)\b",
    re.I,
)
_HERE_AND_NOW = re.compile(
    r"\b(?:my|he|she|he'?s|she'?s|someone is|somebody is|there is|there'?s|theres|now"
    r"|help|quick|hurry|please|i'?m|i am)\b",
    re.I,
)
_NOT_NOW = re.compile(
    r"\b(?:bonfires?|barbecue|bbq|fireworks?|bill|permit|last (?:week|weekend|month|night|year)"
    r"|yesterday|ago|burnt out|in general)\b"
    r"|\b(?:no|nothing|nobody|no one)\b[^.]{0,12}\b(?:hurt|injured|sparking|electrics)\b",
    re.I,
)


_HYPOTHETICAL = re.compile(r"\b(?:if|in case|when)\b", re.I)


def cue(text: str) -> str | None:
    """The kind of a strong emergency or crisis cue in ``text``, unless it is held back."""
    if _NOT_NOW.search(text):
        return None
    if _QUESTION.search(text) and (_HYPOTHETICAL.search(text) or not _HERE_AND_NOW.search(text)):
        return None
    return next((kind for kind, pattern in CUES.items() if pattern.search(text)), None)


# Until the assistant understands Spanish and Chinese (issue 14), a resident in danger who
# writes in them must still get the number: the classifier, trained on English, cannot score
# them, so these cues count whatever it says. Simplified and Traditional characters alike.
FOREIGN_CUES: dict[str, dict[str, re.Pattern[str]]] = {
    language: {kind: re.compile(pattern, re.I) for kind, pattern in kinds.items()}
    for language, kinds in {
        "es": {
            CRISIS: (
                r"\bno quiero (?:vivir|seguir viviendo)|\bquiero morir|\bme quiero (?:morir|matar)"
                r"|\bmatarme\b|\bsuicid(?:arme|arse|io)\b|\bquitarme la vida"
                r"|\bacabar con mi vida"
            ),
            "medical": (
                r"\bno (?:respira|puede respirar|reacciona|despierta)|\binconsciente"
                r"|\bse (?:desmay[oó]|cay[oó] y no)|\bambulancia|\binfarto"
                r"|\bsangr(?:a|ando) mucho"
                r"|\bse (?:tom[oó]|trag[oó]) (?:todas? )?(?:las pastillas|lej[ií]a)"
            ),
            "fire": r"\bincendio|\b(?:hay|un|el) fuego\b|\bfuego en\b|\bse (?:est[aá] )?quemando"
            r"|\ben llamas",
            "gas": r"\bhuele a gas|\bolor a gas|\bfuga de gas",
            "water": r"\bse (?:est[aá] )?ahogando|\bahog[aá]ndose",
            "violence": (
                r"\bme (?:quiere|quieren|va a|van a) matar|\b(?:pistola|cuchillo|navaja)\b"
                r"|\bdisparos?\b|\bme est[aá](?:n)? pegando"
                r"|\b(?:socorro|auxilio)\s*(?:[!¡]|$)"  # the cry, not the name or the street
            ),
        },
        "zh": {
            CRISIS: (  # not "想死你了", "I miss you so much"
                r"想死(?!你)|不想活|自杀|自殺|轻生|輕生|活不下去"
                r"|结束(?:我的)?生命|結束(?:我的)?生命"
            ),
            "medical": (
                r"不能呼吸|没有呼吸|沒有呼吸|没呼吸|沒呼吸|喘不过气|喘不過氣|昏迷|晕倒|暈倒|昏倒"
                r"|救护车|救護車|流血不止|心脏病发|心臟病發"
            ),
            "fire": r"着火|著火|失火|火灾|火災|起火",
            "gas": r"煤气泄漏|煤氣洩漏|燃气泄漏|燃氣洩漏|闻到煤气|聞到煤氣|闻到燃气|聞到燃氣",
            "water": r"溺水|落水",
            "violence": r"救命|持刀|有枪|有槍|杀人|殺人|打人",
        },
    }.items()
}


def foreign_cue(text: str) -> tuple[str, str] | None:
    """(language, kind) of an emergency or crisis cue in Spanish or Chinese, crisis first."""
    for language, kinds in FOREIGN_CUES.items():
        for kind, pattern in kinds.items():
            if pattern.search(text):
                return language, kind
    return None


# -- the detector ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Alert:
    """What triage found: ``kind`` is emergency or crisis; ``detail`` the data's kind."""

    kind: str
    detail: str
    score: float
    by_cue: bool = False
    sure: bool = True  # above the interrupt threshold or a cue: the turn is about this alone
    language: str = "en"  # of the cue that found it (FOREIGN_CUES), for the first line


@dataclass(frozen=True)
class Lines:
    """The numbers the first reply gives: from the city's config, overridable by settings."""

    emergency: str = "911"
    crisis: str = "988"

    @classmethod
    def load(
        cls, path: Path = CITY, emergency: str | None = None, crisis: str | None = None
    ) -> Lines:
        raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("emergency") or {}
        return cls(
            emergency=str(emergency or raw.get("number") or cls.emergency),
            crisis=str(crisis or raw.get("crisis_line") or cls.crisis),
        )


class Triage:
    def __init__(self, embedder: Embedder, config: EngineConfig = CONFIG) -> None:
        self.embedder = embedder
        self.config = config
        self.model: _Model | None = None
        self.threshold = 0.5
        self.interrupt_threshold = 0.9
        self.cue_floor = 0.0
        self.metrics: dict[str, Any] = {}

    # -- scoring -------------------------------------------------------------------------
    def _check(self, texts: list[str], features: np.ndarray | None) -> np.ndarray:
        if features is None:
            return self.embedder.features(texts)
        features = np.atleast_2d(features)
        if features.shape != (len(texts), self.embedder.feature_dim):
            raise ValueError(f"{features.shape}: expected Embedder.features() rows")
        return features

    def probabilities(self, texts: list[str], features: np.ndarray | None = None) -> np.ndarray:
        """(n, kinds) probabilities in ``self.kinds`` order."""
        if self.model is None:
            raise RuntimeError("train or load the triage model first")
        return self.model.proba(texts, self._check(texts, features))

    @property
    def kinds(self) -> list[str]:
        return list(self.model.intents) if self.model else []

    def scores(self, probabilities: np.ndarray) -> np.ndarray:
        """The alert score of each row: one minus the probability of the ordinary kinds."""
        ordinary = [i for i, k in enumerate(self.kinds) if outcome(k) == NONE]
        return 1.0 - probabilities[:, ordinary].sum(axis=1)

    def assess(
        self, text: str | None, features: np.ndarray | None = None, as_written: str | None = None
    ) -> Alert | None:
        """An alert for one message, or None; ``features`` is the turn's Embedder.features().

        ``as_written`` is the text before spelling correction, whose English vocabulary would
        turn Spanish into other words; the foreign cues read it.
        """
        if not text or not text.strip() or self.model is None:
            return None
        row = self.probabilities([text], None if features is None else features[None])[0]
        score = float(self.scores(row[None])[0])
        if (abroad := foreign_cue(as_written or text)) is not None:  # whatever English says
            language, kind = abroad
            return Alert(outcome(kind), kind, score, by_cue=True, language=language)
        found = cue(text) if score >= self.cue_floor else None
        if score >= self.threshold:
            # The crisis line also gives the emergency number, so a crisis that is a third
            # of the alert (or named in so many words) gets it.
            alerting = [(p, k) for p, k in zip(row, self.kinds, strict=True) if outcome(k) != NONE]
            crisis = sum(p for p, k in alerting if k == CRISIS)
            detail = found or (CRISIS if crisis >= score / 3 else max(alerting)[1])
            sure = found is not None or score >= self.interrupt_threshold
            return Alert(outcome(detail), detail, score, sure=sure)
        if found is not None:
            return Alert(outcome(found), found, score, by_cue=True)
        return None

    # -- training --------------------------------------------------------------------------
    def train(self, examples: list[tuple[str, str]], features: np.ndarray | None = None) -> dict:
        """Fit on all examples; the threshold from out-of-fold predictions over them."""
        started = time.perf_counter()
        texts = [t for t, _ in examples]
        kinds = [k for _, k in examples]
        features = self._check(texts, features)
        with threadpool_limits(limits=1, user_api="blas"):
            held = self._out_of_fold(texts, kinds, features)
            self.model = _Model.fit(self.config, texts, features, kinds)
        alerting = np.array([outcome(k) != NONE for k in kinds])
        cued = np.array([cue(t) is not None for t in texts])
        self.threshold, self.cue_floor, chosen = choose_threshold(held, alerting, cued)
        self.interrupt_threshold, sure = choose_interrupt(held, alerting, self.threshold)
        self.metrics = {
            "examples": len(texts),
            "alerting": int(alerting.sum()),
            "validation": f"stratified {FOLDS}-fold out-of-fold predictions",
            "miss_cost": MISS_COST,
            **chosen,
            "interrupt": sure,
            "seconds": round(time.perf_counter() - started, 2),
        }
        return self.metrics

    def _out_of_fold(self, texts: list[str], kinds: list[str], features: np.ndarray) -> np.ndarray:
        """Each example's alert score from a model that did not see it."""
        held = np.zeros(len(texts))
        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
        for fit, test in folds.split(texts, kinds):
            model = _Model.fit(
                self.config, [texts[i] for i in fit], features[fit], [kinds[i] for i in fit]
            )
            proba = model.proba([texts[i] for i in test], features[test])
            ordinary = [i for i, k in enumerate(model.intents) if outcome(k) == NONE]
            held[test] = 1.0 - proba[:, ordinary].sum(axis=1)
        return held

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        if self.model is None:
            raise RuntimeError("train the triage model before saving it")
        self.model.save(directory)
        meta = {
            "format": FORMAT_VERSION,
            "kinds": self.model.intents,
            "threshold": self.threshold,
            "interrupt_threshold": self.interrupt_threshold,
            "cue_floor": self.cue_floor,
            "config": asdict(self.config),
            "metrics": self.metrics,
        }
        (directory / "triage.json").write_text(json.dumps(meta, indent=2, default=str))

    def load(self, directory: Path) -> None:
        meta = json.loads((directory / "triage.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"triage model format {meta.get('format')}, not {FORMAT_VERSION}")
        self.model = _Model.load(directory, self.config, list(meta["kinds"]))
        self.threshold = float(meta["threshold"])
        self.interrupt_threshold = float(meta["interrupt_threshold"])
        self.cue_floor = float(meta["cue_floor"])
        self.metrics = dict(meta.get("metrics") or {})


def choose_threshold(
    held: np.ndarray, alerting: np.ndarray, cued: np.ndarray
) -> tuple[float, float, dict[str, float]]:
    """The grid threshold and cue floor of least cost, the backstop's alerts counted in."""
    rows = []
    for floor in CUE_FLOOR_GRID:
        for t in THRESHOLD_GRID:
            fired = (held >= t) | (cued & (held >= floor))
            misses = int((alerting & ~fired).sum())
            false_alarms = int((~alerting & fired).sum())
            rows.append(
                {
                    "threshold": float(t),
                    "cue_floor": float(floor),
                    "cost": misses * MISS_COST + false_alarms,
                    "recall": float(fired[alerting].mean()),
                    "false_alarm_rate": float(fired[~alerting].mean()),
                }
            )
    # A tie: the safer, lower threshold, then the lower floor.
    best = min(rows, key=lambda r: (r["cost"], r["threshold"], r["cue_floor"]))
    return best["threshold"], best["cue_floor"], best


def choose_interrupt(
    held: np.ndarray, alerting: np.ndarray, floor: float
) -> tuple[float, dict[str, float]]:
    """The lowest grid threshold (not under ``floor``) whose out-of-fold false-alarm rate is
    at most ``SURE_FALSE_ALARMS``, with the share of emergencies that are sure there."""
    ordinary = ~alerting
    for t in THRESHOLD_GRID:
        rate = float((held[ordinary] >= t).mean()) if ordinary.any() else 0.0
        if t >= floor and rate <= SURE_FALSE_ALARMS:
            sure = float((held[alerting] >= t).mean()) if alerting.any() else 0.0
            return float(t), {"threshold": float(t), "false_alarm_rate": rate, "sure": sure}
    top = float(THRESHOLD_GRID[-1])
    return top, {"threshold": top, "false_alarm_rate": float((held[ordinary] >= top).mean())}


def _fingerprint(*paths: Path | None) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes() + str(FORMAT_VERSION).encode())
    for path in paths:
        digest.update(path.read_bytes() if path else b"-")
    return digest.hexdigest()


def prepare_triage(
    embedder: Embedder, model_dir: Path, data: Path = DATA, nlu: Path | None = NLU_DATA
) -> Triage:
    """The saved detector if it was trained on this data by this code, else train and save."""
    triage = Triage(embedder)
    directory = model_dir / "triage"
    stamp = directory / "fingerprint.json"
    fingerprint = _fingerprint(data, nlu)
    if stamp.exists() and json.loads(stamp.read_text()).get("sha256") == fingerprint:
        try:
            triage.load(directory)
            return triage
        except (OSError, ValueError, KeyError) as error:
            log.warning("retraining triage: the saved model does not load (%s)", error)
    metrics = triage.train(training_examples(data, nlu))
    log.info(
        "trained triage in %.1f s: threshold %.2f, out-of-fold recall %.3f, false alarms %.3f",
        metrics["seconds"],
        triage.threshold,
        metrics["recall"],
        metrics["false_alarm_rate"],
    )
    stamp.unlink(missing_ok=True)
    triage.save(directory)
    stamp.write_text(json.dumps({"sha256": fingerprint}))
    return triage
