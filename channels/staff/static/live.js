// Open console pages follow the database as server-sent events, without reload: a handoff's
// new transcript lines, and new residents waiting in the inbox. Everything goes in as text
// nodes, never as markup.
(() => {
  "use strict";
  if (!window.EventSource) return;
  const status = document.getElementById("live-status");

  function follow(element, handlers) {
    const after = encodeURIComponent(element.dataset.after || "0");
    const source = new EventSource(element.dataset.live + "?after=" + after);
    for (const [name, handle] of Object.entries(handlers)) {
      source.addEventListener(name, (event) => handle(JSON.parse(event.data)));
    }
    window.addEventListener("pagehide", () => source.close());
  }

  function text(tag, className, value) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    node.textContent = value;
    return node;
  }

  // -- a handoff's transcript ----------------------------------------------------------
  const transcript = document.getElementById("transcript");
  if (transcript && transcript.dataset.live) {
    const badge = document.getElementById("handoff-status");
    follow(transcript, {
      turn(turn) {
        if (transcript.querySelector('[data-id="' + turn.id + '"]')) return;
        const empty = transcript.querySelector(".empty");
        if (empty) empty.remove();
        const item = document.createElement("li");
        item.className = "turn-" + turn.direction;
        item.dataset.id = String(turn.id);
        item.append(
          text("span", "who", turn.who), " ",
          text("span", "muted", turn.when + (turn.detail ? " · " + turn.detail : "")), " ",
          text("div", "pre", turn.text),
        );
        transcript.append(item);
        if (turn.direction === "in" && status) status.textContent = "New message from the resident.";
      },
      status(change) {
        if (badge) badge.textContent = change.label;
        if (status) status.textContent = "This conversation is now " + change.label + ". Reload to act on it.";
      },
    });
  }

  // -- the request list -----------------------------------------------------------------
  const filed = document.getElementById("new-requests");
  if (filed && filed.dataset.live) {
    const list = filed.querySelector("ul");
    follow(filed, {
      filed(item) {
        if (list.querySelector('[data-id="' + item.reference + '"]')) return;
        const entry = document.createElement("li");
        entry.dataset.id = item.reference;
        const link = text("a", "", item.reference);
        link.href = "/staff/requests/" + encodeURIComponent(item.reference);
        const where = item.district ? ", " + item.district : "";
        entry.append(link, " " + item.service + where + " · " + item.when + " via " + item.channel);
        list.prepend(entry);
        filed.hidden = false;
        if (status) status.textContent = "New request " + item.reference + ": " + item.service + ".";
      },
    });
  }

  // -- the handoff inbox ---------------------------------------------------------------
  const inbox = document.getElementById("inbox");
  if (inbox && inbox.dataset.live) {
    const body = inbox.tBodies[0];
    follow(inbox, {
      handoff(item) {
        if (body.querySelector('[data-id="' + item.id + '"]')) return;
        const empty = body.querySelector(".empty");
        if (empty) empty.remove();
        const row = document.createElement("tr");
        row.dataset.id = String(item.id);
        const state = document.createElement("td");
        if (item.alert) state.append(text("span", "badge alert", item.alert), " ");
        state.append(text("span", "badge status-" + item.code, item.status));
        const open = document.createElement("td");
        const link = text("a", "", "Open conversation " + item.id);
        link.href = "/staff/handoffs/" + item.id;
        open.append(link);
        row.append(
          text("td", "", item.when + " (new)"), text("td", "", item.channel),
          text("td", "", item.last), state, open,
        );
        body.prepend(row);
        if (status) status.textContent = "A new resident is waiting: conversation " + item.id + ".";
      },
    });
  }
})();
