// The review page: everything it shows comes from the JSON API under /api/ (the same API scripts use).
"use strict";

const token = document.querySelector('meta[name="review-token"]').content;
const state = { fragment: null, codes: [], chosen: [], option: 0, span: null, listed: [] };
const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const options = { headers: { "X-Review-Token": token } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) {
    throw new Error(data.error || response.statusText);
  }
  return data;
}

function say(message, isError) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", Boolean(isError));
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function fmt(value) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(2);
}

function showFragment(fragment) {
  state.fragment = fragment;
  state.span = fragment ? [fragment.start, fragment.end] : null;
  closeRecode();
  const meta = $("meta");
  const context = $("context");
  const rows = $("suggestions");
  meta.replaceChildren();
  context.replaceChildren();
  rows.replaceChildren();
  const buttons = ["accept", "reject", "recode", "skip"].map($);
  if (!fragment) {
    context.append(el("p", { class: "done" }, "Every fragment is decided. Thank you."));
    buttons.forEach((b) => { b.disabled = true; });
    return;
  }
  buttons.forEach((b) => { b.disabled = false; });
  const decided = fragment.decision
    ? el("span", { class: "pill decided" }, `decided: ${fragment.decision.action}` +
      (fragment.decision.codes.length ? ` (${fragment.decision.codes.join(", ")})` : ""))
    : null;
  meta.append(...[
    el("span", { class: `pill status-${fragment.status}` }, fragment.status),
    el("span", { class: "pill" }, fragment.codes.length ? fragment.codes.join(", ") : "no code"),
    el("span", { class: "muted" }, `${fragment.document} · ${fragment.speaker || "no speaker"} · ${fragment.fragment_id}`),
    el("span", { class: "pill drawn" }, fragment.drawn === "random" ? "random draw" : fragment.drawn),
    decided,
  ].filter(Boolean));
  renderContext();
  fragment.suggestions.forEach((s, index) => {
    const evidence = el("td", { class: "evidence" });
    if (s.exemplar) {
      evidence.append(el("q", {}, s.exemplar), el("span", { class: "muted" }, ` similarity ${fmt(s.exemplar_similarity)}`));
    }
    if (s.definition) evidence.append(el("div", { class: "definition" }, s.definition));
    const score = el("td", { class: s.above_threshold ? "score above" : "score" },
      el("span", { class: "num" }, fmt(s.score)), el("span", { class: "muted" }, ` / ${fmt(s.threshold)}`));
    const facet = (state.codes.find((c) => c.id === s.code) || {}).facet;
    const name = el("td", {}, el("strong", {}, s.name), facet ? el("span", { class: "facet" }, ` ${facet}`) : null,
      el("div", { class: "muted code-id" }, s.code));
    rows.append(el("tr", { class: fragment.codes.includes(s.code) ? "assigned" : "" },
      el("td", {}, index < 9 ? el("kbd", {}, String(index + 1)) : ""), name, score, evidence));
  });
  document.querySelector(".layout > .card").scrollTop = 0;
  $("context").querySelector(".turn.turn")?.scrollIntoView({ block: "nearest" });
  $("accept").focus({ preventScroll: true });
}

function renderContext() {
  const fragment = state.fragment;
  const context = $("context");
  context.replaceChildren();
  for (const turn of fragment.context) {
    const label = turn.role === "question" ? "question" : turn.role === "turn" ? "this turn" : turn.role;
    const body = el("div", { class: "text" });
    if (turn.highlight) {
      const offset = fragment.start - turn.highlight[0];
      const from = Math.max(0, state.span[0] - offset);
      const to = Math.min(turn.text.length, state.span[1] - offset);
      body.append(turn.text.slice(0, from), el("mark", {}, turn.text.slice(from, to)), turn.text.slice(to));
    } else {
      body.textContent = turn.text;
    }
    context.append(el("div", { class: `turn ${turn.role}` },
      el("div", { class: "speaker" }, `${turn.speaker || "(no speaker)"}`, el("span", { class: "muted" }, ` ${label}`)),
      body));
  }
}

