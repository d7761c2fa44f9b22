// A supervisor's city settings (docs/console.md, "City settings"): agents, canned answers, opening hours,
// the first-response target and departments, through the console API's /settings routes. The API refuses agents (403) and
// names the city from the caller's token; this screen is only hidden from agents, never trusted.
"use strict";
(() => {
  const $ = (selector) => document.querySelector(selector);
  const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  let settings = null; // the last GET /settings
  let cannedLanguage = null;

  const app = () => window.Text311;
  const t = (...args) => app().t(...args);
  const el = (...args) => app().el(...args);

  function formError(form, text) {
    form.querySelector(".form-error").textContent = text || "";
  }

  // One form's change: the API's refusal (400, naming the field) is shown in that form, next to its fields.
  async function change(form, path, body, done) {
    formError(form, "");
    app().say("");
    form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const result = await app().api("POST", path, body);
      if (done) done(result);
      await render(false);
      app().say(t("saved")); // once the screen shows what was saved
      return true;
    } catch (error) {
      if (error.status !== 400 && error.status !== 409) {
        app().report(error);
        return false;
      }
      formError(form, error.message); // in the form, beside the field it names
      const field = form.querySelector(`[data-field="${error.message.split(":")[0]}"]`);
      if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
      return false;
    } finally { button.disabled = false; }
  }

  // ---- agents -------------------------------------------------------------------------------

  function agentRow(agent) {
    const toggle = el("button", {
      type: "button",
      textContent: t(agent.enabled ? "disable" : "enable"),
    });
    toggle.setAttribute("aria-label", `${t(agent.enabled ? "disable" : "enable")} ${agent.email}`);
    toggle.addEventListener("click", () => change($("#invite-form"),
      `/settings/agents/${agent.enabled ? "disable" : "enable"}`, { email: agent.email }));
    return el("tr", {},
      el("td", { textContent: agent.email }),
      el("td", { textContent: t(`role_${agent.role}`) }),
      el("td", { textContent: t(agent.enabled ? "agentEnabled" : "agentDisabled") }),
      el("td", { textContent: `${agent.invited_at.slice(0, 10)} · ${agent.invited_by}` }),
      el("td", {}, toggle));
  }

  // ---- canned answers -----------------------------------------------------------------------

  function cannedItem(answer, index) {
    const id = `canned-${index}`;
    const text = el("textarea", { id, rows: 2, maxLength: settings.limits.canned_length, value: answer.text });
    text.dataset.field = `answer ${index + 1}`;
    const count = el("p", { className: "hint", id: `${id}-count` });
    text.setAttribute("aria-describedby", count.id);
    const counted = () => {
      // The parts are counted by the API (text311.sms) when the list is saved; until then, the length.
      count.textContent = answer.parts && text.value.trim() === answer.text
        ? t("cannedParts", { n: answer.text.length, parts: answer.parts })
        : t("cannedEdited", { n: text.value.trim().length });
    };
    text.addEventListener("input", counted);
    counted();
    const remove = el("button", { type: "button", textContent: t("remove") });
    remove.setAttribute("aria-label", t("cannedRemove", { n: index + 1 }));
    remove.addEventListener("click", () => { removeCanned(index); });
    return el("li", {}, el("label", { htmlFor: id, textContent: t("cannedAnswer", { n: index + 1 }) }),
      text, count, remove);
  }

  function cannedTexts() {
    return [...document.querySelectorAll("#canned-list textarea")].map((node) => node.value);
  }

  function removeCanned(index) {
    const texts = cannedTexts();
    texts.splice(index, 1);
    drawCanned(texts.map((text) => ({ text, parts: null })));
  }

  function drawCanned(answers) {
    $("#canned-list").replaceChildren(...answers.map(cannedItem));
  }

  function showCanned() {
    drawCanned(settings.canned[cannedLanguage] || []);
  }

  // ---- opening hours ------------------------------------------------------------------------

  function drawHours() {
    const hours = settings.hours;
    $("#hours-hint").textContent = t("hoursHint", { zone: settings.time_zone });
    $("#hours-always").checked = hours === null;
    $("#hours-days").replaceChildren(...WEEKDAYS.map((day) => {
      const input = el("input", { id: `hours-${day}`, value: hours ? hours.weekly[day] : "",
        placeholder: "08:30-12:00,13:00-16:30", autocomplete: "off" });
      input.dataset.field = day;
      return el("div", { className: "hours-day" },
        el("label", { htmlFor: input.id, textContent: t(`day_${day}`) }), input);
    }));
    $("#hours-holidays").value = hours ? hours.holidays.join("\n") : "";
    $("#hours-holidays").dataset.field = "holidays";
    hoursEnabled();
  }

  function hoursEnabled() {
    const always = $("#hours-always").checked;
    document.querySelectorAll("#hours-days input, #hours-holidays").forEach((node) => { node.disabled = always; });
  }

  // ---- departments --------------------------------------------------------------------------

  // The section is made here (index.html holds the other settings' markup), once, after the target's form.
  function departmentsSection() {
    if ($("#departments-list")) return;
    const heading = el("h2", { id: "departments-h" });
    heading.dataset.i18n = "departmentsTitle";
    const hint = el("p", { className: "hint" });
    hint.dataset.i18n = "departmentsHint";
    const list = el("div", { id: "departments-list" });
    $("#view-settings").append(heading, hint, list, el("div", { id: "department-add" }));
    [heading, hint].forEach((node) => { node.textContent = t(node.dataset.i18n); });
  }

  function departmentField(form, prefix, name, label, input) {
    input.id = `${prefix}-${name}`;
    input.dataset.field = name; // the API's refusal names it ("inbox: ...")
    return el("div", { className: "field" }, el("label", { htmlFor: input.id, textContent: t(label) }), input);
  }

  // One department's form (null: the form that adds one): name, shared inbox, agents one address a line.
  function departmentForm(department) {
    const prefix = department ? `department-${department.id}` : "department-new";
    const form = el("form", { className: "settings-form department" });
    const name = el("input", { maxLength: settings.limits.department_name, required: true, autocomplete: "off",
      value: department ? department.name : "" });
    const inbox = el("input", { type: "email", maxLength: 254, required: true, autocomplete: "off",
      value: department ? department.inbox : "" });
    const agents = el("textarea", { rows: 2, value: department ? department.agents.join("\n") : "" });
    const save = el("button", { type: "submit", className: "primary",
      textContent: t(department ? "save" : "departmentAdd") });
    const error = el("p", { className: "alert form-error" });
    error.setAttribute("role", "alert");
    form.append(el("h3", { textContent: department ? department.name : t("departmentNew") }),
      departmentField(form, prefix, "name", "departmentName", name),
      departmentField(form, prefix, "inbox", "departmentInbox", inbox),
      departmentField(form, prefix, "agents", "departmentAgents", agents));
    const actions = el("div", { className: "actions" }, save);
    if (department) {
      const remove = el("button", { type: "button", textContent: t("remove") });
      remove.setAttribute("aria-label", `${t("remove")} ${department.name}`);
      remove.addEventListener("click", () => {
        // Its conversations are not lost: their next texts go to the city's inbox again.
        if (window.confirm(t("departmentRemoveConfirm", { name: department.name }))) {
          change(form, `/settings/departments/${encodeURIComponent(department.id)}/remove`, {});
        }
      });
      actions.append(remove);
    }
    form.append(actions, error);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { name: name.value.trim(), inbox: inbox.value.trim(),
        agents: agents.value.split(/\s+/).filter(Boolean) };
      const path = department ? `/settings/departments/${encodeURIComponent(department.id)}` : "/settings/departments";
      change(form, path, body);
    });
    return form;
  }

  function drawDepartments() {
    departmentsSection();
    $("#departments-list").replaceChildren(...settings.departments.map(departmentForm));
    // Drawn again each time: in the page's language, and empty once a department is added.
    $("#department-add").replaceChildren(departmentForm(null));
    $("#department-add").hidden = settings.departments.length >= settings.limits.departments;
  }

  // ---- the screen ---------------------------------------------------------------------------

  async function render(focus = true) {
    app().show("settings", focus);
    try { settings = await app().api("GET", "/settings"); } catch (error) { return app().report(error); }
    $("#agents-rows").replaceChildren(...settings.agents.map(agentRow));
    $("#agents-empty").hidden = settings.agents.length > 0;
    $("#invite-form").hidden = !settings.agents_editable;
    if (!settings.languages.includes(cannedLanguage)) [cannedLanguage] = settings.languages;
    $("#canned-language").replaceChildren(...settings.languages.map((code) =>
      el("option", { value: code, textContent: t(`lang_${code}`) === `lang_${code}` ? code : t(`lang_${code}`),
        selected: code === cannedLanguage })));
    showCanned();
    drawHours();
    $("#target-minutes").value = settings.target_minutes ?? "";
    $("#target-minutes").max = settings.limits.target_minutes;
    $("#target-minutes").dataset.field = "target";
    $("#invite-email").dataset.field = "agent";
    drawDepartments();
    return undefined;
  }

  function wire() {
    $("#invite-form").addEventListener("submit", (event) => {
      event.preventDefault();
      change(event.target, "/settings/agents", { email: $("#invite-email").value.trim(),
        role: $("#invite-role").value }, () => { $("#invite-email").value = ""; });
    });
    $("#canned-language").addEventListener("change", () => { cannedLanguage = $("#canned-language").value; showCanned(); });
    $("#canned-add").addEventListener("click", () => {
      drawCanned([...cannedTexts().map((text) => ({ text, parts: null })), { text: "", parts: null }]);
      const added = [...document.querySelectorAll("#canned-list textarea")].at(-1);
      if (added) added.focus();
    });
    $("#canned-form").addEventListener("submit", (event) => {
      event.preventDefault();
      change(event.target, "/settings/canned", { language: cannedLanguage, answers: cannedTexts() },
        () => app().forgetCanned());
    });
    $("#hours-always").addEventListener("change", hoursEnabled);
    $("#hours-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const weekly = $("#hours-always").checked ? null
        : Object.fromEntries(WEEKDAYS.map((day) => [day, $(`#hours-${day}`).value.trim()]));
      const holidays = $("#hours-holidays").value.split(/[\s,]+/).filter(Boolean);
      change(event.target, "/settings/hours", { weekly, holidays });
    });
    $("#target-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("#target-minutes").value.trim();
      change(event.target, "/settings/target", { minutes: text ? Number(text) : null });
    });
  }

  window.Text311Settings = { render };
  wire();
})();
