"""Everything the assistant says, in one place, in plain language."""

from __future__ import annotations

CITY = "Port Alder"

GREETING = (
    f"Hello, this is the {CITY} city helpline. You can ask me a question about city services, "
    "report a problem like a pothole or a broken street light, or check a report you made."
)
HELP = (
    "I can answer questions about city services, take a report of a problem in the street, "
    "and tell you what happened to a report if you give me its number. "
    "Say 'person' at any time to talk to a member of staff, or 'cancel the report' to drop "
    "a report you are making."
)
GOODBYE = "Thank you for contacting the city. Goodbye."
THANKS = "You're welcome. Is there anything else I can help with?"
NOTHING_TO_CANCEL = "There is nothing to cancel. How can I help you?"
CANCELLED = "All right, I have cancelled that report. Nothing was sent. How else can I help?"
NOTHING_TO_REPEAT = "I haven't said anything yet. How can I help you?"
SLOWER = "I will speak more slowly."
OUT_OF_SCOPE = (
    "Sorry, I can only help with city services. You can ask about things like bins, "
    "parking or benefits, or report a problem in the street."
)
DONT_KNOW = (
    "Sorry, I don't know the answer to that yet. I have passed your question to our staff "
    "so we can add it. Would you like to talk to a person?"
)
DID_YOU_MEAN = "I'm not sure which of these you mean. Please choose one:"
DID_YOU_MEAN_ONE = "I'm not sure I understood. Did you mean this?"
NOT_UNDERSTOOD = "Sorry, I didn't understand. You can choose one of these:"
ARTICLE_GONE = "Sorry, that answer is no longer available. Please ask your question again."
AUDIO_ONLY = "Sorry, I could not listen to that message here. Please type your message."
LANGUAGES = "I can help you in {languages}. Which language would you like?"
LANGUAGE_SET = "All right, I will use {language}."
SESSION_RESUMED = "Welcome back."

HANDOFF = (
    "I'm passing you to a member of staff. They will reply here as soon as they can, "
    "during office hours ({hours})."
)
HANDOFF_CLOSED = (
    "I've passed your request to a member of staff, but our staff are not in right now: "
    "someone will answer {when} (office hours {hours}). Would you like us to call you back, "
    "or to leave a message for them?"
)
HANDOFF_CLOSED_VOICE = (
    "I've passed your call to a member of staff, but our staff are not in right now: "
    "someone will answer {when} (office hours {hours})."
)
HANDOFF_WAITING = (
    "A member of staff has your message and will reply here. Meanwhile you can ask me "
    "anything, or say 'never mind' to stop waiting."
)
STILL_WAITING = "You are still waiting for a member of staff; say 'never mind' to stop waiting."
ALREADY_WAITING = "You are already waiting for a member of staff. They will reply here."
LEFT_QUEUE = "All right, you no longer wait for a member of staff. How can I help?"
ASK_CALLBACK_PHONE = "What phone number should they call you on?"
CALLBACK_NOTED = "Thank you. A member of staff will call you on {phone} {when}."
CALLBACK_NOTED_HERE = "Thank you. A member of staff will call you back on this number {when}."
ASK_STAFF_MESSAGE = "Please write your message now. Staff will read it {when}."
STAFF_MESSAGE_NOTED = "Thank you, your message is with our staff. They will reply here {when}."
APOLOGY = (
    "I'm sorry this has been frustrating. I'll do my best to help, or I can pass you to a person."
)
OFFER_PERSON = "Would you like to talk to a person instead?"
# Said by a channel when the database is down and no turn can run.
UNAVAILABLE = "Sorry, we're having trouble on our side right now. Please try again in a minute."
UNAVAILABLE_SPOKEN = (
    "Sorry, we are having technical trouble right now. Please call again in a few minutes. Goodbye."
)

# Triage (bot/triage.py): the first message of the reply to a resident in danger. On the
# phone the numbers are read digit by digit, and the caller is told to hang up and call.
EMERGENCY = "If someone is in danger right now, call {emergency}."
EMERGENCY_SPOKEN = "If someone is in danger right now, please hang up and call {emergency} now."
CRISIS = (
    "If you or someone you know is thinking of ending their life, please call or text "
    "{crisis} now. You can talk to someone any time, day or night. "
    "If someone is in danger right now, call {emergency}."
)
CRISIS_SPOKEN = (
    "If you or someone you know is thinking of ending their life, please call or text "
    "{crisis} now. You can talk to someone any time, day or night. "
    "If someone is in danger right now, hang up and call {emergency}."
)
EMERGENCY_FOLLOW_UP = (
    "This line cannot send an ambulance, the fire service or the police, but {emergency} "
    "can, at any time. I have told our staff about this conversation. When you are safe, "
    "I can help with city services."
)
CRISIS_FOLLOW_UP = (
    "You don't have to go through this alone. I have told our staff about this "
    "conversation, and you can talk to a member of staff here too."
)
# The first line again in the language a cue found it in (bot/triage.py FOREIGN_CUES), until
# every reply has a catalogue per language (issue 14).
EMERGENCY_IN = {
    "es": "Si alguien está en peligro ahora mismo, llame al {emergency}.",
    "zh": "如果现在有人有危险，请立即拨打 {emergency}。",
}
CRISIS_IN = {
    "es": (
        "Si usted o alguien que conoce piensa en quitarse la vida, llame o envíe un mensaje "
        "al {crisis} ahora. Si alguien está en peligro ahora mismo, llame al {emergency}."
    ),
    "zh": (
        "如果您或您认识的人想结束生命，请现在拨打或发短信到 {crisis}。"
        "如果现在有人有危险，请拨打 {emergency}。"
    ),
}
ALERT_FORM_KEPT = "I have kept your report. When you are safe, we can go on with it: {prompt}"

