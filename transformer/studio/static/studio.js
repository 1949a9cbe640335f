// transformer studio: the page's behaviour. No framework and nothing from the network: the server
// (transformer/studio/app.py) answers every question; this file only shows its answers.
"use strict";

const $ = (id) => document.getElementById(id);
const LINE_PX = 18;  // the editor's line height (studio.css): where a line sits, to scroll to it
const drafts = {};  // file name -> text being edited (kept across file switches until saved)
let state = null;
let currentFile = null;
let lastInput = null;  // the event, settings and answers of the last run: a field's trace asks with them
let shownField = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function say(text, bad) {
  $("status").textContent = text;
  $("status").className = bad ? "bad" : "";
}

async function api(method, url, body) {
  const options = {method, headers: {}};
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

// -- the editor ------------------------------------------------------------------------------

function renderGutter(marked) {
  const count = $("editor").value.split("\n").length;
  const bad = new Set((state ? state.problems : []).filter((p) => p.file === currentFile).map((p) => p.line));
  const gutter = $("gutter");
  gutter.replaceChildren(...Array.from({length: count}, (_, i) => el("div", {
    class: (bad.has(i + 1) ? "problem " : "") + (marked === i + 1 ? "here" : ""), "data-line": i + 1}, i + 1)));
  gutter.scrollTop = $("editor").scrollTop;
}

async function openFile(name) {
  if (currentFile !== null) drafts[currentFile] = $("editor").value;
  if (!(name in drafts)) drafts[name] = (await api("GET", "/api/file?name=" + encodeURIComponent(name))).text;
  currentFile = name;
  $("file").value = name;
  $("editor").value = drafts[name];
  renderGutter();
}

// Put the caret on ``line`` of ``file`` (a name as explain gives it: the file's base name).
async function jump(file, line) {
  const name = state.files.find((f) => f === file || f.endsWith("/" + file)) || file;
  await openFile(name);
  const editor = $("editor");
  const lines = editor.value.split("\n");
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
  editor.focus();
  editor.setSelectionRange(start, start + (lines[line - 1] || "").length);
  editor.scrollTop = Math.max(0, (line - 4) * LINE_PX);
  renderGutter(line);
  say(`${name}:${line}`);
}

async function save() {
  if (currentFile === null) return;
  const text = $("editor").value;
  try {
    state = await api("PUT", "/api/file", {name: currentFile, text});
  } catch (error) {
    say(`not saved: ${error.message}`, true);
    return;
  }
  drafts[currentFile] = text;
  renderProblems();
  renderFixtures();
  renderGutter();
  if (state.problems.length) {
    const first = state.problems.find((p) => p.line) || state.problems[0];
    await jump(first.file, first.line || 1);
    say(`saved ${currentFile}, but it does not load (${state.problems.length} problem(s)): the last good version keeps serving`, true);
    return;
  }
  const failing = state.fixtures.filter((f) => f.status !== "pass").length;
  say(`saved ${currentFile}; ${failing ? failing + " fixture(s) failing" : "every fixture passes"}`, failing > 0);
  await run();
}

function sourceLink(file, line) {
  return el("button", {type: "button", class: "loc", onclick: () => jump(file, line || 1)}, `${file}:${line ?? "?"}`);
}

function renderProblems() {
  $("problems").replaceChildren(...state.problems.map((p) =>
    el("li", {class: "problem"}, sourceLink(p.file, p.line), " ", p.path ? p.path + ": " : "", p.message)));
}

// -- the event and its request ---------------------------------------------------------------

function parsed(id, label) {
  try {
    return JSON.parse($(id).value || "null");
  } catch (error) {
    throw new Error(`${label} is not JSON: ${error.message}`);
  }
}

async function run() {
  let input;
  try {
    input = {event: parsed("event", "the event"), settings: parsed("settings", "the settings"),
             lookups: parsed("lookups", "the look-up answers") || {}};
  } catch (error) {
    say(error.message, true);
    return;
  }
  let result;
  try {
    result = await api("POST", "/api/explain", input);
  } catch (error) {
    say(error.message, true);
    return;
  }
  lastInput = input;
  renderRequest(result);
  if (shownField !== null) await trace(shownField);
}

// A request path (["body", "JSON", "user", "id"]) as explain names the field ("body.user.id").
function fieldName(path) {
  return (path[0] === "body" && path[1] === "JSON" ? ["body", ...path.slice(2)] : path).join(".");
}

function tree(value, path) {
  if (value === null || typeof value !== "object" || Object.keys(value).length === 0) {
    return el("span", {class: "value"}, JSON.stringify(value));
  }
  const list = el("ul", {class: "tree"});
  for (const [key, item] of Object.entries(value)) {
    const here = [...path, key];
    const isField = here[0] !== "body" || here.length > 2;
    const label = isField
      ? el("button", {type: "button", class: "field", "data-field": fieldName(here), onclick: () => trace(fieldName(here))}, key)
      : el("span", {class: "key"}, key);
    list.append(el("li", {}, label, ": ", tree(item, here)));
  }
  return list;
}

function renderRequest(result) {
  const pane = $("request");
  const parts = [];
  if (result.error) {
    parts.push(el("p", {class: "bad"}, `error ${result.error.status_code}: ${result.error.message}`));
  } else {
    parts.push(tree(result.request, []));
  }
  const missing = result.fields.filter((f) => f.result !== "sent");
  if (missing.length) {
    parts.push(el("p", {}, "Not sent: ", ...missing.map((f) =>
      el("button", {type: "button", class: "field left-out", "data-field": f.field, onclick: () => trace(f.field)},
         `${f.field} (${f.result})`))));
  }
  for (const asked of result.lookups) parts.push(el("p", {class: "lookup"}, `look-up ${asked.kind}: ${asked.request} -> ${asked.status}`));
  pane.replaceChildren(...parts);
}

async function trace(field) {
  shownField = field;
  if (lastInput === null) return;
  let answer;
  try {
    answer = await api("POST", "/api/explain", {...lastInput, field});
  } catch (error) {
    say(error.message, true);
    return;
  }
  for (const button of document.querySelectorAll("button.field")) {
    button.classList.toggle("chosen", button.dataset.field === field);
  }
  const entry = answer.trace;
  const pane = $("trace");
  if (entry === null) {
    pane.replaceChildren(el("p", {}, el("code", {}, field), ": no rule of the mapping gave it (the engine's own part of every request)."));
    return;
  }
  const head = entry.result === "sent" ? `${entry.field} = ${JSON.stringify(entry.value)}` : `${entry.field}: ${entry.result}`;
  pane.replaceChildren(
    el("h3", {}, head),
    el("p", {}, "rule ", el("code", {}, entry.rule), " at ", sourceLink(entry.file, entry.line)),
    el("pre", {class: "spec"}, entry.spec),
    entry.source && entry.source.length ? el("p", {}, "from ", entry.source.join(", ")) : "",
    entry.why && entry.why !== "gave nothing" ? el("p", {}, entry.why) : "",
    el("h4", {}, "Tried"),
    triedList(entry.tried));
}

function triedList(tried) {
  if (!tried.length) return el("p", {class: "hint"}, "nothing else");
  return el("ul", {class: "tried"}, ...tried.map((step) => {
    const item = el("li");
    item.style.marginLeft = `${step.depth * 1.2}em`;  // (a style attribute would break the page's CSP)
    if ("rule" in step) item.append(step.rule, " ", sourceLink(step.file, step.line), " ", el("code", {}, step.spec), ": ", step.result);
    else if ("condition" in step) item.append("when ", el("code", {}, step.condition), " ", sourceLink(step.file, step.line), ": ", String(step.result));
    else item.append("path ", el("code", {}, step.path), ": ", step.result);
    if (/skipped|gave nothing|missing|null|empty|false/.test(String(step.result))) item.className = "skipped";
    return item;
  }));
}

// -- fixtures --------------------------------------------------------------------------------

function renderFixtures() {
  const counts = {pass: 0, fail: 0, error: 0};
  for (const f of state.fixtures) counts[f.status] += 1;
  $("counts").textContent = `${counts.pass} pass, ${counts.fail} fail` + (counts.error ? `, ${counts.error} error` : "");
  // Failing first: with a hundred fixtures, the ones that need a look are at the top.
  const order = {fail: 0, error: 1, pass: 2};
  const sorted = [...state.fixtures].sort((a, b) => order[a.status] - order[b.status]);
  $("fixtures").replaceChildren(...sorted.map((f) => el("li", {},
    el("button", {type: "button", class: "fx " + f.status, "data-name": f.name, onclick: () => showFixture(f.name)},
       `${f.status === "pass" ? "✓" : "✗"} ${f.title}`))));
  const pick = $("pick");
  const chosen = pick.value;
  pick.replaceChildren(el("option", {value: ""}, "(type or paste below)"),
    ...state.fixtures.map((f) => el("option", {value: f.name}, f.title)));
  pick.value = chosen;
}

async function showFixture(name) {
  let detail;
  try {
    detail = await api("GET", "/api/fixture?name=" + encodeURIComponent(name));
  } catch (error) {
    say(error.message, true);
    return;
  }
  const parts = [el("h3", {}, `${detail.title} `, el("small", {}, detail.name)),
                 el("p", {class: detail.status}, detail.status + (detail.message ? ": " + detail.message : ""))];
  const actions = el("div", {class: "bar"});
  if (detail.event !== null && detail.event !== undefined) {
    actions.append(el("button", {type: "button", onclick: () => useFixture(detail)}, "Use its event"));
  }
  if (detail.status === "fail") {
    actions.append(el("button", {type: "button", id: "accept", onclick: () => accept(name)}, "Accept actual as expected"));
  }
  parts.push(actions);
  if (detail.diff.length) {
    parts.push(el("pre", {class: "diff", "aria-label": "expected versus actual"}, ...detail.diff.map((line) =>
      el("span", {class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : ""}, line + "\n"))));
  }
  $("fixture").replaceChildren(...parts);
  $("fixture").scrollIntoView({block: "nearest"});
}

function useFixture(detail) {
  $("event").value = JSON.stringify(detail.event, null, 2);
  $("settings").value = JSON.stringify(detail.settings, null, 2);
  $("lookups").value = JSON.stringify(detail.lookups, null, 2);
  $("pick").value = detail.name;
  return run();
}

async function accept(name) {
  try {
    state = await api("POST", "/api/accept", {name});
  } catch (error) {
    say(`not accepted: ${error.message}`, true);
    return;
  }
  renderFixtures();
  say(`accepted: ${name} now expects what the mappings give`);
  await showFixture(name);
}

// The first passing fixture's event, if one has an event (not inputs): something that runs at once.
async function startingEvent() {
  const first = state.fixtures.find((f) => f.status === "pass");
  const detail = first ? await api("GET", "/api/fixture?name=" + encodeURIComponent(first.name)) : null;
  if (detail && detail.event !== null && detail.event !== undefined) await useFixture(detail);
  else await run();
}

// -- start -----------------------------------------------------------------------------------

async function start() {
  state = await api("GET", "/api/state");
  $("destination").textContent = `— ${state.destination} (${state.folder})`;
  $("file").replaceChildren(...state.files.map((f) => el("option", {value: f}, f)));
  $("file").addEventListener("change", () => openFile($("file").value));
  $("save").addEventListener("click", save);
  $("run").addEventListener("click", run);
  $("pick").addEventListener("change", async () => {
    if ($("pick").value) useFixture(await api("GET", "/api/fixture?name=" + encodeURIComponent($("pick").value)));
  });
  for (const id of ["event", "settings", "lookups"]) $(id).addEventListener("input", () => { $("pick").value = ""; });
  const editor = $("editor");
  editor.addEventListener("input", () => renderGutter());
  editor.addEventListener("scroll", () => { $("gutter").scrollTop = editor.scrollTop; });
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
      event.preventDefault();
      save();
    } else if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      run();
    }
  });
  renderProblems();
  renderFixtures();
  await openFile(state.files.includes("destination.yaml") ? "destination.yaml" : state.files[0]);
  await startingEvent();
  document.body.dataset.ready = "true";
  say(`${state.destination}: ${state.files.length} mapping files, ${state.fixtures.length} fixtures`);
}

start().catch((error) => say(`the studio did not start: ${error.message}`, true));
