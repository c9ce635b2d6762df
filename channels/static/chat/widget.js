// Embeddable web chat: <script src="https://HELPLINE/chat/widget.js" async></script>
// Adds a "Chat with the city helpline" button; the chat opens in a panel (an iframe of /chat).
//
// The button and panel live in a shadow root, so the host page's styles cannot reach them
// and theirs cannot reach the page; sizes are in em of the reader's own font size (not the
// host's rem) and in viewport units, so the panel fits any page from 320 px to desktop and
// at 200 % zoom. On a narrow or short viewport the open panel takes the whole screen.
(() => {
  "use strict";
  if (document.getElementById("hotline-chat")) return;
  const script = document.currentScript;
  const origin = new URL(script ? script.src : "/chat/widget.js", window.location.href).origin;

  const CSS = `
    :host { all: initial; font-size: medium; }
    * { box-sizing: border-box; }
    .dock {
      position: fixed; z-index: 2147483000;
      right: max(12px, env(safe-area-inset-right)); bottom: max(12px, env(safe-area-inset-bottom));
      display: flex; flex-direction: column; align-items: flex-end; gap: 12px;
      max-width: calc(100vw - 24px); max-height: calc(100vh - 24px); max-height: calc(100dvh - 24px);
      font: 1em/1.3 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
    }
    button {
      font: 600 1.125em/1.3 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
      min-height: 48px; min-width: 48px; max-width: 100%; padding: .6em 1em; margin: 0;
      border-radius: 8px; cursor: pointer; white-space: normal; text-align: center;
    }
    button:focus-visible { outline: 3px solid #b3400b; outline-offset: 2px; }
    .launcher {
      flex: 0 0 auto; background: #0b4f8a; color: #ffffff; border: 2px solid #ffffff;
      box-shadow: 0 2px 8px rgba(0, 0, 0, .35);
    }
    .panel {
      flex: 0 1 auto; min-height: 0; display: flex; flex-direction: column;
      width: min(27em, calc(100vw - 24px)); height: 44em; max-height: 100%;
      background: #ffffff; color: #1a1a1a; border: 2px solid #1a1a1a; border-radius: 8px;
      box-shadow: 0 4px 16px rgba(0, 0, 0, .35); overflow: hidden;
    }
    .panel[hidden] { display: none; }
    .bar {
      flex: 0 0 auto; display: flex; flex-wrap: wrap; align-items: center; gap: 6px;
      justify-content: space-between; padding: 6px 6px 6px 12px; border-bottom: 2px solid #1a1a1a;
    }
    .title { font-weight: 700; font-size: 1.05em; margin: 0; }
    .close { background: #ffffff; color: #1a1a1a; border: 2px solid #1a1a1a; font-size: 1em; }
    iframe { flex: 1 1 auto; min-height: 0; width: 100%; border: 0; display: block; }
    @media (max-width: 32em), (max-height: 32em) {
      .dock.open { inset: 0; max-width: none; max-height: none; gap: 0; }
      .dock.open .launcher { display: none; }
      .dock.open .panel { width: 100%; height: 100%; border: 0; border-radius: 0; box-shadow: none; }
    }
    @media (forced-colors: active) {
      .launcher, .panel, .close { border-color: CanvasText; }
    }
  `;

  const host = document.createElement("div");
  host.id = "hotline-chat";
  host.style.setProperty("all", "initial", "important");  // no host rule can move or hide it
  const shadow = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in shadow && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement("style");
    style.textContent = CSS;
    shadow.append(style);
  }

  const dock = document.createElement("aside");
  dock.className = "dock";
  dock.setAttribute("aria-label", "City helpline");

  const button = document.createElement("button");
  button.type = "button";
  button.className = "launcher";
  button.id = "hotline-chat-button";
  button.textContent = "Chat with the city helpline";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "hotline-chat-panel");

  const panel = document.createElement("section");
  panel.className = "panel";
  panel.id = "hotline-chat-panel";
  panel.hidden = true;
  panel.setAttribute("aria-label", "City helpline chat");
  const bar = document.createElement("div");
  bar.className = "bar";
  const title = document.createElement("p");
  title.className = "title";
  title.textContent = "City helpline chat";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.textContent = "Close chat";
  bar.append(title, close);
  const frame = document.createElement("iframe");
  frame.title = "City helpline chat";
  frame.setAttribute("allow", "microphone");
  panel.append(bar, frame);
  dock.append(panel, button);
  shadow.append(dock);

  function open() {
    if (!frame.src) frame.src = origin + "/chat?embed=1";
    panel.hidden = false;
    dock.classList.add("open");
    button.setAttribute("aria-expanded", "true");
    frame.focus();
  }
  function shut() {
    panel.hidden = true;
    dock.classList.remove("open");
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }
  button.addEventListener("click", () => (panel.hidden ? open() : shut()));
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", (event) => { if (event.key === "Escape") shut(); });
  window.addEventListener("message", (event) => {
    if (event.origin === origin && event.data && event.data.type === "hotline:close") shut();
  });

  const mount = () => document.body.append(host);
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
