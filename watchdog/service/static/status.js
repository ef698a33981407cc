// The status page: reads /api/v1/status, acknowledges incidents through the API.
// Same origin as the API, so its writes pass the API's cross-site rules; a configured token is
// asked for once and kept in sessionStorage (this tab only), never in the page or a cookie.
"use strict";

const TOKEN_KEY = "shop-watchdog-token";
const BY_KEY = "shop-watchdog-by";
const REFRESH_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";
// Timelines the admin opened stay open across the 5-second re-render, shown from the last
// answer while a fresh one is fetched.
const openTimelines = new Set();
const timelines = new Map();

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function fill(list, items, render, emptyText) {
  list.replaceChildren();
  if (!items.length) {
    list.append(el("li", "empty", emptyText));
    return;
  }
  for (const item of items) list.append(render(item));
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

function count(n, noun) {
  return n + " " + noun + (n === 1 ? "" : "s");
}

function badge(status) {
  const known = ["OK", "WARNING", "CRITICAL", "UNKNOWN"].includes(status) ? status : "UNKNOWN";
  return el("span", "badge " + known, status);
}

function sparkline(history) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 30 10");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  const points = history.slice(-30);
  const statuses = points.map((p) => p.status);
  svg.setAttribute("aria-label", "last results: " + (statuses.join(", ") || "none yet"));
  points.forEach((point, index) => {
    const bar = document.createElementNS(SVG, "rect");
    const ok = point.status === "OK";
    bar.setAttribute("x", String(30 - points.length + index));
    bar.setAttribute("y", ok ? "4" : "0");
    bar.setAttribute("width", "0.8");
    bar.setAttribute("height", ok ? "6" : "10");
    bar.setAttribute("class", ["OK", "WARNING", "CRITICAL"].includes(point.status) ? point.status : "UNKNOWN");
    const title = document.createElementNS(SVG, "title");
    title.textContent = point.status + " at " + when(point.at);
    bar.append(title);
    svg.append(bar);
  });
  return svg;
}

function renderCheck(check) {
  const item = el("li");
  item.dataset.check = check.name;
  const row = el("div", "row");
  row.append(badge(check.status), el("span", "name", check.name), el("span", "muted", check.type));
  if (Array.isArray(check.history)) row.append(sparkline(check.history));
  item.append(row);
  const since = check.pending ? "not run yet" : "since " + when(check.since);
  item.append(el("div", "detail", check.message), el("div", "detail muted", since + (check.last_run ? " · last run " + when(check.last_run) : "")));
  return item;
}

function renderIncident(incident) {
  const item = el("li");
  item.dataset.incident = incident.id;
  const row = el("div", "row");
  row.append(
    el("span", "badge " + (incident.severity === "critical" ? "CRITICAL" : "WARNING"), incident.severity),
    el("span", "name", incident.check),
    el("span", "badge state " + incident.state, incident.state),
  );
  item.append(row);
  if (incident.summary) item.append(el("div", "detail", incident.summary));
  const facts = ["opened " + when(incident.opened_at), "id " + incident.id];
  if (incident.acked_by) facts.push("acknowledged by " + incident.acked_by);
  if (incident.silenced_until) facts.push("silenced until " + when(incident.silenced_until));
  if (incident.paged_channels && incident.paged_channels.length) facts.push("paged: " + incident.paged_channels.join(", "));
  item.append(el("div", "detail muted", facts.join(" · ")));
  item.append(timelineOf(incident.id));
  if (incident.state !== "acknowledged") {
    const button = el("button", "ack", "Acknowledge");
    button.type = "button";
    button.addEventListener("click", () => acknowledge(incident.id, button));
    item.append(button);
  }
  return item;
}

function renderEntry(entry) {
  const item = el("li");
  item.append(el("span", "muted", when(entry.at)), el("span", "kind", entry.kind), el("span", "", entry.text));
  return item;
}

