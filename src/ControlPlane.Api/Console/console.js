// The read-only console: everything it shows comes from the REST API with the key the person gave
// (kept in this tab's session storage, or handed over as /console#key=...). No build step.
"use strict";

const KEY = "controlplane-key";
const REFRESH_MS = 5000;
const COLORS = ["#2f6fb3", "#d9822b", "#3a9a5b", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d"];
let selected = null; // { kind: "group" | "cluster", id }
let timer = null;

const $ = id => document.getElementById(id);

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    // Styles through the CSSOM: the page's Content-Security-Policy refuses style attributes.
    if (name === "style") node.style.cssText = value;
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + sessionStorage.getItem(KEY) } });
  if (response.status === 401) {
    sessionStorage.removeItem(KEY);
    showLogin("The key was not accepted.");
    throw new Error("unauthorized");
  }
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

function showLogin(message) {
  clearTimeout(timer);
  $("main").hidden = true;
  $("forget").hidden = true;
  $("login").hidden = false;
  showError(message);
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

function status(text) {
  return el("span", { class: "status " + text }, text);
}

function renderList(list, items, kind) {
  list.replaceChildren(...items.map(item => {
    const li = el("li", { "data-id": item.id, class: selected && selected.kind === kind && selected.id === item.id ? "selected" : null },
      el("span", {}, item.id), status(item.status));
    li.addEventListener("click", () => { selected = { kind, id: item.id }; refresh(); });
    return li;
  }));
  if (items.length === 0) list.replaceChildren(el("li", { class: "muted" }, "none"));
}

function latest(series, node, name) {
  const s = series.find(x => x.nodeId === node && x.name === name);
  return s && s.points.length ? s.points[s.points.length - 1].value : null;
}

function nodeCard(node, role, series) {
  const memory = latest(series, node.id, "database_memory_usage_percentage");
  const percent = memory === null ? 0 : Math.min(100, memory);
  const card = el("div", { class: "node " + (role || ""), "data-node": node.id, "data-role": role, "data-status": node.status },
    el("div", {}, el("span", { class: "id" }, node.id), " ", role ? el("span", { class: "role " + role }, role) : null),
    el("div", {}, status(node.status), node.endpoint ? el("span", { class: "muted" }, ` :${node.endpoint.port}`) : null),
    el("div", { class: "bar", title: memory === null ? "memory: no reading yet" : `memory ${memory.toFixed(1)}% of maxmemory` },
      el("span", { class: percent > 90 ? "full" : percent > 75 ? "high" : null, style: `width:${percent}%` })),
    el("div", { class: "muted" }, memory === null ? "memory: -" : `memory ${memory.toFixed(1)}%`));
  return card;
}

function renderGrid(resource, kind, zones, series) {
  const rows = kind === "group"
    ? resource.shards.map(shard => ({ label: `shard ${shard.id}`, detail: shard.slots, nodes: shard.nodes }))
    : [{ label: "nodes", detail: "", nodes: resource.nodes }];
  const header = el("tr", {}, el("th", {}, ""), zones.map(z => el("th", {}, z)));
  const body = rows.map(row => el("tr", { "data-shard": row.label },
    el("th", {}, row.label, el("div", { class: "muted" }, row.detail)),
    zones.map(zone => el("td", { "data-zone": zone },
      row.nodes.filter(n => n.availabilityZone === zone).map(n => nodeCard(n, n.role, series))))));
  $("grid").replaceChildren(header, ...body);
}

function renderSummary(resource, kind) {
  const endpoint = resource.primaryEndpoint || resource.configurationEndpoint;
  $("summary").replaceChildren(
    el("h2", { "data-resource": resource.id }, resource.id, " ", status(resource.status)),
    el("div", { class: "muted" }, `${resource.engine} ${resource.engineVersion} · ${resource.nodeType}`,
      kind === "group" ? ` · cluster mode ${resource.clusterMode} · ${resource.numShards} shard(s) × ${resource.replicasPerShard + 1} node(s)` : ` · ${resource.numNodes} node(s)`,
      endpoint ? ` · endpoint ${endpoint.host}:${endpoint.port}` : ""));
}

function chart(svg, series, name, nodes) {
  const width = 420, height = 140, left = 46, bottom = 16;
  const lines = nodes.map(node => series.find(s => s.nodeId === node && s.name === name)).filter(Boolean);
  const points = lines.flatMap(s => s.points);
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  const add = (tag, attributes, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  add("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#c9d1da" });
  if (points.length === 0) {
    add("text", { x: left + 10, y: height / 2 }, "no data yet: the collector reads nodes every 15 s");
    return;
  }
  const times = points.map(p => Date.parse(p.time));
  const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 60000);
  const max = Math.max(...points.map(p => p.value), 1);
  add("text", { x: 2, y: 10 }, formatNumber(max));
  add("text", { x: 2, y: height - bottom }, "0");
  add("text", { x: left, y: height - 2 }, new Date(t0).toISOString().slice(11, 16));
  add("text", { x: width - 30, y: height - 2 }, new Date(t1).toISOString().slice(11, 16));
  lines.forEach(line => {
    const color = COLORS[nodes.indexOf(line.nodeId) % COLORS.length];
    const coordinates = line.points.map(p => {
      const x = left + (Date.parse(p.time) - t0) / (t1 - t0) * (width - left - 4);
      const y = height - bottom - p.value / max * (height - bottom - 14);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    add("polyline", { points: coordinates.join(" "), fill: "none", stroke: color, "stroke-width": 1.5, "data-node": line.nodeId });
    for (const point of coordinates) {
      const [cx, cy] = point.split(",");
      add("circle", { cx, cy, r: 2, fill: color });
    }
  });
}

function formatNumber(value) {
  if (value >= 1e9) return (value / 1e9).toFixed(1) + "G";
  if (value >= 1e6) return (value / 1e6).toFixed(1) + "M";
  if (value >= 1e3) return (value / 1e3).toFixed(1) + "k";
  return value.toFixed(value < 10 ? 1 : 0);
}

function renderEvents(events) {
  $("events").replaceChildren(...events.map(e => el("li", {},
    el("time", { datetime: e.time }, new Date(e.time).toISOString().replace("T", " ").slice(0, 19) + " · " + e.sourceId), e.message)));
  if (events.length === 0) $("events").replaceChildren(el("li", { class: "muted" }, "no events in the last hour"));
}

async function refresh() {
  clearTimeout(timer);
  try {
    const [groups, clusters, zones, events] = await Promise.all([
      api("/v1/replication-groups"), api("/v1/cache-clusters"), api("/v1/availability-zones"), api("/v1/events?limit=25")]);
    if (!selected || ![...groups.items.map(g => "group:" + g.id), ...clusters.items.map(c => "cluster:" + c.id)].includes(selected.kind + ":" + selected.id)) {
      selected = groups.items.length ? { kind: "group", id: groups.items[0].id } : clusters.items.length ? { kind: "cluster", id: clusters.items[0].id } : null;
    }
    renderList($("groups"), groups.items, "group");
    renderList($("clusters"), clusters.items, "cluster");
    $("zones").replaceChildren(...zones.map(z => el("li", { "data-zone": z.name }, el("span", {}, z.name), status(z.status))));
    renderEvents(events.items);
    $("detail").hidden = !selected;
    if (selected) {
      const resource = (selected.kind === "group" ? groups : clusters).items.find(r => r.id === selected.id);
      const base = (selected.kind === "group" ? "/v1/replication-groups/" : "/v1/cache-clusters/") + encodeURIComponent(resource.id);
      const names = ["operations_per_second", "bytes_used_for_cache", "database_memory_usage_percentage"];
      const series = (await Promise.all(names.map(name => api(`${base}/metrics?name=${name}`)))).flatMap(answer => answer.series);
      const nodes = selected.kind === "group" ? resource.shards.flatMap(s => s.nodes.map(n => n.id)) : resource.nodes.map(n => n.id);
      renderSummary(resource, selected.kind);
      renderGrid(resource, selected.kind, zones.map(z => z.name), series);
      chart($("ops-chart"), series, "operations_per_second", nodes);
      chart($("memory-chart"), series, "bytes_used_for_cache", nodes);
      $("legend").replaceChildren(...nodes.map((n, i) => el("span", { style: `color:${COLORS[i % COLORS.length]}` }, "■ " + n)));
    }
    $("refreshed").textContent = "refreshed " + new Date().toISOString().slice(11, 19) + " UTC";
    showError("");
  } catch (error) {
    if (error.message === "unauthorized") return;
    showError("Refresh failed: " + error.message);
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

function start() {
  $("login").hidden = true;
  $("main").hidden = false;
  $("forget").hidden = false;
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  const handed = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (handed) {
    sessionStorage.setItem(KEY, decodeURIComponent(handed[1]));
    history.replaceState(null, "", location.pathname); // the key leaves the address bar and the history
  }
  $("login").addEventListener("submit", event => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("key").value.trim());
    $("key").value = "";
    start();
  });
  $("forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); showLogin(""); });
  if (sessionStorage.getItem(KEY)) start(); else showLogin("");
});
