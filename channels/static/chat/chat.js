// The web chat page: talks to POST /api/v1/messages; answers are shown with textContent only.
(() => {
  "use strict";

  const MESSAGES = "/api/v1/messages";
  const NOTICES = "/api/v1/notices";
  const TRANSCRIPT = "/api/v1/transcript";
  const NOTICE_STREAM = "/api/v1/notices/stream";
  const NOTICE_EVERY_MS = 60000;  // the fallback when the live stream is down

  const store = {
    get(key) {
      try { return window.localStorage.getItem(key); } catch (_) { return null; }
    },
    set(key, value) {
      try { window.localStorage.setItem(key, value); } catch (_) { /* private mode: forget */ }
    },
  };

  function randomId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // Who this browser is to the helpline is the server's session cookie (HttpOnly): this
  // script never sees it and never names a sender. An id kept by an older version goes.
  try { window.localStorage.removeItem("hotline.sender"); } catch (_) { /* private mode */ }

  const root = document.documentElement;
  const transcript = document.getElementById("transcript");
  const messages = document.getElementById("messages");
  const statusLine = document.getElementById("status");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const speakButton = document.getElementById("speak");
  let pending = Promise.resolve();  // messages go one at a time, in the order typed

  // -- display settings, remembered in this browser ------------------------------------
  const toggles = [
    { button: document.getElementById("large-text"), cls: "large-text", key: "hotline.largeText" },
    { button: document.getElementById("high-contrast"), cls: "high-contrast", key: "hotline.highContrast" },
  ];
  for (const toggle of toggles) {
    const apply = (on) => {
      root.classList.toggle(toggle.cls, on);
      toggle.button.setAttribute("aria-pressed", on ? "true" : "false");
    };
    apply(store.get(toggle.key) === "1");
    toggle.button.addEventListener("click", () => {
      const on = toggle.button.getAttribute("aria-pressed") !== "true";
      apply(on);
      store.set(toggle.key, on ? "1" : "0");
    });
  }

  // -- the transcript -----------------------------------------------------------------
  // Everything a resident or the helpline wrote goes in as text nodes: never as markup.
  function fill(element, text, parts) {
    const runs = Array.isArray(parts) && parts.length ? parts : [{ text }];
    for (const part of runs) {
      if (part.tel && /^tel:\+?[0-9]+(;ext=[0-9]+)?$/.test(part.tel)) {
        const link = document.createElement("a");
        link.href = part.tel;
        link.className = "tel";
        link.textContent = part.text;
        element.append(link);
      } else {
        element.append(document.createTextNode(part.text || ""));
      }
    }
  }

  function whoSaid(who, options) {
    if (who === "you") return "You";
    if (options.author) return options.author + ", city helpline";
    return options.notice ? "Automatic update from the helpline" : "Helpline";
  }

  function say(who, text, options = {}) {
    const item = document.createElement("li");
    const kind = who === "you" ? "you" : "bot";
    item.className = "message " + kind + (options.author ? " staff" : options.notice ? " notice" : "");
    const label = document.createElement("p");
    label.className = "who";
    label.textContent = whoSaid(who, options);
    const body = document.createElement("p");
    body.className = "text";
    fill(body, text, options.parts);
    item.append(label, body);
    if (options.source && /^https?:\/\//i.test(options.source.url || "")) {
      const line = document.createElement("p");
      line.className = "source";
      const link = document.createElement("a");
      link.href = options.source.url;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      link.textContent = "Read more: " + (options.source.title || options.source.url) + " (opens in a new tab)";
      line.append(link);
      item.append(line);
    }
    if (options.choices && options.choices.length) {
      const group = document.createElement("fieldset");
      group.className = "choices";
      const legend = document.createElement("legend");
      legend.textContent = options.choices.length === 1
        ? "Press the button, or type your own answer:"
        : "Choose an answer, or type your own:";
      group.append(legend);
      for (const choice of options.choices) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = choice.title;
        button.addEventListener("click", () => send(choice.payload, choice.title));
        group.append(button);
      }
      item.append(group);
    }
    messages.append(item);
    return item;
  }

  // Show a new message from its first line, with the box to answer in below it when it fits.
  function reveal(item) {
    form.scrollIntoView({ block: "end" });
    if (item.getBoundingClientRect().top < 0) item.scrollIntoView({ block: "start" });
  }

  // An answered question keeps what was answered, in place of the buttons. Buttons that
  // only offered more (an answer's "More details") go quietly when the resident moves on.
  function settleChoices(chosen) {
    for (const group of messages.querySelectorAll(".choices")) {
      const asked = /[?:]\s*$/.test(group.parentElement.querySelector(".text").textContent);
      if (!chosen && !asked) { group.remove(); continue; }
      const line = document.createElement("p");
      line.className = "answered";
      line.textContent = chosen ? "You chose: " + chosen : "You typed your own answer.";
      group.replaceWith(line);
    }
  }

  function setBusy(on, text) {
    transcript.setAttribute("aria-busy", on ? "true" : "false");
    statusLine.textContent = text || "";
  }

  // -- sending ---------------------------------------------------------------------------
  // A message typed while the last is on its way waits its turn: nothing typed is lost.
  function send(text, shown) {
    text = (text || "").trim();
    if (!text) return pending;
    reveal(say("you", shown || text));
    pending = pending.then(() => deliver(text, shown));
    return pending;
  }

  function giveBack(text, shown) {
    if (!shown && !input.value) input.value = text;
    input.focus();
  }

  async function deliver(text, shown) {
    setBusy(true, "Sending your message…");
    let response;
    try {
      response = await fetch(MESSAGES, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ text, message_id: "web-" + randomId() }),
      });
    } catch (_) {
      setBusy(false, "Sorry, the message could not be sent. Please check your connection and try again.");
      giveBack(text, shown);
      return;
    }
    if (!response.ok) {
      const wait = response.headers.get("Retry-After");
      const problem = {
        413: "Sorry, that message is too long. Please make it shorter.",
        429: "You are sending messages very quickly. Please wait " + (wait || "a few") + " seconds, then try again.",
        503: "The helpline is starting up. Please try again in a moment.",
      }[response.status] || "Sorry, something went wrong. Please try again.";
      setBusy(false, problem);
      giveBack(text, shown);
      return;
    }
    const reply = await response.json();
    listenForNotices();  // a first message makes the session the stream speaks for
    setBusy(false, "");
    settleChoices(shown);
    let first = null;
    for (const message of reply.messages || []) {
      const item = say("bot", message.text, {
        parts: message.parts, source: message.source, choices: message.choices,
      });
      first = first || item;
    }
    input.focus({ preventScroll: true });
    if (first) reveal(first);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) {
      statusLine.textContent = "Please type a message first.";
      input.focus();
      return;
    }
    input.value = "";
    send(text);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // Inside the widget, Escape closes the panel on the host page.
  if (document.body.classList.contains("embedded") && window.parent !== window) {
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") window.parent.postMessage({ type: "hotline:close" }, "*");
    });
  }

  // -- speaking, where the browser can listen ----------------------------------------
  // Shown only where it can work: a recognition API, a secure page, a microphone this page
  // (or the frame it is in) may use, and a service for the language. Any failure says what
  // to do instead; one that will not go away (no service) hides the button.
  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  const policy = document.permissionsPolicy || document.featurePolicy;
  const SPEECH_PROBLEMS = {
    "not-allowed": "The microphone is blocked for this page. To speak, allow the microphone in your browser's settings for this site, then press Speak again. Or type your message.",
    "audio-capture": "No microphone was found. Please check that one is connected, or type your message.",
    "no-speech": "I did not hear anything. Press Speak and try again, or type your message.",
    "network": "Speaking is not available in this browser right now. Please type your message.",
    "service-not-allowed": "Speaking is not available in this browser. Please type your message.",
    "language-not-supported": "Speaking is not available in this language here. Please type your message.",
  };
  const GONE_FOR_GOOD = new Set(["network", "service-not-allowed", "language-not-supported"]);

  async function speechWorks() {
    if (!Recognition || !window.isSecureContext) return false;
    if (policy && policy.allowsFeature && !policy.allowsFeature("microphone")) return false;
    if (typeof Recognition.available === "function") {
      try {
        const state = await Recognition.available({ langs: [root.lang || "en"], processLocally: false });
        if (state === "unavailable") return false;
      } catch (_) { /* an older API shape: try when pressed */ }
    }
    return true;
  }

  async function microphoneDenied() {
    try {
      return (await navigator.permissions.query({ name: "microphone" })).state === "denied";
    } catch (_) {
      return false;  // cannot tell: the recognition's own error will say
    }
  }

  let listening = null;
  async function listen() {
    if (listening) { listening.stop(); return; }
    if (await microphoneDenied()) {
      statusLine.textContent = SPEECH_PROBLEMS["not-allowed"];
      return;
    }
    const recognition = new Recognition();
    recognition.lang = root.lang || "en";
    recognition.interimResults = false;
    recognition.maxAlternatives = 1;
    let problem = null;
    recognition.addEventListener("result", (event) => {
      const heard = event.results[0][0].transcript;
      input.value = heard;
      statusLine.textContent = "I heard: " + heard + ". Check it, then press Send.";
    });
    recognition.addEventListener("error", (event) => {
      problem = event.error;
      statusLine.textContent = SPEECH_PROBLEMS[event.error]
        || "Sorry, I could not hear you. Please type your message instead.";
    });
    recognition.addEventListener("end", () => {
      listening = null;
      speakButton.setAttribute("aria-pressed", "false");
      speakButton.textContent = "Speak";
      if (GONE_FOR_GOOD.has(problem)) speakButton.hidden = true;
      input.focus();
    });
    listening = recognition;
    speakButton.setAttribute("aria-pressed", "true");
    speakButton.textContent = "Stop listening";
    statusLine.textContent = "Listening. Speak now.";
    try {
      recognition.start();
    } catch (_) {
      listening = null;
      speakButton.setAttribute("aria-pressed", "false");
      speakButton.textContent = "Speak";
      statusLine.textContent = "Sorry, I could not start listening. Please type your message.";
    }
  }

  speechWorks().then((works) => {
    speakButton.hidden = !works;
    if (works) speakButton.addEventListener("click", listen);
  });

  // -- notices: updates on reports made here ------------------------------------------
  async function fetchNotices() {
    try {
      const response = await fetch(NOTICES, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: "{}",
      });
      if (!response.ok) return;
      for (const notice of await response.json()) {
        const options = { notice: true, author: notice.author, parts: notice.parts };
        const restored = restoredStaff.get(notice.text);
        if (restored) {
          // Already shown from the transcript: the notice only says who sent it.
          restoredStaff.delete(notice.text);
          restored.className = "message bot" + (notice.author ? " staff" : " notice");
          restored.querySelector(".who").textContent = whoSaid("bot", options);
          continue;
        }
        // Scroll to it only for a resident at the end of the page, not one reading back.
        const atEnd = window.innerHeight + window.scrollY >= root.scrollHeight - 80;
        const item = say("bot", notice.text, options);
        if (atEnd) reveal(item);
      }
    } catch (_) { /* offline: try again later */ }
  }

  // -- a reloaded page shows the conversation so far ----------------------------------
  // Staff turns restored from the transcript, by text: their notice may still be on its way.
  const restoredStaff = new Map();
  async function restoreTranscript() {
    try {
      const response = await fetch(TRANSCRIPT, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: "{}",
      });
      if (!response.ok) return;
      for (const turn of await response.json()) {
        // A staff line is signed as its notice was; one whose notice has not come yet says
        // "Staff" until the notice arrives and signs it.
        const staff = turn.who !== "staff" ? {}
          : turn.automatic ? { notice: true } : { author: turn.author || "Staff" };
        const item = say(turn.who === "you" ? "you" : "bot", turn.text, { parts: turn.parts, ...staff });
        if (turn.who === "staff") restoredStaff.set(turn.text, item);
      }
    } catch (_) { /* offline: start afresh */ }
  }
  // The live stream only says "a notice is waiting": the notices themselves are fetched as
  // above, each handed out once, so a staff reply shows as it is sent.
  let stream = null;
  function listenForNotices() {
    if (!window.EventSource || stream) return;
    stream = new EventSource(NOTICE_STREAM);
    stream.addEventListener("notice", fetchNotices);
    stream.addEventListener("error", () => {
      // No session yet (401) or too many tabs (429): the browser gives up; so do we, until
      // the next message, and the poll carries on.
      if (stream && stream.readyState === EventSource.CLOSED) stream = null;
    });
  }
  window.addEventListener("pagehide", () => { if (stream) { stream.close(); stream = null; } });

  restoreTranscript().then(fetchNotices).then(listenForNotices);
  // Send starts disabled in the page: before this script runs it would submit the form natively.
  document.getElementById("send").disabled = false;
  window.setInterval(() => { if (!document.hidden) fetchNotices(); }, NOTICE_EVERY_MS);
})();
