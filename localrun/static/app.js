// Text311 local demo page: a phone and a city mailbox over the simulation API (docs/local-run.md).
// Plain JavaScript, no build step. Everything the page shows comes from /sim/*, polled once a second.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { config: null, phone: null, inbox: null, thread: null, mails: [], received: [] };

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const when = (value) => {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
};

const time = (iso) => {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
};

// -- phone ------------------------------------------------------------------------------------------

function e164(text) {
  const digits = text.replace(/[^0-9]/g, "");
  if (text.trim().startsWith("+")) return "+" + digits;
  return digits.length === 10 ? "+1" + digits : "+" + digits;
}

function currentPhone() {
  const choice = $("phone-select").value;
  return choice === "other" ? e164($("phone-other").value) : choice;
}

async function refreshPhone() {
  const number = currentPhone();
  if (!/^\+[1-9][0-9]{7,14}$/.test(number)) return;
  const messages = await api(`/sim/phones/${encodeURIComponent(number)}/messages`);
  const box = $("phone-thread");
  const key = number + ":" + messages.length;
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.replaceChildren();
  if (messages.length === 0) {
    box.append(el("p", { class: "empty" }, "No texts yet. Say what is wrong, for example “There is a pothole on Main Street”."));
  }
  for (const m of messages) {
    const who = m.direction === "in" ? "You" : "Text311";
    box.append(el("div", { class: `bubble ${m.direction}`, "aria-label": `${who}, ${time(m.at)}` },
      m.body, el("time", { datetime: m.at }, `${who} · ${time(m.at)}`)));
  }
  box.scrollTop = box.scrollHeight;
}

async function sendText(event) {
  event.preventDefault();
  const body = $("phone-text").value.trim();
  const number = currentPhone();
  const status = $("phone-status");
  if (!body) return;
  $("phone-send-button").disabled = true;
  try {
    await api("/sim/sms", { from: number, body });
    $("phone-text").value = "";
    status.className = "status";
    status.textContent = "Sent.";
    setTimeout(refreshPhone, 300);
  } catch (error) {
    status.className = "status error";
    status.textContent = error.message;
  } finally {
    $("phone-send-button").disabled = false;
    $("phone-text").focus();
  }
}

// -- mailbox ----------------------------------------------------------------------------------------

