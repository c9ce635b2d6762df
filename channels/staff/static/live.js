// The open handoff page: new transcript lines arrive as server-sent events, without reload.
// Everything goes in as text nodes, never as markup.
(() => {
  "use strict";
  const list = document.getElementById("transcript");
  if (!list || !list.dataset.live || !window.EventSource) return;
  const status = document.getElementById("live-status");
  const badge = document.getElementById("handoff-status");
  const after = encodeURIComponent(list.dataset.after || "0");
  const source = new EventSource(list.dataset.live + "?after=" + after);

  function line(turn) {
    if (list.querySelector('[data-id="' + turn.id + '"]')) return;
    const empty = list.querySelector(".empty");
    if (empty) empty.remove();
    const item = document.createElement("li");
    item.className = "turn-" + turn.direction;
    item.dataset.id = String(turn.id);
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = turn.who;
    const meta = document.createElement("span");
    meta.className = "muted";
    meta.textContent = turn.when + (turn.detail ? " · " + turn.detail : "");
    const body = document.createElement("div");
    body.className = "pre";
    body.textContent = turn.text;
    item.append(who, " ", meta, " ", body);
    list.append(item);
    if (turn.direction === "in" && status) status.textContent = "New message from the resident.";
  }

  source.addEventListener("turn", (event) => line(JSON.parse(event.data)));
  source.addEventListener("status", (event) => {
    const change = JSON.parse(event.data);
    if (badge) badge.textContent = change.label;
    if (status) status.textContent = "This conversation is now " + change.label + ". Reload to act on it.";
  });
  window.addEventListener("pagehide", () => source.close());
})();