async function refreshProgress() {
  const p = await api("/api/progress");
  const share = p.fragments ? p.decided / p.fragments : 0;
  $("overall-fill").style.width = `${(100 * share).toFixed(1)}%`;
  $("overall-bar").setAttribute("aria-valuenow", String(p.decided));
  $("overall-bar").setAttribute("aria-valuemax", String(p.fragments));
  $("overall-text").textContent = `${p.decided} of ${p.fragments} decided`;
  $("sample-size").textContent = String(p.sample);
  const rows = $("estimates");
  rows.replaceChildren();
  for (const c of p.codes) {
    const e = c.precision;
    const value = e.n ? `${fmt(e.value)} (${fmt(e.low)}–${fmt(e.high)}, n=${e.n})` : "no random draw yet";
    rows.append(el("tr", {}, el("td", {}, c.name), el("td", { class: "num" }, `${c.kept} / ${c.decided}`),
      el("td", {}, value)));
  }
  const m = p.missed;
  $("missed").textContent = m.n
    ? `Missed codes among uncoded fragments: ${fmt(m.value)} (${fmt(m.low)}–${fmt(m.high)}, n=${m.n})`
    : "Missed codes among uncoded fragments: no random draw yet";
  $("learning").textContent = (p.refitting ? "Learning from your decisions… " : "") +
    `Refitted ${p.refits} time${p.refits === 1 ? "" : "s"}` +
    (p.next_refit === null ? "" : `; next after ${p.next_refit} more decision${p.next_refit === 1 ? "" : "s"}`) +
    (p.notes.length ? `. ${p.notes.join(" ")}` : "");
  const documents = $("documents");
  documents.replaceChildren();
  for (const d of p.documents) {
    documents.append(el("li", {}, el("span", {}, d.document), el("span", { class: "num" }, `${d.decided} / ${d.fragments}`)));
  }
}

async function loadNext() {
  const data = await api("/api/next");
  showFragment(data.fragment);
  await refreshProgress();
}

async function decide(action, codes) {
  if (!state.fragment) return;
  const body = { fragment_id: state.fragment.key, action, codes: codes || [] };
  if (state.span[0] !== state.fragment.start || state.span[1] !== state.fragment.end) body.span = state.span;
  try {
    const data = await api("/api/decisions", body);
    say(`${action === "accept" ? "Accepted" : action === "reject" ? "Rejected" : "Recoded"} ${data.decision.fragment_id}` +
      (data.decision.codes.length ? `: ${data.decision.codes.join(", ")}` : ": no code"));
    showFragment(data.next);
    await refreshProgress();
  } catch (error) {
    say(error.message, true);
  }
}

async function skip() {
  if (!state.fragment) return;
  const data = await api("/api/skip", { fragment_id: state.fragment.key });
  say(`Skipped ${state.fragment.fragment_id}`);
  showFragment(data.next);
}

async function undo() {
  try {
    const data = await api("/api/undo", {});
    say(`Undone: ${data.fragment.fragment_id} is open again`);
    showFragment(data.fragment);
    await refreshProgress();
  } catch (error) {
    say(error.message, true);
  }
}

function widen(side) {
  const f = state.fragment;
  if (!f) return;
  if (side === "before" && f.sentence_before) state.span = [f.sentence_before[0], state.span[1]];
  else if (side === "after" && f.sentence_after) state.span = [state.span[0], f.sentence_after[1]];
  else if (side === "reset") state.span = [f.start, f.end];
  else {
    say(`There is no sentence ${side} this one in the same turn`, true);
    return;
  }
  say(side === "reset" ? "Span reset to the fragment" : `Span widened to the sentence ${side}`);
  renderContext();
}

// -- recode: type to search the codebook ---------------------------------------------------------
function openRecode(initial) {
  if (!state.fragment) return;
  state.chosen = initial ? [initial] : [];
  $("recode-panel").hidden = false;
  $("code-search").value = "";
  renderOptions();
  renderChosen();
  $("code-search").focus();
}

function closeRecode() {
  $("recode-panel").hidden = true;
}

function matching() {
  const query = $("code-search").value.trim().toLowerCase();
  return state.codes.filter((c) => !query || c.id.toLowerCase().includes(query) || c.name.toLowerCase().includes(query) ||
    (c.definition || "").toLowerCase().includes(query));
}

function renderOptions() {
  const list = $("code-options");
  const found = matching();
  state.option = Math.min(state.option, Math.max(0, found.length - 1));
  list.replaceChildren();
  found.forEach((c, index) => {
    const item = el("li", { role: "option", id: `option-${index}`, "aria-selected": String(index === state.option),
      class: state.chosen.includes(c.id) ? "picked" : "" },
      el("strong", {}, c.name), el("span", { class: "muted" }, ` ${c.id}${c.facet ? ` (${c.facet})` : ""}`));
    item.addEventListener("mousedown", (event) => { event.preventDefault(); toggle(c.id); });
    list.append(item);
  });
  $("code-search").setAttribute("aria-activedescendant", found.length ? `option-${state.option}` : "");
}

function renderChosen() {
  $("chosen-codes").textContent = state.chosen.length ? state.chosen.join(", ") : "none";
}

function toggle(code) {
  state.chosen = state.chosen.includes(code) ? state.chosen.filter((c) => c !== code) : [...state.chosen, code];
  renderOptions();
  renderChosen();
}

