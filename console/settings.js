// A supervisor's city settings (docs/console.md, "City settings"): agents, canned answers, opening hours and
// the first-response target, through the console API's /settings routes. The API refuses agents (403) and
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
