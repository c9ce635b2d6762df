"""The report form: ask only for what is missing, validate each answer, confirm, correct."""

from __future__ import annotations

import re

import numpy as np

from bot import replies
from bot.catalogue import Catalogue, ServiceType
from bot.city import City
from bot.contract import Choice, Location, OutboundMessage
from bot.dialogue.state import PlaceSlot, ReportForm
from bot.dialogue.understanding import Understanding, payload
from knowledge.embedder import Embedder

SLOT_ENTITIES = ("service_type", "street", "place", "phone")
MIN_DESCRIPTION_WORDS = 2
MIN_PHONE_DIGITS = 3  # fewer digits in an answer to "what number?" is no attempt at one
EXTRA_WORDS = 3  # content words beyond what was asked that are worth keeping as details
SERVICE_CHOICES = 5
# Cosine to a service's name and description, and lead over the runner-up, at which a report
# names its type without a synonym: 94 of 95 right on the annotated report examples of nlu.yml.
SERVICE_MATCH = 0.40
SERVICE_MARGIN = 0.08
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
NOTHING_MORE = re.compile(
    r"^\W*(?:nothing(?:\s+\w+){0,3}|not really|that'?s (?:it|all)|none|no more|"
    r"no(?:pe)?(?:,? thanks?| thank you)?)\W*$",
    re.IGNORECASE,
)
_FILLER = frozenset(
    [
        "i",
        "im",
        "i'm",
        "want",
        "wanted",
        "would",
        "like",
        "to",
        "report",
        "a",
        "an",
        "the",
        "there",
        "is",
        "are",
        "was",
        "its",
        "it's",
        "it",
        "on",
        "in",
        "at",
        "near",
        "by",
        "outside",
        "of",
        "my",
        "our",
        "me",
        "please",
        "need",
        "needs",
        "problem",
        "issue",
        "hello",
        "hi",
        "hey",
        "need",
        "have",
        "has",
        "there's",
        "theres",
        "some",
        "someone",
        "this",
        "that",
    ]
)
CHANGEABLE = {
    "service": "Type of problem",
    "place": "Place",
    "description": "Details",
    "contact": "How we contact you",
}


def nothing_more(u: Understanding) -> bool:
    """ "no thanks", "nothing to add": the resident has no more to say about the problem."""
    return bool(NOTHING_MORE.search(u.raw_text or u.text or ""))


def mistyped(text: str) -> bool:
    """An answer to "what number?" with digits in it was an attempt at one."""
    return sum(ch.isdigit() for ch in text) >= MIN_PHONE_DIGITS