function saveRecode() {
  if (!state.chosen.length) {
    say("Choose at least one code (Enter adds the highlighted one), or reject", true);
    return;
  }
  const codes = state.chosen;
  closeRecode();
  decide("recode", codes);
}

$("code-search").addEventListener("input", () => { state.option = 0; renderOptions(); });
$("code-search").addEventListener("keydown", (event) => {
  const found = matching();
  if (event.key === "ArrowDown") { state.option = Math.min(found.length - 1, state.option + 1); renderOptions(); event.preventDefault(); }
  else if (event.key === "ArrowUp") { state.option = Math.max(0, state.option - 1); renderOptions(); event.preventDefault(); }
  else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { saveRecode(); event.preventDefault(); }
  else if (event.key === "Enter") {
    if (found[state.option]) { toggle(found[state.option].id); $("code-search").value = ""; state.option = 0; renderOptions(); }
    event.preventDefault();
  } else if (event.key === "Escape") { closeRecode(); $("recode").focus(); event.preventDefault(); }
  event.stopPropagation();
});
$("recode-save").addEventListener("click", saveRecode);
$("recode-cancel").addEventListener("click", () => { closeRecode(); $("recode").focus(); });

// -- filters and batch accept --------------------------------------------------------------------
async function showList(event) {
  if (event) event.preventDefault();
  const params = new URLSearchParams();
  for (const [name, value] of new FormData($("filters")).entries()) {
    if (value !== "") params.set(name, value);
  }
  params.set("limit", "200");
  try {
    const data = await api(`/api/fragments?${params}`);
    state.listed = data.fragments.map((f) => f.key);
    const list = $("list");
    list.replaceChildren();
    for (const f of data.fragments) {
      const open = el("button", { type: "button", class: "link" }, f.text);
      open.addEventListener("click", async () => {
        const chosen = await api(`/api/fragment?id=${encodeURIComponent(f.key)}`);
        showFragment(chosen.fragment);
      });
      list.append(el("li", {}, el("span", { class: `pill status-${f.status}` }, f.status),
        el("span", { class: "num" }, ` ${fmt(f.score)} `), el("span", { class: "muted" }, f.codes.join(", ") || "no code"), " ", open));
    }
    const shown = data.fragments.length;
    $("list-summary").textContent = `${data.total} pending fragment${data.total === 1 ? "" : "s"} match` +
      (shown < data.total ? `; the first ${shown} are listed` : "");
    $("batch-accept").disabled = shown === 0;
    $("batch-accept").textContent = `Accept all ${shown} listed`;
  } catch (error) {
    say(error.message, true);
  }
}

async function batchAccept() {
  if (!state.listed.length) return;
  const data = await api("/api/batch", { fragment_ids: state.listed });
  say(`Accepted ${data.accepted} fragments`);
  state.listed = [];
  $("list").replaceChildren();
  $("list-summary").textContent = "";
  $("batch-accept").disabled = true;
  $("batch-accept").textContent = "Accept all listed";
  showFragment(data.next);
  await refreshProgress();
}

$("filters").addEventListener("submit", showList);
$("batch-accept").addEventListener("click", batchAccept);

// -- buttons and keys ----------------------------------------------------------------------------
$("accept").addEventListener("click", () => decide("accept"));
$("reject").addEventListener("click", () => decide("reject"));
$("recode").addEventListener("click", () => openRecode());
$("skip").addEventListener("click", skip);
$("undo").addEventListener("click", undo);
$("help-button").addEventListener("click", () => {
  const help = $("help");
  help.hidden = !help.hidden;
  $("help-button").setAttribute("aria-expanded", String(!help.hidden));
});

document.addEventListener("keydown", (event) => {
  const target = event.target;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement;
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z" && !typing) { undo(); event.preventDefault(); return; }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  const handled = {
    a: () => decide("accept"), r: () => decide("reject"), c: () => openRecode(), s: skip, u: undo,
    f: () => $("filter-status").focus(), "[": () => widen("before"), "]": () => widen("after"), 0: () => widen("reset"),
    "?": () => $("help-button").click(),
  }[key.toLowerCase()];
  if (handled) { handled(); event.preventDefault(); return; }
  if (/^[1-9]$/.test(key) && state.fragment) {
    const s = state.fragment.suggestions[Number(key) - 1];
    if (s) { decide("recode", [s.code]); event.preventDefault(); }
  }
});

async function start() {
  const book = await api("/api/codebook");
  state.codes = book.codes;
  const add = (select, values) => values.forEach((v) => select.append(el("option", { value: v.id || v }, v.name || v)));
  add($("filter-code"), book.codes);
  add($("filter-document"), book.documents);
  add($("filter-speaker"), book.speakers);
  await loadNext();
  setInterval(() => { refreshProgress().catch(() => {}); }, 5000);
}

start().catch((error) => say(error.message, true));
