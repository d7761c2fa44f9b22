// Service requests (docs/service-requests.md, "In the console"): the thread's "File request" form with the
// suggested category and place, and the Requests screen (filters, pages, history, status changes, the
// supervisors' CSV). Every filing and status change sends an Idempotency-Key, one per click: a retry of the
// click files and texts nothing twice. The API scopes everything to the caller's city; nothing here is trusted.
"use strict";
(() => {
  const $ = (selector) => document.querySelector(selector);
  const STATUSES = ["open", "in_progress", "closed"];
  const app = () => window.Text311;
  const t = (...args) => app().t(...args);
  const el = (...args) => app().el(...args);
  let threadId = null; // the thread whose form is drawn
  let prefill = ""; // the address the form started with: sent as "" (the place found) when left as it is
  let cursor = null; // the list's next page, or null
  let cursorQuery = null; // the filters that page was asked with: "More" goes on with them
  let renders = 0; // calls of render(): the latest one draws the list
  let servicesShown = null; // the language the category filter's options were drawn in

  const withLang = (path) => `${path}${path.includes("?") ? "&" : "?"}lang=${app().lang()}`;

  function formError(form, text) { form.querySelector(".form-error").textContent = text || ""; }

  // A click's POST, retried with the same key when the network failed (never when the API answered).
  async function once(path, body) {
    const key = crypto.randomUUID();
    for (let attempt = 0; ; attempt += 1) {
      try { return await app().api("POST", withLang(path), body, { "Idempotency-Key": key }); }
      catch (error) { if (error.status !== undefined || attempt >= 2) throw error; }
    }
  }

  const statusText = (status) => t(`request_${status}`);

  function placeText(r) {
    if (!r.address && r.lat === null) return t("requestNoPlace");
    const point = r.lat !== null ? `${r.lat},${r.lon}` : t("requestNotOnMap");
    return r.address ? `${r.address} (${point})` : point;
  }

  // Who changed it, when, to what, and the note the resident was texted.
  function historyItem(h) {
    return el("li", {}, app().time(h.at), ` · ${h.by} · `, el("strong", { textContent: statusText(h.status) }),
      h.note ? ` · ${h.note}` : "");
  }

  // A status change beside each request: the status, a note (texted to the resident with the change).
  function statusForm(r, done) {
    const id = `st-${r.reference}`;
    const select = el("select", { id: `${id}-status` },
      ...STATUSES.map((s) => el("option", { value: s, textContent: statusText(s), selected: s === r.status })));
    const note = el("input", { id: `${id}-note`, maxLength: 1000 });
    const form = el("form", { className: "inline status-form" },
      el("div", { className: "field" }, el("label", { htmlFor: select.id, textContent: t("requestNewStatus") }), select),
      el("div", { className: "field grow" }, el("label", { htmlFor: note.id, textContent: t("requestNote") }), note),
      el("button", { type: "submit", textContent: t("requestChange") }),
      el("p", { className: "alert form-error", role: "alert" }));
    form.setAttribute("aria-label", t("requestChangeOf", { reference: r.reference }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      formError(form, "");
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const result = await once(`/requests/${encodeURIComponent(r.reference)}/status`,
          { status: select.value, note: note.value.trim() });
        app().say(t(result.texted ? "requestChangedTexted" : "requestChanged", { reference: r.reference }));
        await done();
      } catch (error) {
        if (error.status === 400 || error.status === 404) formError(form, error.message);
        else app().report(error);
      } finally { button.disabled = false; }
    });
    return form;
  }

  function requestItem(r, { link, done }) {
    const head = el("p", { className: "request-head" },
      el("strong", { textContent: r.reference }), ` · ${r.service_name} · `,
      el("span", { className: `badge request-${r.status}`, textContent: statusText(r.status) }));
    const line = el("p", { className: "line" }, app().time(r.requested_at), ` · ${placeText(r)}`,
      link && r.conversation_id ? " · " : "",
      link && r.conversation_id ? el("a", { href: `#/c/${encodeURIComponent(r.conversation_id)}`,
        textContent: t("requestConversation") }) : null,
      r.source === "open311" ? ` · ${t("requestOpen311")}` : "");
    const history = el("details", {}, el("summary", { textContent: t("requestHistory", { n: r.history.length }) }),
      el("ol", { className: "compact history" }, ...r.history.map(historyItem)));
    return el("li", { className: "request" }, head, line, history, statusForm(r, done));
  }

  // ---- the thread ---------------------------------------------------------------------------

  async function thread(id) {
    threadId = id;
    $("#thread-requests").hidden = true; // until this thread's own requests are drawn
    formError($("#file-form"), "");
    let data;
    try {
      data = await app().api("GET", withLang(`/conversations/${encodeURIComponent(id)}/requests`));
    } catch (error) { return app().report(error); }
    if (threadId !== id) return; // another thread was opened meanwhile
    $("#thread-requests").hidden = false;
    const { service, location } = data.suggestion;
    $("#file-service").replaceChildren(el("option", { value: "", textContent: t("requestChoose") }),
      ...data.services.map((s) => el("option", { value: s.code, textContent: `${s.name} (${s.code})` })));
    $("#file-service").value = service ? service.code : "";
    prefill = location ? location.address : "";
    $("#file-address").value = prefill;
    $("#req-suggestion").textContent = t("requestSuggested", {
      service: service ? `${service.name} (${service.code})` : t("requestNoSuggestion"),
      place: location ? placeText({ address: location.label || location.text, lat: location.lat, lon: location.lon })
        : t("requestNoPlace"),
    });
    $("#thread-requests-list").replaceChildren(...data.requests.map((r) => requestItem(r, {
      link: false, done: () => thread(id) })));
  }

  async function fileRequest(event) {
    event.preventDefault();
    const form = event.target;
    formError(form, "");
    if (!threadId) return;
    const address = $("#file-address").value.trim();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const result = await once(`/conversations/${encodeURIComponent(threadId)}/requests`, {
        service_code: $("#file-service").value,
        address: address === prefill ? "" : address, // unchanged: the place the resident's texts name
      });
      const reference = result.request.reference;
      app().say(t(result.texted ? "requestFiledTexted" : "requestFiled", { reference }));
      await thread(threadId);
    } catch (error) {
      if (error.status === 400) formError(form, error.message);
      else app().report(error);
    } finally { button.disabled = false; }
  }

  // ---- the requests screen ------------------------------------------------------------------

  function listQuery() {
    const query = new URLSearchParams();
    for (const [name, selector] of [["status", "#rq-status"], ["service_code", "#rq-service"],
      ["from", "#rq-from"], ["to", "#rq-to"]]) {
      if ($(selector).value) query.set(name, $(selector).value);
    }
    return query;
  }

  function showServices(services) {
    if (servicesShown === app().lang()) return;
    const chosen = $("#rq-service").value;
    $("#rq-service").replaceChildren(el("option", { value: "", textContent: t("requestAllServices") }),
      ...services.map((s) => el("option", { value: s.code, textContent: s.name })));
    $("#rq-service").value = chosen;
    servicesShown = app().lang();
  }

  // Only the latest call draws (a filter changed while a page was loading): aria-busy until it has.
  async function render(focus = true, more = false) {
    const call = ++renders;
    if (!more) app().show("requests", focus);
    $("#rq-list").setAttribute("aria-busy", "true");
    $("#rq-export").hidden = app().role() !== "supervisor";
    const query = more && cursor ? new URLSearchParams(cursorQuery) : listQuery();
    const asked = query.toString();
    if (more && cursor) query.set("cursor", cursor);
    try {
      const page = await app().api("GET", withLang(`/requests?${query}`));
      if (call !== renders) return;
      showServices(page.services);
      const items = page.requests.map((r) => requestItem(r, { link: true, done: () => render(false) }));
      if (more) $("#rq-list").append(...items);
      else $("#rq-list").replaceChildren(...items);
      $("#rq-empty").hidden = $("#rq-list").children.length > 0;
      cursor = page.cursor || null;
      cursorQuery = asked;
      $("#rq-more").hidden = !cursor;
    } catch (error) {
      if (error.status === 400) app().fail(error.message);
      else app().report(error);
    } finally { if (call === renders) $("#rq-list").removeAttribute("aria-busy"); }
  }

  // The supervisors' CSV of the filtered list: fetched with the session's token, saved through a blob link.
  async function exportCsv() {
    const bearer = await app().token();
    if (!bearer) return app().fail(t("sessionExpired"));
    try {
      const response = await fetch(`${app().apiUrl()}/requests.csv?${listQuery()}`,
        { headers: { Authorization: `Bearer ${bearer}` } });
      if (!response.ok) {
        const data = await response.json().catch(() => null);
        return app().fail((data && data.message) || t("error", { status: response.status }));
      }
      const link = el("a", { href: URL.createObjectURL(await response.blob()), download: "requests.csv" });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      app().say(t("requestsSaved"));
    } catch { app().fail(t("errorNetwork")); }
  }

  function wire() {
    $("#file-form").addEventListener("submit", fileRequest);
    $("#rq-filters").addEventListener("submit", (event) => { event.preventDefault(); render(false); });
    ["#rq-status", "#rq-service"].forEach((s) => $(s).addEventListener("change", () => render(false)));
    $("#rq-more").addEventListener("click", () => render(false, true));
    $("#rq-export").addEventListener("click", exportCsv);
  }

  // Called by app.js: the screen, and a thread opened (not its refresh).
  window.Text311Requests = { render, thread };
  wire();
})();
