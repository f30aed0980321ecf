// pop3doctor web page: sends the form, follows the run's server-sent events,
// and shows them.  Presentation only: every verdict, cause and remedy comes
// from the server, in both languages; this script picks the one shown.
"use strict";

(function () {
  const DATA = JSON.parse(document.getElementById("ui-text").textContent);
  const UI = DATA.ui;
  const root = document.documentElement;
  const $ = (id) => document.getElementById(id);
  const form = $("check-form");
  const steps = $("steps");
  const RANK = { pending: 0, skip: 1, pass: 2, warn: 3, fail: 4 };
  const ICON = { pending: "…", pass: "✔", warn: "!", fail: "✖", skip: "–", notrun: "–" };

  let lang = root.dataset.lang === "ja" ? "ja" : "en";
  let source = null; // the EventSource of the current run
  let running = false;
  let result = null; // the "done" event of the last run

  // -- language -------------------------------------------------------------
  function setLang(next) {
    lang = next;
    root.dataset.lang = next;
    root.lang = next;
    document.title = UI.title[next] + " – pop3doctor";
    for (const btn of document.querySelectorAll("[data-set-lang]")) {
      btn.setAttribute("aria-pressed", String(btn.dataset.setLang === next));
    }
    for (const opt of document.querySelectorAll("option[data-ja]")) {
      opt.textContent = opt.dataset[next];
    }
    if (result) $("report-text").value = result.report[lang];
  }
  for (const btn of document.querySelectorAll("[data-set-lang]")) {
    btn.addEventListener("click", () => setLang(btn.dataset.setLang));
  }

  // A text in both languages, as two spans; CSS shows the current one.
  function bi(pair) {
    const frag = document.createDocumentFragment();
    for (const l of ["ja", "en"]) {
      const span = document.createElement("span");
      span.className = "l-" + l;
      span.lang = l;
      span.textContent = pair[l];
      frag.appendChild(span);
    }
    return frag;
  }
  function fill(el, pair) {
    el.replaceChildren(pair ? bi(pair) : "");
  }

  // -- form -----------------------------------------------------------------
  $("show-password").addEventListener("change", (ev) => {
    $("password").type = ev.target.checked ? "text" : "password";
  });

  function showError(pair, field) {
    const box = $("form-error");
    if (!pair) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    fill(box, pair);
    box.hidden = false;
    if (field && $(field)) {
      if (field !== "email" && field !== "password") $("advanced").open = true;
      $(field).setAttribute("aria-invalid", "true");
      $(field).focus();
    }
  }

  function setRunning(on) {
    running = on;
    form.classList.toggle("busy", on);
    for (const id of ["start", "again", "use-suggested"]) $(id).disabled = on;
  }

  function resetSteps() {
    // Back to the default order, all waiting.
    const items = Array.from(steps.children);
    items.sort((a, b) => Object.keys(DATA.stages).indexOf(a.dataset.stage) - Object.keys(DATA.stages).indexOf(b.dataset.stage));
    for (const li of items) {
      li.dataset.status = "pending";
      li.querySelector(".icon").textContent = ICON.pending;
      fill(li.querySelector(".step-word"), UI.pending);
      li.querySelector(".step-titles").replaceChildren();
      steps.appendChild(li);
    }
    $("settings-used").hidden = true;
  }

  async function startCheck() {
    if (running) return;
    if (!form.reportValidity()) return;
    showError(null);
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    setRunning(true);
    let answer;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
        cache: "no-store",
      });
      answer = await response.json();
      if (!response.ok) {
        setRunning(false);
        showError(answer.error || UI.error_generic, answer.field);
        return;
      }
    } catch (err) {
      setRunning(false);
      showError(UI.error_connection);
      return;
    }
    result = null;
    $("verdict").hidden = true;
    resetSteps();
    $("progress").hidden = false;
    $("progress").scrollIntoView({ block: "start" });
    follow(answer.events);
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    startCheck();
  });
  $("again").addEventListener("click", startCheck);
  $("use-suggested").addEventListener("click", () => {
    if (!result || !result.enter) return;
    const s = result.enter.raw;
    $("host").value = s.host;
    $("port").value = String(s.port);
    $("security").value = s.security;
    $("user").value = s.user;
    $("advanced").open = true;
    startCheck();
  });

  // -- a pasted error message ---------------------------------------------------
  const explainForm = $("explain-form");
  let explained = null; // the last explanation (its "host" prefills the check)

  function showExplainError(pair) {
    const box = $("explain-error");
    box.hidden = !pair;
    fill(box, pair);
    if (pair) $("paste").setAttribute("aria-invalid", "true");
    else $("paste").removeAttribute("aria-invalid");
  }

  function listOf(el, items, pairOf) {
    el.replaceChildren();
    for (const item of items) {
      const li = document.createElement("li");
      li.appendChild(bi(pairOf(item)));
      el.appendChild(li);
    }
  }

  function showExplanation(d) {
    explained = d;
    $("explained-client-row").hidden = !d.client_name;
    fill($("explained-client"), d.client_name);
    $("explained-unknown").hidden = !d.unknown;
    fill($("explained-unknown"), d.unknown);
    $("explained-cause-block").hidden = !d.title;
    fill($("explained-title"), d.title);
    fill($("explained-explanation"), d.explanation);
    listOf($("explained-candidates"), d.candidates, (c) => c.title);
    $("explained-candidates-block").hidden = d.candidates.length === 0;
    $("explained-check-block").hidden = !d.check;
    fill($("explained-check"), d.check);
    listOf($("explained-steps"), d.remedy, (step) => step);
    $("explained-fix-block").hidden = d.remedy.length === 0;
    $("explained-read-row").hidden = !d.read;
    $("explained-lines").textContent = d.read ? d.read.lines.join(", ") : "";
    $("explained-read").textContent = d.read ? d.read.text : "";
    $("explanation").hidden = false;
    $("explanation").focus();
  }

  explainForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showExplainError(null);
    try {
      const response = await fetch(explainForm.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(explainForm)),
        credentials: "same-origin",
        cache: "no-store",
      });
      const answer = await response.json();
      if (!response.ok) {
        showExplainError(answer.error || UI.error_generic);
        return;
      }
      showExplanation(answer);
    } catch (err) {
      showExplainError(UI.error_connection);
    }
  });

  // Start the check with the message in mind: the server it named goes into the form,
  // and the check starts once the address and password are there.
  $("explained-start").addEventListener("click", () => {
    if (explained && explained.host) {
      $("host").value = explained.host;
      $("advanced").open = true;
    }
    for (const id of ["email", "password"]) {
      if (!$(id).value) {
        $(id).scrollIntoView({ block: "center" });
        $(id).focus();
        return;
      }
    }
    startCheck();
  });

  // -- the run's events -------------------------------------------------------
  function follow(url) {
    if (source) source.close();
    source = new EventSource(url);
    source.addEventListener("settings", (ev) => showSettings(JSON.parse(ev.data)));
    source.addEventListener("finding", (ev) => showFinding(JSON.parse(ev.data)));
    source.addEventListener("done", (ev) => {
      finish();
      showVerdict(JSON.parse(ev.data));
    });
    source.addEventListener("failed", (ev) => {
      finish();
      const data = JSON.parse(ev.data);
      showError(data.message, data.field);
    });
    source.addEventListener("open", () => showError(null));
    source.onerror = () => {
      if (running) showError(UI.error_connection);
    };
  }

  function finish() {
    if (source) source.close();
    source = null;
    setRunning(false);
    for (const li of steps.querySelectorAll('[data-status="pending"]')) {
      li.dataset.status = "notrun";
      li.querySelector(".icon").textContent = ICON.notrun;
      fill(li.querySelector(".step-word"), UI.not_reached);
    }
  }

  function showSettings(data) {
    const list = $("settings-used-list");
    list.replaceChildren();
    for (const row of data.settings) {
      if (row.key === "password") continue;
      const dt = document.createElement("dt");
      dt.appendChild(bi(row.label));
      const dd = document.createElement("dd");
      dd.appendChild(bi(row.value));
      list.append(dt, dd);
    }
    fill($("settings-source"), data.source);
    const notes = $("settings-notes");
    notes.replaceChildren();
    for (const note of data.notes) {
      const li = document.createElement("li");
      li.appendChild(bi(note));
      notes.appendChild(li);
    }
    notes.hidden = data.notes.length === 0;
    $("settings-used").hidden = false;
  }

  function showFinding(f) {
    const li = steps.querySelector(`[data-stage="${f.stage}"]`);
    if (!li) return;
    const before = li.dataset.status;
    if (before === "pending") {
      // Completed steps stay in the order they ran (STARTTLS encrypts after the greeting).
      const firstPending = steps.querySelector('[data-status="pending"]');
      if (firstPending && firstPending !== li) steps.insertBefore(li, firstPending);
    }
    if (before === "pending" || RANK[f.status] > RANK[before]) {
      li.dataset.status = f.status;
      li.querySelector(".icon").textContent = ICON[f.status];
      fill(li.querySelector(".step-word"), f.status_word);
    }
    const title = document.createElement("span");
    title.className = "step-title";
    title.dataset.status = f.status;
    title.appendChild(bi(f.title));
    li.querySelector(".step-titles").appendChild(title);
  }

  function showVerdict(d) {
    result = d;
    const box = $("verdict");
    box.dataset.verdict = d.verdict;
    box.dataset.cause = d.cause || "";
    fill($("verdict-heading"), d.verdict_text);

    $("cause-block").hidden = !d.cause_title;
    fill($("cause-title"), d.cause_title);
    fill($("cause-explanation"), d.explanation);

    const fix = $("fix-steps");
    fix.replaceChildren();
    for (const step of d.remedy) {
      const li = document.createElement("li");
      li.appendChild(bi(step));
      fix.appendChild(li);
    }
    $("fix-block").hidden = d.remedy.length === 0;

    const enter = d.enter;
    $("enter-block").hidden = !enter;
    if (enter) {
      $("enter-block").dataset.kind = enter.kind;
      fill($("enter-heading"), enter.heading);
      const body = $("enter-table").tBodies[0];
      body.replaceChildren();
      for (const row of enter.rows) {
        const tr = document.createElement("tr");
        tr.dataset.key = row.key;
        const th = document.createElement("th");
        th.scope = "row";
        th.appendChild(bi(row.label));
        const td = document.createElement("td");
        td.appendChild(bi(row.value));
        if (row.changed) {
          tr.classList.add("changed");
          const mark = document.createElement("span");
          mark.className = "changed-mark";
          mark.appendChild(bi(enter.changed_word));
          td.append(" ", mark);
        }
        tr.append(th, td);
        body.appendChild(tr);
      }
      $("use-suggested").hidden = enter.kind !== "suggested";
    }
    $("report-text").value = d.report[lang];
    $("copy-status").replaceChildren();
    box.hidden = false;
    // Keyboard and screen-reader users land on the answer.
    $("verdict-heading").focus();
  }

  // -- support report -----------------------------------------------------------
  $("copy-report").addEventListener("click", async () => {
    if (!result) return;
    const text = result.report[lang];
    const status = $("copy-status");
    try {
      await navigator.clipboard.writeText(text);
      fill(status, UI.copied);
    } catch (err) {
      // No clipboard permission: let the user copy by hand.
      $("report-details").open = true;
      const area = $("report-text");
      area.focus();
      area.select();
      fill(status, document.execCommand && document.execCommand("copy") ? UI.copied : UI.copy_failed);
    }
  });

  setLang(lang);
  resetSteps();
})();
