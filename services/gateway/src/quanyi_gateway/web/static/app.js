// quanyi's web: small progressive enhancements; every page works without them, except live updates.
// No inline script anywhere (the Content-Security-Policy forbids it): behaviour hangs on data-* attributes.
document.documentElement.classList.add("js");

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

async function post(url, body) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
}

// A <select data-autosubmit> submits its form when changed (the language switch).
document.addEventListener("change", (event) => {
  const el = event.target;
  if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit")) el.form?.requestSubmit();
});

// <section data-live="URL" data-live-ms="400">: replace its content with the fragment at URL until the
// fragment says data-live-done. Used by the order page to show delivery without a reload.
// With data-live-stream="URL" the server sends each new fragment as a server-sent event ("fragment", then
// "done"); when the stream cannot be opened (no EventSource, a proxy that refuses it, an error before its
// first event) the page polls the fragment instead.
function startLiveStream(el) {
  if (el.querySelector("[data-live-done]")) return;
  if (!el.dataset.liveStream || typeof EventSource !== "function") {
    startLive(el);
    return;
  }
  const source = new EventSource(el.dataset.liveStream);
  let heard = false;
  const fallBack = () => {
    source.close();
    if (!el.querySelector("[data-live-done]")) startLive(el);
  };
  // Nothing heard within 3 s: the stream is not getting through; poll instead.
  const watchdog = setTimeout(() => { if (!heard) fallBack(); }, 3000);
  source.addEventListener("fragment", (message) => {
    heard = true;
    clearTimeout(watchdog);
    if (message.data !== el.dataset.liveLast) {
      el.dataset.liveLast = message.data;
      el.innerHTML = message.data;
    }
    if (el.querySelector("[data-live-done]")) source.close();
  });
  source.addEventListener("done", () => source.close());
  // EventSource reconnects by itself after a stream ends; it gives up (CLOSED) on an answer that is not a
  // stream, such as a sign-in page or an error.
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      clearTimeout(watchdog);
      fallBack();
    }
  });
  el.dataset.liveVia = "stream";
}

function startLive(el) {
  el.dataset.liveVia = "poll";
  const url = el.dataset.live;
  const pace = () => Number(el.querySelector("[data-live-next-ms]")?.dataset.liveNextMs || el.dataset.liveMs || 500);
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (document.hidden) {
      setTimeout(tick, pace());
      return;
    }
    try {
      const reply = await fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (reply.ok) {
        const html = await reply.text();
        if (html !== el.dataset.liveLast) {
          el.dataset.liveLast = html;
          el.innerHTML = html;
        }
        if (el.querySelector("[data-live-done]")) stopped = true;
      }
    } catch (_) { /* the next tick tries again */ }
    if (!stopped) setTimeout(tick, pace());
  };
  if (!el.querySelector("[data-live-done]")) setTimeout(tick, pace());
}
document.querySelectorAll("[data-live]").forEach(startLiveStream);

// Catalogue stock: <ul data-stock="URL"> refreshes every [data-stock-for=SKU] from {sku_id: available}.
function startStock(el) {
  const url = el.dataset.stock;
  const every = Number(el.dataset.stockMs || 5000);
  const tick = async () => {
    if (document.hidden) {
      setTimeout(tick, every);
      return;
    }
    try {
      const reply = await fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (reply.ok) {
        const stock = await reply.json();
        el.querySelectorAll("[data-stock-for]").forEach((cell) => {
          const n = stock[cell.dataset.stockFor];
          if (n === undefined) return;
          const inStock = n > 0;
          cell.textContent = inStock ? cell.dataset.labelIn.replace("{n}", n) : cell.dataset.labelOut;
          cell.classList.toggle("in", inStock);
          cell.classList.toggle("out", !inStock);
          const buy = el.querySelector(`[data-buy-for="${cell.dataset.stockFor}"]`);
          if (buy) buy.disabled = !inStock;
        });
      }
    } catch (_) { /* next time */ }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}
document.querySelectorAll("[data-stock]").forEach(startStock);

// Reveal on click: <button data-reveal="URL" data-target="ID">; the answer {code, password} fills
// #ID-code and #ID-password, and the copy buttons beside them appear. Each reveal is audited by inventory.
document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-reveal]") : null;
  if (!button) return;
  event.preventDefault();
  button.disabled = true;
  const target = button.dataset.target;
  const status = document.getElementById(`${target}-status`);
  try {
    const reply = await post(button.dataset.reveal);
    if (!reply.ok) throw new Error(String(reply.status));
    const key = await reply.json();
    document.getElementById(`${target}-code`).textContent = key.code;
    const password = document.getElementById(`${target}-password`);
    if (password) password.textContent = key.password || "—";
    document.getElementById(`${target}-secret`).hidden = false;
    button.hidden = true;
    document.getElementById(`${target}-copy`)?.focus();
  } catch (_) {
    button.disabled = false;
    if (status) status.textContent = button.dataset.failed || "!";
  }
});

// Copy with one click: <button data-copy="ID"> copies the text of #ID.
document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
  if (!button) return;
  event.preventDefault();
  const text = (document.getElementById(button.dataset.copy)?.textContent ?? "").trim();
  const status = document.getElementById(`${button.dataset.copy}-status`) ?? button;
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    // Without the clipboard API (an insecure origin), select the text so Ctrl+C copies it.
    const range = document.createRange();
    range.selectNodeContents(document.getElementById(button.dataset.copy));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand?.("copy");
  }
  status.textContent = button.dataset.copied || "✓";
});