def content_words(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """The words of a message that are neither entities nor filler: what describes the problem."""
    kept = list(text)
    for start, end in spans:
        kept[start:end] = [" "] * (end - start)
    return [w for w in _WORD.findall("".join(kept).lower()) if w not in _FILLER]


class ReportPolicy:
    def __init__(self, catalogue: Catalogue, city: City, embedder: Embedder) -> None:
        self.catalogue = catalogue
        self.city = city
        names = [f"{s.name}. {s.description}" for s in catalogue.services]
        self._service_vectors = embedder.encode(names)

    # -- filling -------------------------------------------------------------------------
    def fill(self, form: ReportForm, u: Understanding, *, first: bool = False) -> str | None:
        """Put what this turn says into the form; return a problem to tell the resident, if any."""
        asking = form.asking
        problem: str | None = None
        if u.intent == "service" and u.argument and self.catalogue.get(u.argument):
            form.service_code = u.argument
        elif (entity := u.entity("service_type")) and self.catalogue.get(entity.value):
            form.service_code = entity.value
        elif form.service_code is None and u.vector is not None and (first or asking == "service"):
            form.service_code = self.recognise_service(u.vector)
        if u.intent == "pick_place" and u.argument and form.place_options:
            index = int(u.argument) if u.argument.isdigit() else 0
            form.place = form.place_options[min(index, len(form.place_options) - 1)]
            form.place_options = []
        elif u.intent == "locate" and u.argument:
            problem = self._fill_place_from_text(form, u.argument)
        elif u.location is not None or u.has_any("street", "place"):
            problem = self._fill_new_place(form, u, first=first)
        elif asking == "place" and u.text and not first:
            problem = self._fill_place_from_text(form, u.text)
        if asking == "place" and form.place is not None and u.text and not first:
            self._keep_extra(form, u)
        if u.intent == "contact" and u.argument in replies.CONTACT_CHOICES:
            form.contact = u.argument
        if (phone := u.entity("phone")) and (form.contact == "phone" or asking == "phone"):
            form.phone = phone.value
        elif (
            asking == "phone"
            and u.text
            and not first
            and u.intent != "contact"
            and mistyped(u.text)
        ):
            problem = replies.PHONE_INVALID
        if u.intent == "field" and u.argument and "=" in u.argument:
            name, _, value = u.argument.partition("=")
            form.fields[name] = value
        elif asking and asking.startswith("field:") and u.text and not first:
            problem = self._fill_field(form, asking.removeprefix("field:"), u.text)
        if asking == "description" and u.text and not first and nothing_more(u):
            service = self.catalogue.get(form.service_code)  # "no thanks": nothing to add
            form.description = service.name if service else u.text
        elif asking == "description" and u.text and not first:
            if len(content_words(u.text, [])) < MIN_DESCRIPTION_WORDS and len(u.text) < 12:
                problem = replies.DESCRIPTION_TOO_SHORT
            else:
                form.description = u.raw_text or u.text
        elif first and u.text and form.description is None:
            spans = [(e.start, e.end) for e in u.entities]
            if len(content_words(u.text, spans)) >= MIN_DESCRIPTION_WORDS:
                form.description = u.raw_text or u.text
        return problem

    def _fill_new_place(self, form: ReportForm, u: Understanding, *, first: bool) -> str | None:
        """A place named while the form was asking something else: if it differs from the
        one already given, ask which is right instead of replacing it (a correction at the
        read-back replaces it)."""
        before = form.place
        if u.location is not None:
            problem = self._fill_place_from_pin(form, u.location)
        else:
            problem = self._fill_place_from_entities(form, u)
        new = form.place
        settled = first or before is None or form.confirming or form.asking == "place"
        if not settled and new is not None and new.address != before.address:
            form.place = before
            form.place_options = [before, new]
        return problem

    def _keep_extra(self, form: ReportForm, u: Understanding) -> None:
        """An address with a sentence around it: the sentence goes into the details."""
        spans = [(e.start, e.end) for e in u.entities]
        if len(content_words(u.text or "", spans)) >= EXTRA_WORDS and not form.description:
            form.description = u.raw_text or u.text

    def add_details(self, form: ReportForm, u: Understanding) -> bool:
        """Details given when the form asked something else go into the description."""
        text = u.raw_text or u.text
        if not text or text.rstrip().endswith("?") or u.picked:
            return False
        about_problem = u.intent in ("report_problem", "service") or u.has_any("service_type")
        if not about_problem or len(content_words(u.text or "", [])) < EXTRA_WORDS:
            return False
        form.description = f"{form.description}; {text}" if form.description else text
        return True

    @staticmethod
    def place_words(place: PlaceSlot) -> str:
        """ "on Castle Street", "at the market": as the resident named it."""
        if place.street:
            return f"on {place.street}"
        return f"at {place.said or place.address.split(',')[0]}"

    def _fill_place_from_entities(self, form: ReportForm, u: Understanding) -> str | None:
        if place_entity := u.entity("place"):
            place = next((p for p in self.city.places if p.name == place_entity.value), None)
            if place:
                form.place = PlaceSlot(
                    said=place_entity.text,
                    address=f"{place.name}, {place.address}",
                    street=None,
                    district=place.district,
                    lat=place.point["lat"],
                    lon=place.point["lon"],
                )
                return None
        street_entity = u.entity("street")
        if street_entity:
            return self._fill_place_from_text(form, street_entity.value)
        return None

    def _fill_place_from_text(self, form: ReportForm, text: str) -> str | None:
        street = self.city.find_street(text)
        if street is None:
            return replies.LOCATION_UNKNOWN.format(text=text[:60], city=self.city.name)
        number = re.match(r"\s*(\d{1,5}[a-zA-Z]?)\s", text)
        address = f"{number.group(1)} {street.name}" if number else street.name
        lat = float(np.mean([p["lat"] for p in street.points]))
        lon = float(np.mean([p["lon"] for p in street.points]))
        form.place = PlaceSlot(
            address=address, street=street.name, district=street.district, lat=lat, lon=lon
        )
        return None

    def _fill_place_from_pin(self, form: ReportForm, location: Location) -> str | None:
        found = self.city.nearest(location.lat, location.lon)
        if found is None:
            return replies.LOCATION_OUTSIDE.format(city=self.city.name)
        street, district, _metres = found
        form.place = PlaceSlot(
            address=f"near {street.name}",
            street=street.name,
            district=district.name,
            lat=location.lat,
            lon=location.lon,
        )
        return None

    def _fill_field(self, form: ReportForm, name: str, text: str) -> str | None:
        service = self.catalogue.get(form.service_code)
        spec = next((f for f in service.fields if f.name == name), None) if service else None
        if spec is None:
            return None
        value = text.strip()
        if spec.kind == "choice":
            match = next((c for c in spec.choices if c.lower() in value.lower()), None)
            if match is None:
                return replies.FIELD_INVALID.format(choices=", ".join(spec.choices))
            value = match
        elif spec.kind == "number" and not value.replace(".", "", 1).isdigit():
            return "Please give a number."
        form.fields[name] = value[:200]
        return None

    # -- asking --------------------------------------------------------------------------
    def next_message(self, form: ReportForm, vector: np.ndarray | None) -> OutboundMessage:
        """The question for the first missing slot, or the read-back for confirmation."""
        form.confirming = False
        service = self.catalogue.get(form.service_code)
        if service is None:
            form.asking = "service"
            return OutboundMessage(text=replies.ASK_SERVICE, choices=self.service_choices(vector))
        if form.place is None:
            form.asking = "place"
            return OutboundMessage(text=replies.ASK_LOCATION.format(service=service.name.lower()))
        for spec in service.fields:
            if spec.required and spec.name not in form.fields:
                form.asking = f"field:{spec.name}"
                return OutboundMessage(
                    text=spec.prompt,
                    choices=[
                        Choice(title=c.capitalize(), payload=payload("field", f"{spec.name}={c}"))
                        for c in spec.choices
                    ],
                )
        if not form.description:
            form.asking = "description"
            return OutboundMessage(text=replies.ASK_DESCRIPTION)
        if form.contact is None:
            form.asking = "contact"
            return OutboundMessage(text=replies.ASK_CONTACT, choices=self.contact_choices(form))
        if form.contact == "phone" and not form.phone:
            form.asking = "phone"
            # "just text me" changes the answer instead of failing it; not on a call, where
            # choices would make the keypad take one digit and the number is keyed in
            others = [c for c in self.contact_choices(form) if c.payload != "/contact:phone"]
            return OutboundMessage(
                text=replies.ASK_PHONE, choices=[] if form.channel == "voice" else others
            )
        form.asking = None
        form.confirming = True
        spoken = None
        if form.channel == "voice" and form.place:
            where = form.place.address or ""
            spoken = replies.CONFIRM_SPOKEN.format(service=service.name, place=where)
        return OutboundMessage(
            text=replies.CONFIRM.format(summary=self.summary(form, service)),
            speech=spoken,
            choices=[
                Choice(title="Yes", payload=payload("affirm")),
                Choice(title="No", payload=payload("deny")),
            ],
        )

    @staticmethod
    def contact_choices(form: ReportForm) -> list[Choice]:
        return [
            Choice(title=t, payload=payload("contact", k))
            for k, t in replies.contact_choices(form.channel).items()
        ]

    def what_to_change(self) -> OutboundMessage:
        return OutboundMessage(
            text=replies.WHAT_TO_CHANGE,
            choices=[Choice(title=t, payload=payload("change", k)) for k, t in CHANGEABLE.items()],
        )

    @staticmethod
    def clear(form: ReportForm, slot: str) -> None:
        if slot == "service":
            form.service_code = None
            form.fields = {}
        elif slot == "place":
            form.place = None
        elif slot == "description":
            form.description = None
        elif slot == "contact":
            form.contact = None
            form.phone = None

    def recognise_service(self, vector: np.ndarray) -> str | None:
        """The request type a description clearly names without using a known synonym."""
        similarity = self._service_vectors @ vector
        best, second = np.sort(similarity)[::-1][:2]
        if best >= SERVICE_MATCH and best - second >= SERVICE_MARGIN:
            return self.catalogue.services[int(similarity.argmax())].code
        return None

    def service_choices(self, vector: np.ndarray | None) -> list[Choice]:
        """The request types closest to what the resident said, best first."""
        services = self.catalogue.services
        if vector is not None:
            order = np.argsort(-(self._service_vectors @ vector))
            services = [services[i] for i in order]
        return [
            Choice(title=s.name, payload=payload("service", s.code))
            for s in services[:SERVICE_CHOICES]
        ]

    @staticmethod
    def summary(form: ReportForm, service: ServiceType) -> str:
        place = form.place
        where = (
            f"{place.address}, {place.district}"
            if place and place.district
            else (place.address if place else "")
        )
        parts = [f"{service.name} at {where}."]
        parts += [
            f"{name.replace('_', ' ').capitalize()}: {value}."
            for name, value in form.fields.items()
        ]
        if form.description:
            parts.append(f"Details: {form.description}.")
        contact = replies.contact_words(form.channel)[form.contact or "channel"]
        parts.append(f"Updates: {contact}" + (f" on {form.phone}." if form.phone else "."))
        return " ".join(parts)
