// Embeddable web chat: <script src="https://HELPLINE/chat/widget.js" async></script>
// Adds a "Chat with the city helpline" button; the chat opens in a panel (an iframe of /chat).
(() => {
  "use strict";
  if (document.getElementById("hotline-chat-button")) return;
  const script = document.currentScript;
  const origin = new URL(script ? script.src : "/chat/widget.js", window.location.href).origin;

  const button = document.createElement("button");
  button.type = "button";
  button.id = "hotline-chat-button";
  button.textContent = "Chat with the city helpline";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "hotline-chat-panel");
  Object.assign(button.style, {
    position: "fixed", right: "1rem", bottom: "1rem", zIndex: "2147483000",
    font: "600 18px/1.3 system-ui, sans-serif", padding: "12px 18px", minHeight: "48px",
    background: "#0b4f8a", color: "#ffffff", border: "2px solid #ffffff", borderRadius: "8px",
    boxShadow: "0 2px 8px rgba(0,0,0,.35)", cursor: "pointer",
  });

  const panel = document.createElement("section");
  panel.id = "hotline-chat-panel";
  panel.hidden = true;
  panel.setAttribute("aria-label", "City helpline chat");
  Object.assign(panel.style, {
    position: "fixed", right: "1rem", bottom: "5rem", zIndex: "2147483000",
    width: "min(28rem, calc(100vw - 2rem))", height: "min(40rem, calc(100vh - 7rem))",
    background: "#ffffff", border: "2px solid #1a1a1a", borderRadius: "8px",
    boxShadow: "0 4px 16px rgba(0,0,0,.35)", display: "flex", flexDirection: "column",
  });
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "Close chat";
  Object.assign(close.style, {
    alignSelf: "flex-end", margin: "6px", minHeight: "44px", padding: "8px 14px",
    font: "600 16px/1.2 system-ui, sans-serif", background: "#ffffff", color: "#1a1a1a",
    border: "2px solid #1a1a1a", borderRadius: "6px", cursor: "pointer",
  });
  const frame = document.createElement("iframe");
  frame.title = "City helpline chat";
  frame.setAttribute("allow", "microphone");
  Object.assign(frame.style, { flex: "1", border: "0", width: "100%", borderRadius: "0 0 8px 8px" });
  panel.append(close, frame);

  function open() {
    if (!frame.src) frame.src = origin + "/chat?embed=1";
    panel.hidden = false;
    panel.style.display = "flex";
    button.setAttribute("aria-expanded", "true");
    frame.focus();
  }
  function shut() {
    panel.hidden = true;
    panel.style.display = "none";
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }
  panel.style.display = "none";
  button.addEventListener("click", () => (panel.hidden ? open() : shut()));
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", (event) => { if (event.key === "Escape") shut(); });
  window.addEventListener("message", (event) => {
    if (event.origin === origin && event.data && event.data.type === "hotline:close") shut();
  });

  const mount = () => document.body.append(panel, button);
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