async function loadTimeline(id, list) {
  try {
    const response = await fetch("/api/v1/incidents/" + encodeURIComponent(id), { cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error("answered " + response.status);
    const detail = await response.json();
    timelines.set(id, Array.isArray(detail.timeline) ? detail.timeline : []);
    fill(list, timelines.get(id), renderEntry, "Nothing recorded yet.");
  } catch (error) {
    problem("Cannot read the timeline of " + id + ": " + error.message);
  }
}

function timelineOf(id) {
  const details = el("details", "timeline");
  const list = el("ol", "entries");
  details.append(el("summary", "", "Timeline"), list);
  if (openTimelines.has(id)) {
    if (timelines.has(id)) fill(list, timelines.get(id), renderEntry, "Nothing recorded yet.");
    details.open = true; // its toggle event fetches the fresh timeline
  }
  details.addEventListener("toggle", () => {
    if (!details.open) {
      openTimelines.delete(id);
      return;
    }
    openTimelines.add(id);
    loadTimeline(id, list);
  });
  return details;
}

function renderSilence(silence) {
  const item = el("li");
  const row = el("div", "row");
  row.append(el("span", "name", silence.check), el("span", "muted", "until " + when(silence.until)));
  item.append(row, el("div", "detail", silence.reason));
  item.append(el("div", "detail muted", "by " + silence.created_by + " · " + when(silence.created_at) + " · id " + silence.id));
  return item;
}

function renderRepair(repair) {
  const item = el("li");
  const row = el("div", "row");
  row.append(el("span", "badge OK", "repaired"), el("span", "name", repair.check), el("span", "muted", when(repair.closed_at)));
  item.append(row);
  if (repair.summary) item.append(el("div", "detail", repair.summary));
  return item;
}

function renderBacklog([channel, backlog]) {
  const item = el("li");
  item.append(el("span", "name", channel), el("span", "muted", " " + backlog.pending + " pending, " + backlog.attempts + " attempts"));
  if (backlog.last_error) item.append(el("div", "detail", backlog.last_error));
  return item;
}

function render(status) {
  document.getElementById("host").textContent = status.host;
  document.title = status.host + " · shop-watchdog";
  const failing = status.checks.filter((c) => c.status !== "OK" && !c.pending).length;
  const parts = [count(status.checks.length, "check"), failing + " failing", count(status.incidents.length, "incident") + " open"];
  if (status.version) parts.push("shop-watchdog " + status.version);
  if (status.healthy === false) parts.push("MAIN LOOP STALLED");
  document.getElementById("summary").textContent = parts.join(" · ");
  fill(document.getElementById("incidents"), status.incidents, renderIncident, "No open incidents.");
  fill(document.getElementById("checks"), status.checks, renderCheck, "No checks configured.");
  const silences = Array.isArray(status.silences) ? status.silences : null;
  document.getElementById("silences-section").hidden = silences === null;
  if (silences) fill(document.getElementById("silences"), silences, renderSilence, "No active silences.");
  const repairs = Array.isArray(status.recent_repairs) ? status.recent_repairs : [];
  fill(document.getElementById("repairs"), repairs, renderRepair, "No auto-repairs in the last 24 hours.");
  const outbox = status.outbox || { pending: 0, failed: 0 };
  const summary = [outbox.pending + " pending", outbox.failed + " failed"];
  if (typeof outbox.delivered === "number") summary.push(outbox.delivered + " delivered");
  if (outbox.oldest_pending_at) summary.push("oldest waiting since " + when(outbox.oldest_pending_at));
  document.getElementById("outbox").textContent = summary.join(" · ");
  fill(document.getElementById("backlog"), Object.entries(outbox.channels || {}), renderBacklog, "Nothing waiting.");
}

function problem(text) {
  const box = document.getElementById("problem");
  box.textContent = text || "";
  box.hidden = !text;
}

async function refresh() {
  try {
    const response = await fetch("/api/v1/status", { cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error("status answered " + response.status);
    render(await response.json());
    problem("");
  } catch (error) {
    problem("Cannot read the daemon's status: " + error.message);
  }
}

function askForToken() {
  return new Promise((resolve) => {
    const form = document.getElementById("token-form");
    const input = document.getElementById("token");
    form.hidden = false;
    input.focus();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      input.value = "";
      form.hidden = true;
      resolve();
    }, { once: true });
  });
}

async function acknowledge(id, button) {
  button.disabled = true;
  const by = document.getElementById("by").value.trim() || "status page";
  sessionStorage.setItem(BY_KEY, by);
  for (;;) {
    const headers = { "Content-Type": "application/json" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    const response = await fetch("/api/v1/incidents/" + encodeURIComponent(id) + "/ack", {
      method: "POST", headers, body: JSON.stringify({ by }), cache: "no-store",
    });
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      await askForToken();
      continue;
    }
    if (!response.ok) {
      const answer = await response.json().catch(() => ({}));
      problem("Acknowledging " + id + " failed: " + (answer.error || response.status));
    }
    break;
  }
  await refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("by").value = sessionStorage.getItem(BY_KEY) || "";
  refresh();
  setInterval(refresh, REFRESH_MS);
});