const threadKey = (subject) => {
  const tag = /\[Text311 #([A-Z0-9]+)\]/.exec(subject || "");
  return tag ? tag[1] : (subject || "").replace(/^((re|tr|fw|fwd)\s*:\s*)+/i, "").trim();
};

function threads() {
  const groups = new Map();
  for (const mail of state.mails) {
    const key = threadKey(mail.subject);
    if (!groups.has(key)) groups.set(key, { key, subject: mail.subject.replace(/^re:\s*/i, ""), mails: [] });
    groups.get(key).mails.push(mail);
  }
  return [...groups.values()].reverse();  // the newest conversation first
}

function renderThreads() {
  const list = $("thread-list");
  const groups = threads();
  list.replaceChildren();
  if (groups.length === 0) list.append(el("li", { class: "empty" }, "No mail yet."));
  for (const group of groups) {
    const last = group.mails[group.mails.length - 1];
    const button = el("button", { type: "button", "aria-current": String(group.key === state.thread),
      onclick: () => { state.thread = group.key; renderThreads(); renderThread(); } },
      el("span", { class: "subject" }, group.subject),
      el("span", { class: "meta" }, `${group.mails.length} mail${group.mails.length > 1 ? "s" : ""} · ${when(last.date)}`));
    list.append(el("li", {}, button));
  }
}

function outcomeBadge(received) {
  const outcome = Array.isArray(received.outcome) ? received.outcome[0] : received.outcome;
  if (!outcome) return el("span", { class: "badge wait" }, "processing…");
  if (outcome.error) return el("span", { class: "badge bad" }, "failed: " + outcome.error.split("\n")[0]);
  if (outcome.sent) return el("span", { class: "badge ok" }, `sent by SMS (${outcome.parts} part${outcome.parts > 1 ? "s" : ""})`);
  return el("span", { class: "badge bad" }, "not sent: " + outcome.reason);
}

function renderThread() {
  const group = threads().find((g) => g.key === state.thread);
  const article = $("thread");
  if (!group) { article.hidden = true; return; }
  article.hidden = false;
  $("thread-subject").textContent = group.subject;
  const answers = state.received.filter((r) => threadKey(r.subject) === group.key);
  const items = [
    ...group.mails.map((m) => ({ kind: "mail", at: Date.parse(m.date) || 0, m })),
    ...answers.map((r) => ({ kind: "answer", at: Date.parse(r.date) || 0, m: r })),
  ].sort((a, b) => a.at - b.at);
  const list = $("thread-messages");
  const key = JSON.stringify(items.map((i) => [i.m.id, i.kind === "answer" ? JSON.stringify(i.m.outcome) : ""]));
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren();
  for (const { kind, m } of items) {
    const header = el("header", {}, el("span", {}, `From ${m.from}`), el("span", {}, `To ${m.to.join(", ")}`),
      el("span", {}, when(m.date)));
    if (kind === "answer") header.append(outcomeBadge(m));
    list.append(el("li", { class: `mail ${kind}` }, header, el("pre", {}, m.text)));
  }
  const inbox = state.config.municipalities.find((c) => c.email === state.inbox);
  if (!$("reply-from").value && inbox) $("reply-from").value = inbox.agent;
}

async function refreshMailbox() {
  if (!state.inbox) return;
  const [mails, received] = await Promise.all([
    api(`/sim/mailbox?to=${encodeURIComponent(state.inbox)}`), api("/sim/received"),
  ]);
  state.mails = mails;
  state.received = received;
  if (!state.thread && mails.length) state.thread = threadKey(mails[mails.length - 1].subject);
  renderThreads();
  renderThread();
}

// RFC 2047 for a non-ASCII header (a French subject, an accented name).
function encodeHeader(value) {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  const bytes = new TextEncoder().encode(value);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `=?UTF-8?B?${btoa(binary)}?=`;
}

function replyRaw(from, text) {
  const group = threads().find((g) => g.key === state.thread);
  const last = group.mails[group.mails.length - 1];
  const domain = from.split("@")[1] || "city.example";
  const id = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));
  const references = [...(last.references || []), last.message_id].filter(Boolean).join(" ");
  const name = from.split("@")[0].split(/[._-]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(" ");
  const quoted = last.text.split("\n").map((line) => "> " + line).join("\r\n");
  const body = `${text}\r\n\r\n-- \r\n${name}\r\n311 contact centre\r\n\r\n` +
    `On ${new Date(last.date).toUTCString()}, ${last.from} wrote:\r\n${quoted}\r\n`;
  const headers = [
    `From: ${encodeHeader(name)} <${from}>`,
    `To: ${last.reply_to}`,
    `Subject: ${encodeHeader("Re: " + last.subject.replace(/^re:\s*/i, ""))}`,
    `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <${id}@${domain}>`,
    `In-Reply-To: ${last.message_id}`,
    `References: ${references}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
  ];
  return headers.join("\r\n") + "\r\n\r\n" + body;
}

async function sendReply(event) {
  event.preventDefault();
  const status = $("reply-status");
  const text = $("reply-text").value.trim();
  if (!text || !state.thread) return;
  $("reply-send").disabled = true;
  try {
    await api("/sim/email", { raw: replyRaw($("reply-from").value.trim(), text) });
    $("reply-text").value = "";
    status.className = "status";
    status.textContent = "Answer sent to Text311.";
    setTimeout(refreshMailbox, 400);
  } catch (error) {
    status.className = "status error";
    status.textContent = error.message;
  } finally {
    $("reply-send").disabled = false;
  }
}

// -- start ------------------------------------------------------------------------------------------

async function start() {
  state.config = await api("/sim/config");
  $("sms-number").textContent = state.config.sms_number;
  $("smtp-address").textContent = `${state.config.smtp.host}:${state.config.smtp.port}`;
  const phones = $("phone-select");
  for (const p of state.config.demo_phones) phones.append(el("option", { value: p.number }, `${p.number} — ${p.label}`));
  phones.append(el("option", { value: "other" }, "Other number…"));
  phones.addEventListener("change", () => {
    $("phone-other").hidden = phones.value !== "other";
    if (phones.value === "other") $("phone-other").focus();
    refreshPhone();
  });
  $("phone-other").addEventListener("input", refreshPhone);
  const inboxes = $("inbox-select");
  for (const c of state.config.municipalities) {
    inboxes.append(el("option", { value: c.email }, `${c.name}, ${c.region_code} — ${c.email}`));
  }
  state.inbox = inboxes.value;
  inboxes.addEventListener("change", () => {
    state.inbox = inboxes.value;
    state.thread = null;
    const city = state.config.municipalities.find((c) => c.email === state.inbox);
    $("reply-from").value = city ? city.agent : "";
    refreshMailbox();
  });
  $("phone-send").addEventListener("submit", sendText);
  $("phone-pick").addEventListener("submit", (e) => e.preventDefault());
  $("inbox-pick").addEventListener("submit", (e) => e.preventDefault());
  $("reply-form").addEventListener("submit", sendReply);
  $("phone-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("phone-send").requestSubmit(); }
  });
  await Promise.all([refreshPhone(), refreshMailbox(), refreshOutbound()]);
  setInterval(() => {
    refreshPhone().catch(() => {}); refreshMailbox().catch(() => {}); refreshOutbound().catch(() => {});
  }, 1000);
}

// The outbound queue (docs/outbound.md): what waits for the line, the drainer's pace, an answer's wait.
async function refreshOutbound() {
  const { outbound: q } = await api("/sim/status");
  const queued = q.waiting + q.held;
  const rate = q.rate == null ? q.mps : q.rate;
  const wait = (q.wait_seconds || {}).ANSWER || 0;
  $("outbound").textContent = `Outbound SMS queue: ${queued} message${queued === 1 ? "" : "s"} queued · ` +
    `sending at ${Number(rate).toFixed(2)} of ${q.mps} parts/s · a new answer waits about ${Math.round(wait)} s` +
    (q.throttled ? ` · ${q.throttled} throttled by the line` : "");
}

start().catch((error) => { $("summary").textContent = "Cannot reach the local run: " + error.message; });
