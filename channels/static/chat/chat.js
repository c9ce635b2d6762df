// The web chat page: talks to POST /api/v1/messages; answers are shown with textContent only.
(() => {
  "use strict";

  const MESSAGES = "/api/v1/messages";
  const NOTICES = "/api/v1/notices";
  const NOTICE_EVERY_MS = 60000;

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

  // Who this browser is to the helpline: a random id only this browser knows.
  let sender = store.get("hotline.sender");
  if (!sender || sender.length < 8) {
    sender = "web-" + randomId();
    store.set("hotline.sender", sender);
  }

  const root = document.documentElement;
  const transcript = document.getElementById("transcript");
  const messages = document.getElementById("messages");
  const statusLine = document.getElementById("status");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const sendButton = document.getElementById("send");
  const speakButton = document.getElementById("speak");
  let busy = false;

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
  function say(who, text, options = {}) {
    const item = document.createElement("li");
    item.className = "message " + (who === "you" ? "you" : "bot") + (options.notice ? " notice" : "");
    const label = document.createElement("p");
    label.className = "who";
    label.textContent = who === "you" ? "You" : options.notice ? "Update from the helpline" : "Helpline";
    const body = document.createElement("p");
    body.className = "text";
    body.textContent = text;
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
      legend.textContent = "Choose an answer, or type your own:";
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
    transcript.scrollTop = transcript.scrollHeight;
    return item;
  }

  function retireChoices() {
    for (const group of transcript.querySelectorAll(".choices")) group.remove();
  }

  function setBusy(on, text) {
    busy = on;
    sendButton.disabled = on;
    transcript.setAttribute("aria-busy", on ? "true" : "false");
    statusLine.textContent = text || "";
  }

  // -- sending ---------------------------------------------------------------------------
  async function send(text, shown) {
    text = (text || "").trim();
    if (!text || busy) return;
    retireChoices();
    say("you", shown || text);
    setBusy(true, "Sending your message…");
    let response;
    try {
      response = await fetch(MESSAGES, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ channel: "web", sender, text, message_id: "web-" + randomId() }),
      });
    } catch (_) {
      setBusy(false, "Sorry, the message could not be sent. Please check your connection and try again.");
      if (!shown) input.value = text;
      input.focus();
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
      if (!shown) input.value = text;
      input.focus();
      return;
    }
    const reply = await response.json();
    setBusy(false, "");
    for (const message of reply.messages || []) {
      say("bot", message.text, { source: message.source, choices: message.choices });
    }
    input.focus();
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
  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (Recognition) {
    speakButton.hidden = false;
    let listening = null;
    speakButton.addEventListener("click", () => {
      if (listening) { listening.stop(); return; }
      const recognition = new Recognition();
      recognition.lang = root.lang || "en";
      recognition.interimResults = false;
      recognition.maxAlternatives = 1;
      recognition.addEventListener("result", (event) => {
        const heard = event.results[0][0].transcript;
        input.value = heard;
        statusLine.textContent = "I heard: " + heard + ". Check it, then press Send.";
      });
      recognition.addEventListener("error", () => {
        statusLine.textContent = "Sorry, I could not hear you. Please type your message instead.";
      });
      recognition.addEventListener("end", () => {
        listening = null;
        speakButton.setAttribute("aria-pressed", "false");
        speakButton.textContent = "Speak";
        input.focus();
      });
      listening = recognition;
      speakButton.setAttribute("aria-pressed", "true");
      speakButton.textContent = "Stop listening";
      statusLine.textContent = "Listening. Speak now.";
      recognition.start();
    });
  }

  // -- notices: updates on reports made here ------------------------------------------
  async function fetchNotices() {
    try {
      const response = await fetch(NOTICES, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ channel: "web", sender }),
      });
      if (!response.ok) return;
      for (const notice of await response.json()) say("bot", notice.text, { notice: true });
    } catch (_) { /* offline: try again later */ }
  }
  fetchNotices();
  window.setInterval(() => { if (!document.hidden) fetchNotices(); }, NOTICE_EVERY_MS);
})();