ASK_SERVICE = "What kind of problem would you like to report? You can choose one of these:"
ASK_LOCATION = "Where is the {service}? Please give the street and house number, or a place."
LOCATION_UNKNOWN = (
    "I couldn't find '{text}' in {city}. Please give a street name, like 'Elm Street', "
    "or a place, like 'Central Library'."
)
LOCATION_OUTSIDE = "That location is outside {city}. Please give a street in the city."
ASK_DESCRIPTION = "Please describe the problem in a few words."
DESCRIPTION_TOO_SHORT = "Please tell me a little more about the problem."
ASK_CONTACT = "How should we tell you about progress?"
ASK_PHONE = "What phone number should we call?"
PHONE_INVALID = "That doesn't look like a phone number. Please give it with the area code."
FIELD_INVALID = "Please choose one of: {choices}."
CONFIRM = "Let me check. {summary} Shall I send this report?"
# On the phone the caller has just said each part (and heard the street confirmed): the
# read-back names only what and where, to stay under 10 s with its keys.
CONFIRM_SPOKEN = "Shall I send your report: {service}, at {place}?"
WHAT_TO_CHANGE = "What would you like to change?"
FILED = (
    "Thank you. Your report is filed. Your reference number is {reference}. "
    "Please keep it to check progress."
)
FILED_SPOKEN = (
    "Thank you. Your report is filed. Your reference number is {spoken}. I repeat: {spoken}."
)
RESUME = "Now, back to your report."
ADDED_DETAILS = "I've added that to the details of your report."
WHICH_PLACE = "Is it {first} or {second}?"
ASK_DROP = "Do you want to drop this report? Nothing has been sent yet."
KEPT = "All right, let's carry on."
SAY_AGAIN = "Sorry, I didn't get that."
YOU_CAN_SAY = "You can say {options}, or the number."
CHOICE_HINTS = {
    "place": "For example '14 Castle Street', 'Elm Street by the school' or 'Central Library'.",
    "description": "For example 'a hole about a foot wide in the middle of the lane'.",
    "phone": "For example '206 555 0142'.",
}
CONFIRM_HINT = "Please say yes to send it, or no to change something."
NONE_FITS_SERVICE = (
    "Then please tell me in a few words what the problem is, for example "
    "'a broken bench in the park', or say 'person' to talk to a member of staff."
)

ASK_REFERENCE = "Please tell me your reference number. It looks like REQ-2026-000123."
REFERENCE_NOT_FOUND = "I couldn't find a report with the number {reference}. Please check it."
STATUS_PRIVATE = (
    "For your privacy, I can only give the status of a report made from this conversation. "
    "Please tell me the phone number you gave when you made the report."
)
STATUS_PHONE_MISMATCH = "Sorry, that phone number does not match that report."
STATUS = "Report {reference} ({service}) is {status}. It was last updated on {updated}."
WHICH_REQUEST = "Which report do you mean?"
REQUEST_TITLE = "{service}, {place}, {day}"
ASK_DISTRICT = "It depends on where you live. Which street or district are you in?"
FOR_DISTRICT = "For {where}: {answer}"

STATUS_WORDS = {
    "submitted": "received and waiting to be looked at",
    "acknowledged": "accepted by the team responsible",
    "in_progress": "being worked on",
    "closed": "finished",
    "rejected": "closed without action",
}
CONTACT_CHOICES = {"channel": "Message me here", "phone": "Call me", "none": "No updates"}
CONTACT_WORDS = {
    "channel": "we will message you here",
    "phone": "we will call you",
    "none": "you don't need updates",
}
# On a call, "here" is a voice line we cannot message: updates go by text to the caller's number.
PHONE_CONTACT_CHOICES = {**CONTACT_CHOICES, "channel": "Text me at this number"}
PHONE_CONTACT_WORDS = {**CONTACT_WORDS, "channel": "we will text you at this number"}


STAFF_LABEL = "{name}, city helpline"  # who wrote a staff reply, as the resident sees it


def staff_signed(name: str, text: str) -> str:
    """A staff reply as text channels send it: "Maria, city helpline: ..."."""
    return f"{STAFF_LABEL.format(name=name)}: {text}"


def did_you_mean(count: int) -> str:
    """One suggestion is offered as one: "which of these" only when there are several."""
    return DID_YOU_MEAN_ONE if count == 1 else DID_YOU_MEAN


def contact_choices(channel: str | None) -> dict[str, str]:
    return PHONE_CONTACT_CHOICES if channel == "voice" else CONTACT_CHOICES


def contact_words(channel: str | None) -> dict[str, str]:
    return PHONE_CONTACT_WORDS if channel == "voice" else CONTACT_WORDS


def spoken_reference(reference: str) -> str:
    """REQ-2026-000123 read digit by digit, so a caller can write it down."""
    digits = [ch for ch in reference if ch.isdigit()]
    return "R E Q, " + " ".join(digits[:4]) + ", " + " ".join(digits[4:])


def status_notice(reference: str, status: str, note: str | None) -> str:
    text = f"Update on your report {reference}: it is now {STATUS_WORDS.get(status, status)}."
    return f"{text} {note}" if note else text
