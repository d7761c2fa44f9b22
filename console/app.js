// Text311 agents' console: a dependency-free single-page app. docs/console.md describes it.
// config.json says where the API is and how to sign in: "cognito" (hosted UI, code + PKCE) on AWS,
// "local" (demo sign-in at <apiUrl>/local-sign-in) in the local run. No build step.
"use strict";
(() => {
  const $ = (selector) => document.querySelector(selector);
  const store = sessionStorage; // tokens live only as long as the tab
  const POLL_MS = 15000;
  let config = {};
  let strings = {};
  let lang = "en";
  let me = null;
  let thread = null; // {id, conversation, count}
  let canned = null;
  let timer = null;
  let cursor = null; // the inbox's next page (an opaque token from the API), or null

  function el(tag, props = {}, ...children) {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  // ---- strings ------------------------------------------------------------------------------

  function t(key, vars = {}) {
    let text = strings[key] ?? key;
    for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
    return text;
  }

  function initialLanguage() {
    const saved = localStorage.getItem("lang");
    if (saved === "en" || saved === "fr") return saved;
    const preferred = navigator.languages || [navigator.language || "en"];
    return preferred.some((l) => l.toLowerCase().startsWith("fr")) &&
      !preferred[0].toLowerCase().startsWith("en") ? "fr" : "en";
  }

  async function setLanguage(next) {
    strings = await (await fetch(`i18n/${next}.json`)).json();
    lang = next;
    localStorage.setItem("lang", lang);
    document.documentElement.lang = lang;
    document.title = t("title");
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    document.querySelectorAll("[data-i18n-label]").forEach((node) => {
      node.setAttribute("aria-label", t(node.dataset.i18nLabel));
    });
    const toggle = $("#lang");
    toggle.textContent = t("otherLanguage");
    toggle.lang = t("otherLanguageCode");
    if (me) { showWho(); route(); }
  }

  const when = (iso) => (iso ? new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" })
    .format(new Date(iso)) : "");

  function time(iso) {
    return el("time", { dateTime: iso || "", textContent: when(iso) });
  }

  function say(text) { $("#status").textContent = text; $("#alert").textContent = ""; }
  function fail(text) { $("#alert").textContent = text; $("#status").textContent = ""; }

  // ---- sessions -----------------------------------------------------------------------------

  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

  function session() {
    try { return JSON.parse(store.getItem("session")) || {}; } catch { return {}; }
  }

  function saveSession(token, expiresIn, refresh) {
    store.setItem("session", JSON.stringify({ token, refresh, expires: Date.now() + expiresIn * 1000 }));
  }

  async function signInWithCognito() {
    const verifier = random(48);
    const state = random(16);
    store.setItem("pkce", JSON.stringify({ verifier, state, hash: location.hash }));
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const query = new URLSearchParams({
      response_type: "code", client_id: config.clientId, redirect_uri: config.redirectUri,
      scope: "openid email", state, code_challenge_method: "S256", code_challenge: challenge,
    });
    location.assign(`${config.cognitoDomain}/oauth2/authorize?${query}`);
  }

  async function tokenRequest(params) {
    const response = await fetch(`${config.cognitoDomain}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: config.clientId, ...params }),
    });
    if (!response.ok) throw new Error(`token endpoint: ${response.status}`);
    const tokens = await response.json();
    // The ID token: it carries email, custom:municipality_id and custom:role for the API.
    saveSession(tokens.id_token, tokens.expires_in, tokens.refresh_token || session().refresh);
  }

  // Back from the hosted UI with ?code=…&state=…: check the state, trade the code (with the verifier).
  async function completeCognitoSignIn() {
    const query = new URLSearchParams(location.search);
    if (!query.has("code") && !query.has("error")) return;
    const saved = JSON.parse(store.getItem("pkce") || "{}");
    store.removeItem("pkce");
    history.replaceState(null, "", location.pathname + (saved.hash || ""));
    if (query.has("error") || !saved.state || query.get("state") !== saved.state) throw new Error("sign-in");
    await tokenRequest({
      grant_type: "authorization_code", code: query.get("code"),
      redirect_uri: config.redirectUri, code_verifier: saved.verifier,
    });
  }

  async function token() {
    const current = session();
    if (!current.token) return null;
    if (Date.now() < current.expires - 60000) return current.token;
    if (config.auth === "cognito" && current.refresh) {
      try { await tokenRequest({ grant_type: "refresh_token", refresh_token: current.refresh }); return session().token; }
      catch { /* fall through: sign in again */ }
    }
    store.removeItem("session");
    return null;
  }

  async function signInLocally(event) {
    event.preventDefault();
    const body = {
      email: $("#local-email").value.trim(),
      municipality_id: $("#local-municipality").value.trim(),
      role: $("#local-role").value,
    };
    try {
      const response = await fetch(`${config.apiUrl}/local-sign-in`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) return fail(data.message || t("error", { status: response.status }));
      saveSession(data.token, data.expires_in || 8 * 3600, null);
      await start();
    } catch { fail(t("errorNetwork")); }
  }

  // Optional in the local run: GET <apiUrl>/local-sign-in → {"agents": [{email, municipality_id, role}]}.
  async function offerDemoAgents() {
    try {
      const response = await fetch(`${config.apiUrl}/local-sign-in`);
      if (!response.ok) return;
      const agents = (await response.json()).agents || [];
      $("#local-agents").replaceChildren(...agents.map((a) => el("option", { value: a.email, label: a.label || "" })));
      $("#local-email").addEventListener("change", () => {
        const agent = agents.find((a) => a.email === $("#local-email").value);
        if (agent) { $("#local-municipality").value = agent.municipality_id; $("#local-role").value = agent.role; }
      });
    } catch { /* the form works without suggestions */ }
  }

  function signOut() {
    const current = session();
    store.removeItem("session");
    me = null;
    clearInterval(timer);
    if (config.auth !== "cognito") return showSignIn();
    if (current.refresh) {
      fetch(`${config.cognitoDomain}/oauth2/revoke`, {
        method: "POST", keepalive: true,
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: current.refresh, client_id: config.clientId }),
      }).catch(() => {});
    }
    const query = new URLSearchParams({ client_id: config.clientId, logout_uri: config.redirectUri });
    location.assign(`${config.cognitoDomain}/logout?${query}`);
  }

  // ---- API ----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) { super((body && body.message) || String(status)); this.status = status; }
  }

  async function api(method, path, body, headers = {}) {
    const bearer = await token();
    if (!bearer) { showSignIn(t("sessionExpired")); throw new ApiError(401); }
    const response = await fetch(config.apiUrl + path, {
      method,
      headers: { Authorization: `Bearer ${bearer}`, ...(body ? { "Content-Type": "application/json" } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => null);
    if (response.status === 401) { store.removeItem("session"); showSignIn(t("sessionExpired")); }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function report(error) {
    if (!(error instanceof ApiError)) return fail(t("errorNetwork"));
    if (error.status === 401) return undefined;
    // 400 says what was refused (a transfer to an address that is not one agent of the city).
    fail([400, 403, 404, 409].includes(error.status) ? error.message : t("error", { status: error.status }));
  }

  // ---- views --------------------------------------------------------------------------------

  function show(name, focus = true) {
    document.querySelectorAll(".view").forEach((view) => { view.hidden = view.id !== `view-${name}`; });
    document.querySelectorAll("#nav a").forEach((link) => {
      if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    });
    if (focus) $(`#view-${name} h1`).focus();
  }

  function showSignIn(message) {
    me = null;
    clearInterval(timer);
    ["#nav", "#signout"].forEach((s) => { $(s).hidden = true; });
    $("#who").textContent = "";
    $("#signin-cognito").hidden = config.auth !== "cognito";
    $("#signin-local").hidden = config.auth === "cognito";
    show("signin");
    if (message) fail(message);
  }

  function showWho() {
    $("#who").textContent = t("signedInAs", { email: me.email, role: t(`role_${me.role}`) });
  }

  async function start() {
    try { me = await api("GET", "/me"); } catch (error) { return report(error); }
    say("");
    showWho();
    $("#nav").hidden = false;
    $("#signout").hidden = false;
    $("#nav-stats").hidden = me.role !== "supervisor";
    $("#nav-settings").hidden = me.role !== "supervisor";
    route();
    clearInterval(timer);
    timer = setInterval(poll, POLL_MS);
  }

  function route() {
    if (!me) return;
    const [, view, id] = location.hash.split("/");
    if (view === "c" && id) return openThread(decodeURIComponent(id));
    thread = null;
    if (view === "stats" && me.role === "supervisor") return renderStats();
    if (view === "requests" && window.Text311Requests) return window.Text311Requests.render();
    if (view === "settings" && me.role === "supervisor" && window.Text311Settings) {
      return window.Text311Settings.render();
    }
    return renderInbox(true);
  }

  async function poll() {
    if (document.hidden || !me) return;
    if (thread) await openThread(thread.id, { quiet: true });
    else if (!$("#view-inbox").hidden) await renderInbox(false, true);
  }

  // ---- inbox --------------------------------------------------------------------------------

  function inboxQuery() {
    const query = new URLSearchParams({ status: $("#f-status").value });
    if ($("#f-view").value) query.set("view", $("#f-view").value);
    if ($("#f-q").value.trim()) query.set("q", $("#f-q").value.trim());
    return query;
  }

  // The refresh redraws the first page only when no further page was asked for (a reader's place stays).
  async function renderInbox(focus, refresh = false) {
    show("inbox", focus);
    if (refresh && cursor && $("#list").children.length > 50) return;
    try {
      const page = await api("GET", `/conversations?${inboxQuery()}`);
      $("#list").replaceChildren(...page.conversations.map(conversationItem));
      $("#list-empty").hidden = page.conversations.length > 0;
      showMore(page.cursor);
    } catch (error) { report(error); }
  }

  // "More": the next page after the cursor, appended; a search that read its share of the city says so.
  async function morePages() {
    if (!cursor) return;
    const query = inboxQuery();
    query.set("cursor", cursor);
    try {
      const page = await api("GET", `/conversations?${query}`);
      $("#list").append(...page.conversations.map(conversationItem));
      $("#list-empty").hidden = $("#list").children.length > 0;
      if (!page.conversations.length && page.cursor) say(t("searchingOn"));
      showMore(page.cursor);
    } catch (error) { report(error); }
  }

  function showMore(next) { cursor = next || null; $("#list-more").hidden = !cursor; }

  function conversationItem(c) {
    const line = [c.resident, t(`status_${c.status}`), c.owner || t("unassigned"), c.department].filter(Boolean)
      .join(" · ");
    const link = el("a", { href: `#/c/${encodeURIComponent(c.id)}` },
      c.urgent ? el("span", { className: "badge", textContent: t("urgent") }) : null,
      c.overdue ? el("span", { className: "badge overdue", textContent: t("overdue") }) : null,
      el("span", { className: "subject", textContent: c.subject || c.id }),
      el("span", { className: "line" }, `${line} · `, time(c.last_message_at)));
    return el("li", {}, link);
  }

  // ---- thread -------------------------------------------------------------------------------

  // Loads overlap (a refresh after Send, then the agent's transfer, the minute's refresh): a load answered after a
  // later one was asked is stale, and drawing it would undo what the later one showed (a transfer's department).
  let threadLoads = 0;
  async function openThread(id, { quiet = false } = {}) {
    const load = ++threadLoads;
    let data;
    try { data = await api("GET", `/conversations/${encodeURIComponent(id)}`); } catch (error) { return report(error); }
    if (load !== threadLoads) return;
    const c = data.conversation;
    const fresh = !thread || thread.id !== id || !quiet;
    if (!quiet) show("thread");
    const previous = fresh ? 0 : thread.count;
    thread = { id, conversation: c, count: data.messages.length };
    if (fresh) $("#answer-outcome").textContent = ""; // a queued notice belongs to its own thread
    if (fresh) clearPreview(); // so does a translation preview
    $("#thread-h").replaceChildren(...(c.urgent ? [el("span", { className: "badge", textContent: t("urgent") })] : []),
      ...(c.overdue ? [el("span", { className: "badge overdue", textContent: t("overdue") })] : []),
      c.subject || c.id);
    const meta = [["resident", c.resident], ["status", t(`status_${c.status}`)],
      ["owner", c.owner || t("unassigned")], ["department", c.department || "—"], ["language", c.language],
      ["opened", when(c.opened_at)],
      ["firstAnswer", when(c.first_response_at) || "—"], ["closedAt", when(c.closed_at) || "—"]];
    $("#thread-meta").replaceChildren(...meta.flatMap(([k, v]) => [el("dt", { textContent: t(k) }),
      el("dd", { textContent: v || "" })]));
    $("#thread-optout").hidden = !c.resident_opted_out;
    $("#act-claim").hidden = c.owner === me.email;
    $("#act-close").hidden = c.status !== "open";
    $("#act-reopen").hidden = c.status === "open";
    $("#answer-send").disabled = !canAnswer(c);
    // Redrawn every time (delivery statuses change); only new incoming texts are announced.
    $("#messages").replaceChildren(...data.messages.map(messageItem));
    $("#history").replaceChildren(...(data.history || []).map(historyItem));
    $("#history-empty").hidden = (data.history || []).length > 0;
    const earlier = data.earlier || [];
    $("#earlier").replaceChildren(...earlier.map((e) => el("li", {},
      el("a", { href: `#/c/${encodeURIComponent(e.id)}`, textContent: e.subject || e.id }),
      ` · ${t(`status_${e.status}`)} · `, time(e.opened_at))));
    $("#earlier-section").hidden = earlier.length === 0;
    if (!fresh) {
      const incoming = data.messages.slice(previous).filter((m) => m.direction === "in");
      if (incoming.length) $("#announce").textContent = t("newMessage", { text: incoming.at(-1).body });
    }
    if (fresh && window.Text311Requests) window.Text311Requests.thread(id); // console/requests.js
    if (fresh) await fillCanned(c.language);
    if (fresh) await fillDepartments();
  }

  // The city's departments (GET /departments), offered beside the transfer to one agent: a form made here,
  // after #transfer-form, hidden while the city has none.
  async function fillDepartments() {
    if (!$("#department-form")) {
      const choice = el("select", { id: "transfer-department", required: true });
      const form = el("form", { id: "department-form", className: "inline" },
        el("label", { htmlFor: choice.id, textContent: t("transferToDepartment") }), choice,
        el("button", { type: "submit", textContent: t("transfer") }));
      form.querySelector("label").dataset.i18n = "transferToDepartment"; // redrawn when the language changes
      form.querySelector("button").dataset.i18n = "transfer";
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (choice.value) act("transfer", { department: choice.value });
      });
      $("#transfer-form").after(form);
    }
    let departments = [];
    try { ({ departments } = await api("GET", "/departments")); } catch (error) { report(error); }
    $("#transfer-department").replaceChildren(...departments.map((d) =>
      el("option", { value: d.id, textContent: d.name })));
    $("#department-form").hidden = departments.length === 0;
  }

  // A resident who texted STOP gets no SMS: Send stays off and #thread-optout says why.
  function canAnswer(c) { return c.status === "open" && !c.resident_opted_out; }

  const NOT_REACHED = new Set(["bounced", "complained"]);  // text311/mail_feedback.py

  function messageItem(m) {
    const who = m.direction === "in" ? thread.conversation.resident : m.author || "";
    const head = [t(`dir_${m.direction}`), t(`channel_${m.channel}`), who].filter(Boolean).join(" · ");
    const delivery = m.status && m.direction !== "note" ? ` · ${t(`delivery_${m.status}`)}` : "";
    return el("li", { className: m.direction },
      m.urgent ? el("span", { className: "badge", textContent: t("urgent") }) : null,
      // A text the city's inbox refused (bounce, complaint): the agent reading it here is the only one who has it.
      NOT_REACHED.has(m.status) ? el("span", { className: "badge not-reached", textContent: t("cityNotReached") }) : null,
      el("span", { className: "line" }, `${head} · `, time(m.at), delivery),
      el("p", { className: "body", textContent: m.body || "" }),
      translationOf(m));
  }

  // A machine translation kept with the message (text311/translation.py): of a resident's text, or of an
  // answer as the resident received it. Shown under the original, marked with its engine and language.
  function translationOf(m) {
    if (!m.translation) return null;
    const { engine, language, text } = m.translation;
    return el("p", { className: "body translation", dir: "auto", textContent: `⇄ ${engine} (${language}): ${text}` });
  }

  // What the resident would receive: the answer's machine translation, asked for when the agent pauses
  // typing (POST /conversations/<id>/preview; nothing is sent). Nothing is shown for a resident who
  // needs none; a text that cannot be translated says so before Send is pressed. Each new text the
  // engine translates is paid (docs/languages.md): asked only after a pause of PREVIEW_PAUSE_MS, for a
  // non-empty text other than the last one asked; an answer for a text no longer in the box is dropped.
  const PREVIEW_PAUSE_MS = 1500;
  let previewTimer = null;
  let previewed = null; // { id, text } of the last preview asked for
  function clearPreview() {
    clearTimeout(previewTimer);
    previewed = null;
    const shown = $("#answer-translation");
    if (shown) shown.textContent = "";
  }
  function previewAnswer({ now = false } = {}) {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      const text = $("#answer").value.trim();
      let shown = $("#answer-translation");
      if (!shown) {
        shown = el("p", { id: "answer-translation", className: "hint", dir: "auto", role: "status" });
        $("#answer-count").after(shown);
      }
      if (!text || !thread) { shown.textContent = ""; previewed = null; return; }
      const id = thread.id;
      if (previewed && previewed.id === id && previewed.text === text) return;
      previewed = { id, text };
      const current = () => thread && thread.id === id && $("#answer").value.trim() === text;
      try {
        const result = await api("POST", `/conversations/${encodeURIComponent(id)}/preview`, { text });
        if (!current()) return;
        if (result.translated) shown.textContent = `${result.label} ${result.translation.text}`;
        else shown.textContent = result.reason ? t(`reason_${result.reason}`) : "";
      } catch {
        if (current()) { shown.textContent = ""; previewed = null; }
      }
    }, now ? 0 : PREVIEW_PAUSE_MS);
  }

  // Who did what to the conversation (text311/audit.py): actions are named by the API, shown translated.
  function historyItem(h) {
    const action = strings[`action_${h.action}`] ? t(`action_${h.action}`) : h.action;
    return el("li", {}, time(h.at), ` · ${h.actor} · `, el("strong", { textContent: action }),
      h.detail ? ` · ${h.detail}` : "");
  }

  async function fillCanned(language) {
    if (!canned) { try { canned = await api("GET", "/canned"); } catch { canned = {}; } }
    const languages = Object.keys(canned).sort((a, b) => (b === language) - (a === language));
    const groups = languages.map((l) => el("optgroup", { label: l },
      ...canned[l].map((text) => el("option", { value: text, textContent: text }))));
    $("#canned").replaceChildren(el("option", { value: "", textContent: t("cannedChoose") }), ...groups);
    $("#canned-field").hidden = languages.length === 0;
  }

  async function act(action, body) {
    if (!thread) return false;
    try {
      await api("POST", `/conversations/${encodeURIComponent(thread.id)}/${action}`, body);
      say(t("done"));
      await openThread(thread.id, { quiet: true });
      return true;
    } catch (error) { report(error); return false; }
  }

  async function sendAnswer(event) {
    event.preventDefault();
    const text = $("#answer").value.trim();
    if (!text || !thread) return;
    const button = $("#answer-send");
    const key = crypto.randomUUID(); // one per click; a retry of this click reuses it
    button.disabled = true;
    say(t("sending"));
    try {
      let result;
      for (let attempt = 0; ; attempt += 1) {
        try {
          result = await api("POST", `/conversations/${encodeURIComponent(thread.id)}/answer`, { text },
            { "Idempotency-Key": key });
          break;
        } catch (error) { if (error instanceof ApiError || attempt >= 2) throw error; }
      }
      if (result.sent) {
        $("#answer").value = "";
        updateCount();
        clearPreview();
        if (result.status === "queued") { say(""); $("#answer-outcome").textContent = queuedText(result); }
        else say(t("sent", { parts: result.parts || 1 }));
      } else fail(t(`reason_${result.reason}`));
      await openThread(thread.id, { quiet: true });
    } catch (error) { report(error); }
    finally { button.disabled = !thread || !canAnswer(thread.conversation); }
  }

  // A busy SMS line queues the answer (docs/outbound.md); the wait comes only when over a minute.
  function queuedText(result) {
    return result.wait_minutes ? t("queuedWait", { minutes: result.wait_minutes }) : t("queued");
  }

  function updateCount() { $("#answer-count").textContent = t("characters", { n: $("#answer").value.length }); }

  // ---- statistics ---------------------------------------------------------------------------

  async function renderStats() {
    show("stats");
    try {
      const { agents } = await api("GET", "/stats");
      $("#stats-rows").replaceChildren(...agents.map((a) => el("tr", {},
        el("th", { scope: "row", textContent: a.agent }),
        el("td", { className: "num", textContent: a.open }),
        el("td", { className: "num", textContent: a.answered }),
        el("td", { className: "num", textContent: a.median_first_response_minutes ?? "—" }))));
    } catch (error) { report(error); }
    await renderUsage();
  }

  // The city's usage and cost for a UTC month (GET /usage, text311/usage.py, as `text311 usage` counts it).
  // A cost whose price is unknown is shown as unknown and left out of the known total, never guessed.
  async function renderUsage() {
    let section = $("#usage-section");
    if (!section) {
      const month = el("input", { id: "usage-month", type: "month", value: new Date().toISOString().slice(0, 7) });
      month.addEventListener("change", renderUsage);
      section = el("section", { id: "usage-section" },
        el("h2", { id: "usage-h", textContent: t("usageTitle") }),
        el("label", { htmlFor: "usage-month", textContent: t("usageMonth") }), month,
        el("div", { className: "scroll" }, el("table", {}, el("tbody", { id: "usage-rows" }))));
      $("#stats-rows").closest(".scroll").after(section);
    }
    const month = $("#usage-month").value;
    if (!month) return;
    try {
      const usage = await api("GET", `/usage?${new URLSearchParams({ month })}`);
      const row = (label, value) => el("tr", {}, el("th", { scope: "row", textContent: label }),
        el("td", { className: "num", textContent: value }));
      $("#usage-rows").replaceChildren(
        ...Object.entries(usage.figures).filter(([k]) => !["city_id", "month", "country"].includes(k))
          .map(([k, v]) => row(k, v)),
        ...usage.costs.map((c) => row(`${c.label} (${c.quantity})`,
          c.cost === null ? t("usageUnknown") : `${c.cost} ${usage.currency}`)),
        row(t("usageTotal", { n: usage.unknown_costs }), `${usage.total_known} ${usage.currency}`));
    } catch (error) { report(error); }
  }

  // A supervisor's audit CSV: fetched with the session's token, then saved through a blob link.
  async function downloadAudit(event) {
    event.preventDefault();
    const first = $("#audit-from").value;
    const last = $("#audit-to").value;
    const bearer = await token();
    if (!bearer) return showSignIn(t("sessionExpired"));
    try {
      const query = new URLSearchParams({ from: first, to: last });
      const response = await fetch(`${config.apiUrl}/audit.csv?${query}`, { headers: { Authorization: `Bearer ${bearer}` } });
      if (!response.ok) {
        const data = await response.json().catch(() => null);
        return report(new ApiError(response.status, data));
      }
      const link = el("a", { href: URL.createObjectURL(await response.blob()), download: `audit-${first}-${last}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      say(t("auditSaved"));
    } catch { fail(t("errorNetwork")); }
  }

  // ---- wiring -------------------------------------------------------------------------------

  function wire() {
    $("#lang").addEventListener("click", () => setLanguage(lang === "en" ? "fr" : "en"));
    $("#signout").addEventListener("click", signOut);
    $("#signin-cognito").addEventListener("click", signInWithCognito);
    $("#signin-local").addEventListener("submit", signInLocally);
    $("#filters").addEventListener("submit", (event) => { event.preventDefault(); renderInbox(false); });
    ["#f-status", "#f-view"].forEach((s) => $(s).addEventListener("change", () => renderInbox(false)));
    $("#list-more").addEventListener("click", morePages);
    $("#audit-form").addEventListener("submit", downloadAudit);
    const today = new Date().toLocaleDateString("en-CA"); // YYYY-MM-DD, the browser's own day
    $("#audit-from").value = today;
    $("#audit-to").value = today;
    $("#act-claim").addEventListener("click", () => act("claim"));
    $("#act-close").addEventListener("click", () => act("close"));
    $("#act-reopen").addEventListener("click", () => act("reopen"));
    $("#transfer-form").addEventListener("submit", (event) => {
      event.preventDefault();
      // A refused address stays in the field, next to the message saying why.
      act("assign", { agent: $("#transfer-to").value.trim() }).then((done) => { if (done) $("#transfer-to").value = ""; });
    });
    $("#note-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("#note").value.trim();
      if (text) act("notes", { text }).then((done) => { if (done) $("#note").value = ""; });
    });
    $("#answer-form").addEventListener("submit", sendAnswer);
    $("#answer").addEventListener("input", updateCount);
    $("#answer").addEventListener("input", previewAnswer);
    $("#canned").addEventListener("change", () => {
      if (!$("#canned").value) return;
      $("#answer").value = $("#canned").value;
      $("#canned").value = "";
      updateCount();
      previewAnswer({ now: true }); // no typing pause to wait for: the agent chose this text
      $("#answer").focus();
    });
    window.addEventListener("hashchange", () => { say(""); route(); });
  }

  async function main() {
    config = await (await fetch("config.json", { cache: "no-store" })).json();
    await setLanguage(initialLanguage());
    wire();
    updateCount();
    if (config.auth === "cognito") {
      try { await completeCognitoSignIn(); } catch { return showSignIn(t("signInFailed")); }
    } else offerDemoAgents();
    if (await token()) await start();
    else showSignIn();
  }

  // console/settings.js (a supervisor's city settings) draws its screen with these; it loads after this file.
  window.Text311 = { api, t, el, say, fail, report, show, forgetCanned: () => { canned = null; } };
  // console/requests.js (service requests) also reads the session's token, the API's URL, the page's language.
  Object.assign(window.Text311, {
    token, time, apiUrl: () => config.apiUrl, lang: () => lang, role: () => me && me.role,
  });
  main().catch(() => fail("Text311: the console could not start (config.json?)."));
})();
