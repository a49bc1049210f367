/* dagc report page. Reads the JSON in #dagc-data, lays the graph out with dagre, draws it as SVG.
   Everything user-supplied is inserted with textContent / setAttribute, never as HTML. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("dagc-data").textContent);
  var M = D.manifest, RUN = D.run, HAS_RUN = !!RUN;
  var SVGNS = "http://www.w3.org/2000/svg";
  var ROOT = "__root__";
  var STATE = {
    SUCCEEDED: { label: "succeeded", icon: "\u2713", color: "#1e8e3e", bg: "#e6f4ea" },
    FAILED: { label: "failed", icon: "\u2715", color: "#d93025", bg: "#fce8e6" },
    SKIPPED: { label: "skipped", icon: "\u21b7", color: "#80868b", bg: "#eef0f2" },
    CANCELLED: { label: "cancelled", icon: "\u2298", color: "#e37400", bg: "#fef3e0" },
    NOT_EXECUTED: { label: "not run", icon: "\u25cb", color: "#9aa0a6", bg: "#ffffff" },
    EXECUTING: { label: "running", icon: "\u25b6", color: "#1a73e8", bg: "#e8f0fe" },
    SCHEDULED: { label: "scheduled", icon: "\u2026", color: "#1a73e8", bg: "#e8f0fe" },
    PIPELINE: { label: "", icon: "", color: "#5f6368", bg: "#ffffff" }
  };
  var LEGEND_ORDER = ["SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED", "NOT_EXECUTED", "EXECUTING", "SCHEDULED"];

  // ---------- helpers ----------
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sv(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmtDur(s) {
    if (s === null || s === undefined) return "";
    if (s < 1) return (Math.round(s * 1000)) + " ms";
    if (s < 60) return (s < 10 ? s.toFixed(2) : s.toFixed(1)) + " s";
    var m = Math.floor(s / 60), sec = Math.round(s - m * 60);
    if (s < 3600) return m + "m " + (sec < 10 ? "0" : "") + sec + "s";
    var h = Math.floor(m / 60), mm = m - h * 60;
    return h + "h " + (mm < 10 ? "0" : "") + mm + "m";
  }
  function fmtTick(s) {
    if (s < 60) return (Math.round(s * 10) / 10) + "s";
    return fmtDur(s);
  }
  function fmtTime(t) {
    if (t === null || t === undefined) return "";
    return new Date(t * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }
  function pretty(text) {
    if (text === null || text === undefined) return "";
    try { var v = JSON.parse(text); return typeof v === "string" ? v : JSON.stringify(v, null, 2); }
    catch (e) { return String(text); }
  }
  function json(v) { return typeof v === "string" ? v : JSON.stringify(v, null, 2); }
  function isEmpty(v) {
    return v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length) ||
      (typeof v === "object" && !Array.isArray(v) && !Object.keys(v).length);
  }

  // ---------- the merged task model ----------
  var tasks = [], byName = {};
  M.tasks.forEach(function (m) { var t = { name: m.name, m: m, r: null }; tasks.push(t); byName[m.name] = t; });
  if (HAS_RUN) RUN.tasks.forEach(function (r) {
    if (!byName[r.name]) { var t = { name: r.name, m: null, r: r }; tasks.push(t); byName[r.name] = t; }
    else byName[r.name].r = r;
  });
  tasks.forEach(function (t) {
    t.state = HAS_RUN ? (t.r ? t.r.state : "NOT_EXECUTED") : "PIPELINE";
    t.preds = t.m ? t.m.after.slice() : [];
    t.succs = [];
  });
  tasks.forEach(function (t) { t.preds.forEach(function (p) { if (byName[p]) byName[p].succs.push(t.name); }); });
  function kindLabel(t) {
    if (!t.m) return "not in this pipeline";
    var k = t.m.kind === "sql" ? "sql" : (t.m.step || t.m.kind);
    if (t.m.kind === "branch") k = "branch \u00b7 " + k;
    if (t.m.is_finalizer) k = "finally \u00b7 " + k;
    return k;
  }

  // ---------- header ----------
  $("title").textContent = M.pipeline + (HAS_RUN ? "" : " (pipeline)");
  var rs = $("run-state");
  if (HAS_RUN) { rs.textContent = (STATE[RUN.state] || STATE.NOT_EXECUTED).label; rs.className = "badge st-" + RUN.state; }
  else { rs.textContent = "compiled graph, no run"; rs.className = "badge st-PIPELINE"; }
  $("subtitle").textContent = HAS_RUN ? "run " + RUN.run_id + (RUN.source ? " \u00b7 " + RUN.source : "") : (M.graph.description || "");
  var facts = $("facts");
  function fact(k, v) { if (isEmpty(v)) return; var s = el("span"); s.appendChild(el("b", null, k + ": ")); s.appendChild(document.createTextNode(v)); facts.appendChild(s); }
  if (HAS_RUN) {
    fact("started", fmtTime(RUN.started_at));
    fact("ended", fmtTime(RUN.ended_at));
    fact("duration", fmtDur(RUN.duration));
    if (RUN.first_error_task) fact("first failure", RUN.first_error_task);
    if (RUN.extra && RUN.extra["graph attempts"]) fact("graph attempts", String(RUN.extra["graph attempts"]));
  }
  fact("environment", (RUN && RUN.environment) || M.environment);
  fact("tasks", String(M.tasks.length));
  var sch = M.graph.schedule;
  fact("schedule", sch ? (sch.cron ? sch.cron + " " + sch.timezone : "every " + sch.text) : "");
  fact("manifest", M.hash ? M.hash.slice(0, 19) : "");
  var legend = $("legend");
  if (HAS_RUN) {
    var counts = {};
    tasks.forEach(function (t) { counts[t.state] = (counts[t.state] || 0) + 1; });
    LEGEND_ORDER.forEach(function (s) {
      if (!counts[s] && ["SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED", "NOT_EXECUTED"].indexOf(s) < 0) return;
      var c = el("span", { "class": "chip" + (counts[s] ? "" : " zero"), "data-state": s });
      var d = el("span", { "class": "dot" }); d.style.background = STATE[s].color;
      if (s === "NOT_EXECUTED") { d.style.background = "#fff"; d.style.border = "1.5px dashed " + STATE[s].color; }
      c.appendChild(d); c.appendChild(document.createTextNode(STATE[s].label + " " + (counts[s] || 0)));
      c.setAttribute("role", "button"); c.setAttribute("title", "show only " + STATE[s].label + " tasks (click again for all)");
      c.addEventListener("click", function () {
        stateFilter = stateFilter === s ? null : s;
        legend.querySelectorAll(".chip").forEach(function (x) { x.classList.toggle("on", x.getAttribute("data-state") === stateFilter); });
        var n = applySearch();
        if (stateFilter && n) { var first = tasks.find(function (t) { return t.state === stateFilter; }); if (first) select(first.name, { center: current === "graph" }); }
      });
      legend.appendChild(c);
    });
  }
  (D.warnings || []).forEach(function (w) { $("warnings").appendChild(el("div", null, "\u26a0 " + w)); });

  // ---------- tabs ----------
  var current = "graph", stateFilter = null;
  if (!HAS_RUN) document.querySelector('.tab[data-view="timeline"]').hidden = true;
  function show(view) {
    current = view;
    document.querySelectorAll(".tab").forEach(function (b) { b.classList.toggle("active", b.getAttribute("data-view") === view); });
    document.querySelectorAll(".view").forEach(function (v) { v.hidden = v.id !== "view-" + view; });
    if (view === "graph" && !fitted && laidOut) fit();
  }
  document.querySelectorAll(".tab").forEach(function (b) { b.addEventListener("click", function () { show(b.getAttribute("data-view")); }); });

  // ---------- graph ----------
  var svg = $("graph"), viewport = sv("g", { id: "viewport" }), nodeEls = {}, edgeEls = [];
  var view = { k: 1, x: 0, y: 0 }, gw = 0, gh = 0, laidOut = false, fitted = false;
  (function markers() {
    var defs = svg.appendChild(sv("defs"));
    [["arrow", "#9aa0a6"], ["arrow-dark", "#5f6368"], ["arrow-hl", "#1a73e8"]].forEach(function (a) {
      var m = sv("marker", { id: a[0], viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
      m.appendChild(sv("path", { d: "M0,0 L10,5 L0,10 z", fill: a[1] }));
      defs.appendChild(m);
    });
  })();
  svg.appendChild(viewport);
  var measureCtx = document.createElement("canvas").getContext("2d");
  function textWidth(s, font) { measureCtx.font = font; return measureCtx.measureText(s).width; }
  var FONT_NAME = "600 13px system-ui, 'DejaVu Sans', 'Liberation Sans', Arial, sans-serif";
  var FONT_SUB = "11px system-ui, 'DejaVu Sans', 'Liberation Sans', Arial, sans-serif";
  var MAXW = 280;
  function clip(s, font, max) {
    if (textWidth(s, font) <= max) return s;
    while (s.length > 1 && textWidth(s + "\u2026", font) > max) s = s.slice(0, -1);
    return s + "\u2026";
  }
  function subLine(t) {
    var parts = [];
    if (!t.m) parts.push(kindLabel(t));
    else {
      var what = t.m.kind === "sql" ? "sql" : (t.m.step && t.m.step !== t.name ? t.m.step : (HAS_RUN ? "" : "step"));
      if (t.m.kind === "branch") what = "branch" + (what && what !== "step" ? " \u00b7 " + what : "");
      if (t.m.is_finalizer) what = "finally" + (what ? " \u00b7 " + what : "");
      if (what) parts.push(what);
      if (!HAS_RUN && t.m.compute) parts.push(t.m.compute.pool + " \u00d7 " + t.m.compute.instances);
    }
    if (t.r) {
      if (t.r.duration !== null && t.r.duration !== undefined) parts.push(fmtDur(t.r.duration));
      if (t.r.attempts > 1) parts.push(t.r.attempts + " attempts");
    }
    if (HAS_RUN && t.state !== "SUCCEEDED") parts.push((STATE[t.state] || STATE.NOT_EXECUTED).label);
    return parts.join(" \u00b7 ");
  }

  function condLine(t) {
    if (!t.m) return "";
    if (t.m.is_finalizer) return "runs after all tasks, always";
    if (t.m.when && t.m.when !== "all_succeeded") return "when " + t.m.when;
    return "";
  }
  function edgeLabel(from, to) {
    var t = byName[to], f = byName[from], parts = [];
    if (f && f.m && f.m.kind === "branch") {
      var cases = Object.keys(f.m.cases || {}).filter(function (c) { return f.m.cases[c] === to; });
      if (cases.length) parts.push(cases.join(", "));
    }
    return parts.join("; ");
  }

  function layout() {
    var t0 = performance.now();
    var g = new dagre.graphlib.Graph({ multigraph: false });
    var big = tasks.length > (D.meta.tight_above || 120);
    g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 44, edgesep: 12, marginx: 24, marginy: 24,
                 ranker: D.meta.ranker || (big ? "tight-tree" : "network-simplex") });
    g.setDefaultEdgeLabel(function () { return {}; });
    var rootLabel = M.pipeline;
    var rootSub = sch ? (sch.cron ? "cron " + sch.cron : "every " + sch.text) : "root";
    g.setNode(ROOT, { width: Math.min(MAXW, Math.max(textWidth(rootLabel, FONT_NAME), textWidth(rootSub, FONT_SUB)) + 40), height: 46 });
    tasks.forEach(function (t) {
      t.sub = subLine(t);
      // measured text plus slack: scaled SVG text renders a little wider than canvas measures it
      var w = Math.max(textWidth(t.name, FONT_NAME) * 1.08 + 44, textWidth(t.sub, FONT_SUB) * 1.08 + 30, 120);
      var isBranch = t.m && t.m.kind === "branch";
      t.cond = condLine(t);
      if (t.cond) w = Math.max(w, textWidth(t.cond, FONT_SUB) * 1.08 + 30);
      g.setNode(t.name, { width: Math.min(MAXW + (isBranch ? 28 : 0), w + (isBranch ? 28 : 0)), height: t.cond ? 64 : 50 });
    });
    var fin = M.finalizer, sinks = [];
    tasks.forEach(function (t) {
      if (t.name === fin || !t.m) return;
      var ps = t.preds.filter(function (p) { return byName[p]; });
      if (!ps.length) ps = [ROOT];
      ps.forEach(function (p) {
        var lab = p === ROOT ? "" : edgeLabel(p, t.name), o = { kind: "dep", label: lab };
        if (lab) { o.width = textWidth(lab, FONT_SUB) + 10; o.height = 16; o.labelpos = "c"; }
        g.setEdge(p, t.name, o);
      });
      if (!t.succs.length) sinks.push(t.name);
    });
    if (fin && byName[fin]) {
      // Snowflake runs the finalizer after every other task: lay it out after the last ones.
      if (!sinks.length) sinks = [ROOT];
      sinks.forEach(function (s, i) {
        var o = { kind: "finally", label: i === 0 ? "finally" : "" };
        if (o.label) { o.width = textWidth(o.label, FONT_SUB) + 10; o.height = 16; o.labelpos = "c"; }
        g.setEdge(s, fin, o);
      });
    }
    dagre.layout(g);
    window.dagcLayoutMs = performance.now() - t0;
    draw(g);
    window.dagcDrawMs = performance.now() - t0 - window.dagcLayoutMs;
  }

  function pathFor(pts) {
    if (pts.length < 3) return "M" + pts[0].x + "," + pts[0].y + " L" + pts[pts.length - 1].x + "," + pts[pts.length - 1].y;
    var d = "M" + pts[0].x + "," + pts[0].y;
    for (var i = 1; i < pts.length - 1; i++) {
      var mx = (pts[i].x + pts[i + 1].x) / 2, my = (pts[i].y + pts[i + 1].y) / 2;
      d += " Q" + pts[i].x + "," + pts[i].y + " " + (i === pts.length - 2 ? pts[i + 1].x + "," + pts[i + 1].y : mx + "," + my);
    }
    return d;
  }

  function draw(g) {
    var eLayer = sv("g", { "class": "edges" }), nLayer = sv("g", { "class": "nodes" });
    viewport.appendChild(eLayer); viewport.appendChild(nLayer);
    g.edges().forEach(function (e) {
      var o = g.edge(e), cls = "edge";
      var target = byName[e.w], source = byName[e.v];
      if (o.kind === "finally") cls += " finally";
      else if (HAS_RUN && target) {
        var ran = ["SUCCEEDED", "FAILED", "CANCELLED", "EXECUTING"].indexOf(target.state) >= 0;
        if (ran) cls += " taken";
        else if (source && source.m && source.m.kind === "branch") cls += " not-taken";
      }
      var gEl = sv("g", { "class": cls, "data-from": e.v, "data-to": e.w });
      var p = sv("path", { d: pathFor(o.points), "marker-end": "url(#" + (cls.indexOf("taken") > 0 && cls.indexOf("not-taken") < 0 ? "arrow-dark" : "arrow") + ")" });
      gEl.appendChild(p);
      if (o.label) {
        var w = o.width || textWidth(o.label, FONT_SUB) + 10;
        gEl.appendChild(sv("rect", { "class": "label-bg", x: o.x - w / 2, y: o.y - 8, width: w, height: 16, rx: 3 }));
        gEl.appendChild(sv("text", { x: o.x, y: o.y + 4, "text-anchor": "middle" }, o.label));
      }
      eLayer.appendChild(gEl);
      edgeEls.push({ el: gEl, from: e.v, to: e.w });
    });
    var rn = g.node(ROOT);
    var rg = sv("g", { "class": "node root", transform: "translate(" + (rn.x - rn.width / 2) + "," + (rn.y - rn.height / 2) + ")" });
    rg.appendChild(sv("rect", { "class": "shape", width: rn.width, height: rn.height, rx: rn.height / 2, fill: "#29b5e8", stroke: "#1b8db8", "stroke-width": 1.5 }));
    var rt = sv("text", { "class": "name", x: rn.width / 2, y: 20, "text-anchor": "middle" }, clip(M.pipeline, FONT_NAME, rn.width - 24));
    rt.style.fill = "#fff"; rg.appendChild(rt);
    var rsub = sv("text", { "class": "sub", x: rn.width / 2, y: 35, "text-anchor": "middle" }, sch ? (sch.cron ? "cron " + sch.cron : "every " + sch.text) : "root");
    rsub.style.fill = "#e8f7fd"; rg.appendChild(rsub);
    rg.appendChild(sv("title", null, "root task " + M.pipeline + (sch ? " \u00b7 " + (sch.cron ? sch.cron + " " + sch.timezone : sch.text) : "")));
    rg.addEventListener("click", function (ev) { ev.stopPropagation(); show("config"); });
    nLayer.appendChild(rg);
    tasks.forEach(function (t) {
      var n = g.node(t.name); if (!n) return;
      var st = STATE[t.state] || STATE.NOT_EXECUTED, w = n.width, h = n.height;
      var isBranch = t.m && t.m.kind === "branch", isFin = t.m && t.m.is_finalizer;
      var grp = sv("g", { "class": "node st-node-" + t.state, "data-task": t.name, "data-state": t.state,
                          transform: "translate(" + (n.x - w / 2) + "," + (n.y - h / 2) + ")", tabindex: "0", role: "button" });
      var shapeAttrs = { "class": "shape", fill: st.bg, stroke: st.color, "stroke-width": HAS_RUN ? 2 : 1.4 };
      if (t.state === "NOT_EXECUTED" || isFin) shapeAttrs["stroke-dasharray"] = isFin ? "6 3" : "4 3";
      if (!HAS_RUN && isBranch) { shapeAttrs.fill = "#f3e8fd"; shapeAttrs.stroke = "#8430ce"; }
      if (!HAS_RUN && t.m && t.m.kind === "sql") { shapeAttrs.fill = "#eef3fd"; shapeAttrs.stroke = "#0b57d0"; }
      var shape;
      if (isBranch) {
        var c = 14;
        shape = sv("polygon", Object.assign({ points: [c, 0, w - c, 0, w, h / 2, w - c, h, c, h, 0, h / 2].join(" ") }, shapeAttrs));
      } else shape = sv("rect", Object.assign({ width: w, height: h, rx: 6 }, shapeAttrs));
      grp.appendChild(shape);
      var x0 = isBranch ? 20 : 10;
      if (HAS_RUN) {
        var ic = sv("text", { "class": "icon", x: x0, y: 21, fill: st.color }, st.icon);
        grp.appendChild(ic);
        x0 += 17;
      }
      var maxText = w - x0 - (isBranch ? 18 : 8);
      grp.appendChild(sv("text", { "class": "name", x: x0, y: 21 }, clip(t.name, FONT_NAME, maxText)));
      grp.appendChild(sv("text", { "class": "sub", x: isBranch ? 20 : 10, y: 38 }, clip(t.sub, FONT_SUB, w - (isBranch ? 38 : 18))));
      if (t.cond) grp.appendChild(sv("text", { "class": "cond", x: isBranch ? 20 : 10, y: 54 }, clip(t.cond, FONT_SUB, w - (isBranch ? 38 : 18))));
      grp.appendChild(sv("title", null, t.name + " \u2014 " + t.sub + (t.cond ? " \u2014 " + t.cond : "")));
      grp.addEventListener("click", function (ev) { ev.stopPropagation(); select(t.name); });
      grp.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(t.name); } });
      nLayer.appendChild(grp);
      nodeEls[t.name] = { el: grp, x: n.x, y: n.y };
    });
    gw = g.graph().width; gh = g.graph().height;
    laidOut = true;
    $("graph-status").textContent = "";
    fit();
  }

  function apply() { viewport.setAttribute("transform", "translate(" + view.x + "," + view.y + ") scale(" + view.k + ")"); }
  function fit() {
    var r = svg.getBoundingClientRect();
    if (!r.width || !r.height || !gw) return;
    fitted = true;
    view.k = Math.min(1.2, Math.min(r.width / gw, r.height / gh) * 0.96);
    view.k = Math.max(view.k, 0.05);
    view.x = (r.width - gw * view.k) / 2; view.y = (r.height - gh * view.k) / 2;
    apply();
  }
  function zoomAt(f, cx, cy) {
    var r = svg.getBoundingClientRect();
    if (cx === undefined) { cx = r.width / 2; cy = r.height / 2; }
    var k = Math.max(0.03, Math.min(4, view.k * f)); f = k / view.k;
    view.x = cx - (cx - view.x) * f; view.y = cy - (cy - view.y) * f; view.k = k; apply();
  }
  function visible(name) {
    var n = nodeEls[name]; if (!n || current !== "graph") return true;
    var r = svg.getBoundingClientRect(), x = n.x * view.k + view.x, y = n.y * view.k + view.y;
    return x > 40 && y > 20 && x < r.width - 40 && y < r.height - 20;
  }
  function centerOn(name) {
    var n = nodeEls[name]; if (!n) return;
    var r = svg.getBoundingClientRect();
    if (view.k < 0.6) view.k = 0.9;
    view.x = r.width / 2 - n.x * view.k; view.y = r.height / 2 - n.y * view.k; apply();
  }
  $("zoom-fit").addEventListener("click", fit);
  $("zoom-in").addEventListener("click", function () { zoomAt(1.25); });
  $("zoom-out").addEventListener("click", function () { zoomAt(0.8); });
  $("zoom-reset").addEventListener("click", function () { var r = svg.getBoundingClientRect(); zoomAt(1 / view.k, r.width / 2, r.height / 2); });
  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = svg.getBoundingClientRect();
    zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
  }, { passive: false });
  var drag = null;
  svg.addEventListener("mousedown", function (ev) { if (ev.button !== 0) return; drag = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y, moved: false }; });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) return;
    var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; svg.classList.add("panning"); }
    view.x = drag.vx + dx; view.y = drag.vy + dy; apply();
  });
  window.addEventListener("mouseup", function () { drag = null; svg.classList.remove("panning"); });
  window.addEventListener("resize", function () { if (current === "graph" && laidOut && !selected) fit(); });

  // ---------- selection and details ----------
  var selected = null;
  function select(name, opts) {
    var t = byName[name]; if (!t) return;
    selected = name;
    Object.keys(nodeEls).forEach(function (k) { nodeEls[k].el.classList.toggle("selected", k === name); });
    edgeEls.forEach(function (e) { e.el.classList.toggle("hl", e.from === name || e.to === name); });
    document.querySelectorAll("[data-row]").forEach(function (r) { r.classList.toggle("selected", r.getAttribute("data-row") === name); });
    renderDetails(t);
    if ((opts && opts.center) || !visible(name)) centerOn(name);
    try { history.replaceState(null, "", "#task=" + encodeURIComponent(name)); } catch (e) { /* file:// in some browsers */ }
  }
  function deselect() {
    selected = null; $("details").hidden = true;
    Object.keys(nodeEls).forEach(function (k) { nodeEls[k].el.classList.remove("selected"); });
    edgeEls.forEach(function (e) { e.el.classList.remove("hl"); });
    document.querySelectorAll("[data-row].selected").forEach(function (r) { r.classList.remove("selected"); });
    try { history.replaceState(null, "", "#"); } catch (e) { /* ignore */ }
  }
  $("details-close").addEventListener("click", deselect);

  function kvTable(rows) {
    var tb = el("table");
    rows.forEach(function (r) {
      if (isEmpty(r[1])) return;
      var tr = el("tr"); tr.appendChild(el("th", null, r[0]));
      var td = el("td");
      if (r[2] === "code") td.appendChild(el("code", null, r[1])); else if (r[2] === "node") td.appendChild(r[1]); else td.textContent = r[1];
      tr.appendChild(td); tb.appendChild(tr);
    });
    return tb;
  }
  function box(text, cls, id) { var b = el("div", { "class": "box " + (cls || ""), id: id }); b.appendChild(el("pre", null, text)); return b; }
  function links(names) {
    var d = el("div", { "class": "links" });
    names.forEach(function (n) { var b = el("button", { "class": "link", type: "button" }, n); b.addEventListener("click", function () { select(n, { center: current === "graph" }); }); d.appendChild(b); });
    return d;
  }
  function renderDetails(t) {
    var body = $("details-body"); body.textContent = "";
    $("details").hidden = false;
    body.appendChild(el("h2", null, t.name));
    if (HAS_RUN) {
      var st = STATE[t.state] || STATE.NOT_EXECUTED;
      body.appendChild(el("span", { "class": "badge st-" + t.state, id: "detail-state", "data-state": t.state }, st.label));
    }
    body.appendChild(el("div", { "class": "muted", style: "margin-top:6px" }, t.m ? t.m.snowflake_name + " \u00b7 " + kindLabel(t) : "this task is not in the pipeline file any more"));
    var r = t.r;
    if (HAS_RUN) {
      body.appendChild(el("h3", null, "Run"));
      if (!r) body.appendChild(el("div", { "class": "muted" }, "No record in this run: the task was not part of it."));
      else body.appendChild(kvTable([
        ["state", (STATE[r.state] || STATE.NOT_EXECUTED).label],
        ["started", fmtTime(r.started_at)], ["ended", fmtTime(r.ended_at)],
        ["duration", fmtDur(r.duration)], ["attempts", r.attempts ? String(r.attempts) : ""],
        ["reused from run", r.reused_from || ""]
      ]));
      if (r && r.error) { body.appendChild(el("h3", null, "Error")); body.appendChild(box(r.error, "error", "detail-error")); }
      if (r && r.return_value !== null && r.return_value !== undefined) { body.appendChild(el("h3", null, "Return value")); body.appendChild(box(pretty(r.return_value), "", "detail-return")); }
      if (r && r.log_excerpt) { body.appendChild(el("h3", null, "Log (last lines)")); body.appendChild(box(r.log_excerpt, "", "detail-log")); }
      if (r && r.history && r.history.length > 1) {
        body.appendChild(el("h3", null, "Attempts"));
        var tb = el("table");
        r.history.forEach(function (a) {
          var tr = el("tr"); tr.appendChild(el("th", null, "#" + a.attempt));
          tr.appendChild(el("td", null, (STATE[a.state] || STATE.NOT_EXECUTED).label + (a.started_at && a.ended_at ? " \u00b7 " + fmtDur(a.ended_at - a.started_at) : "") + (a.error ? " \u00b7 " + a.error.split("\n")[0].slice(0, 160) : "")));
          tb.appendChild(tr);
        });
        body.appendChild(tb);
      }
    }
    if (t.m) {
      var m = t.m;
      body.appendChild(el("h3", null, "Settings"));
      var cases = m.kind === "branch" ? Object.keys(m.cases).map(function (c) { return c + " \u2192 " + m.cases[c]; }).join(", ") : "";
      body.appendChild(kvTable([
        ["kind", m.kind + (m.is_finalizer ? " (finalizer)" : "")], ["step", m.step || ""],
        ["runs when", m.when && m.when !== "all_succeeded" ? m.when : (m.is_finalizer ? "after all tasks, always" : "all predecessors succeeded")],
        ["branch cases", cases],
        ["branch parent", m.branch_parent ? m.branch_parent.task + " (case " + m.branch_parent.case + ")" : ""],
        ["warehouse", m.serverless ? "serverless" + (m.serverless_size ? " (" + m.serverless_size + ")" : "") : (m.warehouse || (M.graph.warehouse ? M.graph.warehouse + " (graph)" : ""))],
        ["compute", m.compute ? m.compute.pool + " \u00d7 " + m.compute.instances : ""],
        ["timeout", m.timeout_ms ? fmtDur(m.timeout_ms / 1000) : ""],
        ["comment", m.comment || ""]
      ]));
      if (!isEmpty(m.params)) { body.appendChild(el("h3", null, "Params")); body.appendChild(box(json(m.params))); }
      if (m.sql) { body.appendChild(el("h3", null, "SQL")); body.appendChild(box(m.sql)); }
      if (!isEmpty(m.session_parameters)) { body.appendChild(el("h3", null, "Session parameters")); body.appendChild(box(json(m.session_parameters))); }
    }
    if (t.preds.length) { body.appendChild(el("h3", null, "After")); body.appendChild(links(t.preds)); }
    if (t.succs.length) { body.appendChild(el("h3", null, "Before")); body.appendChild(links(t.succs)); }
  }

  // ---------- task table ----------
  (function table() {
    var tb = $("task-table"), head = el("tr");
    var cols = ["task"].concat(HAS_RUN ? ["state", "duration", "attempts"] : []).concat(["kind", "step / sql", "after", "runs when", "warehouse / compute", "timeout", "params"]);
    cols.forEach(function (c) { head.appendChild(el("th", null, c)); });
    var thead = el("thead"); thead.appendChild(head); tb.appendChild(thead);
    var body = el("tbody"); tb.appendChild(body);
    tasks.forEach(function (t) {
      var m = t.m || {}, tr = el("tr", { "class": "row", "data-row": t.name });
      tr.appendChild(el("td", null, t.name));
      if (HAS_RUN) {
        var td = el("td"); td.appendChild(el("span", { "class": "badge st-" + t.state }, (STATE[t.state] || STATE.NOT_EXECUTED).label)); tr.appendChild(td);
        tr.appendChild(el("td", null, t.r ? fmtDur(t.r.duration) : ""));
        tr.appendChild(el("td", null, t.r && t.r.attempts ? t.r.attempts : ""));
      }
      tr.appendChild(el("td", null, (m.kind || "") + (m.is_finalizer ? " (finally)" : "")));
      var code = el("td"); code.appendChild(el("code", null, m.kind === "sql" ? (m.sql || "").slice(0, 80) : (m.step || ""))); tr.appendChild(code);
      tr.appendChild(el("td", null, (m.after || []).join(", ")));
      tr.appendChild(el("td", null, m.when && m.when !== "all_succeeded" ? m.when : ""));
      tr.appendChild(el("td", null, [m.serverless ? "serverless" : (m.warehouse || ""), m.compute ? m.compute.pool + " \u00d7 " + m.compute.instances : ""].filter(Boolean).join(" \u00b7 ")));
      tr.appendChild(el("td", null, m.timeout_ms ? fmtDur(m.timeout_ms / 1000) : ""));
      var pc = el("td"); if (!isEmpty(m.params)) pc.appendChild(el("code", null, JSON.stringify(m.params))); tr.appendChild(pc);
      tr.addEventListener("click", function () { select(t.name); });
      body.appendChild(tr);
    });
  })();

  // ---------- timeline ----------
  var maxParallel = 0;
  (function timeline() {
    if (!HAS_RUN) return;
    var box0 = $("timeline");
    var timed = tasks.filter(function (t) { return t.r && t.r.started_at !== null && t.r.started_at !== undefined; });
    var untimed = tasks.filter(function (t) { return timed.indexOf(t) < 0; });
    if (!timed.length) {
      box0.appendChild(el("p", { "class": "muted" }, RUN.source === "snowflake" && tasks.some(function (t) { return t.r && t.r.attempts; })
        ? "The task rows read from Snowflake carry no start and end times, so there is no timeline for this run."
        : "No task of this run has started."));
      return;
    }
    var t0 = RUN.started_at || Infinity, t1 = RUN.ended_at || -Infinity;
    timed.forEach(function (t) {
      (t.r.history || []).concat([t.r]).forEach(function (a) {
        if (a.started_at !== null && a.started_at !== undefined) t0 = Math.min(t0, a.started_at);
        var end = a.ended_at !== null && a.ended_at !== undefined ? a.ended_at : a.started_at;
        if (end !== null && end !== undefined) t1 = Math.max(t1, end);
      });
    });
    var span = Math.max(t1 - t0, 0.001);
    timed.sort(function (a, b) { return a.r.started_at - b.r.started_at || tasks.indexOf(a) - tasks.indexOf(b); });
    // peak concurrency: sweep over start/end events
    var ev = [];
    timed.forEach(function (t) { ev.push([t.r.started_at, 1]); ev.push([t.r.ended_at !== null && t.r.ended_at !== undefined ? t.r.ended_at : t1, -1]); });
    ev.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    var cur = 0; ev.forEach(function (e) { cur += e[1]; maxParallel = Math.max(maxParallel, cur); });
    var steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400];
    var step = steps.find(function (s) { return span / s <= 10; }) || 86400;
    function pct(t) { return ((t - t0) / span * 100) + "%"; }
    var head = el("div", { "class": "gantt-head" });
    head.appendChild(el("div", { "class": "gantt-label muted" }, "task (by start time)"));
    var axis = el("div", { "class": "gantt-axis" });
    for (var s = 0; s <= span + 1e-9; s += step) { var tk = el("div", { "class": "gantt-tick" }, "+" + fmtTick(s)); tk.style.left = (s / span * 100) + "%"; axis.appendChild(tk); }
    head.appendChild(axis); box0.appendChild(head);
    function row(t) {
      var r = el("div", { "class": "gantt-row", "data-row": t.name, "data-gantt": t.name, title: t.name });
      r.appendChild(el("div", { "class": "gantt-label" }, t.name));
      var track = el("div", { "class": "gantt-track" });
      for (var s2 = step; s2 < span; s2 += step) { var gl = el("div", { "class": "gantt-grid" }); gl.style.left = (s2 / span * 100) + "%"; track.appendChild(gl); }
      if (t.r && t.r.started_at !== null && t.r.started_at !== undefined) {
        // several attempts: draw each one, the earlier ones hatched; the last one carries the final state
        var hist = (t.r.history || []).filter(function (a) { return a.started_at !== null && a.started_at !== undefined; });
        if (hist.length > 1) hist.slice(0, -1).forEach(function (a) {
          var b = el("div", { "class": "bar prev", title: "attempt " + a.attempt + ": " + (STATE[a.state] || STATE.NOT_EXECUTED).label + (a.error ? " \u00b7 " + a.error.split("\n")[0] : "") });
          var end = a.ended_at !== null && a.ended_at !== undefined ? a.ended_at : a.started_at;
          b.style.left = pct(a.started_at); b.style.width = ((end - a.started_at) / span * 100) + "%"; b.style.background = (STATE[a.state] || STATE.NOT_EXECUTED).color;
          track.appendChild(b);
        });
        var lastStart = hist.length > 1 ? hist[hist.length - 1].started_at : t.r.started_at;
        var st = STATE[t.state] || STATE.NOT_EXECUTED, e1 = t.r.ended_at !== null && t.r.ended_at !== undefined ? t.r.ended_at : t1;
        var bar = el("div", { "class": "bar", "data-state": t.state, title: t.name + ": " + st.label + " \u00b7 " + fmtDur(e1 - lastStart) });
        bar.style.left = pct(lastStart); bar.style.width = ((e1 - lastStart) / span * 100) + "%"; bar.style.background = st.color;
        track.appendChild(bar);
        var lab = el("div", { "class": "bar-label" }, fmtDur(t.r.duration) + (t.r.attempts > 1 ? " \u00b7 " + t.r.attempts + " attempts" : "") + (t.state !== "SUCCEEDED" ? " \u00b7 " + st.label : ""));
        var endPct = (e1 - t0) / span;
        var rowStart = hist.length > 1 ? Math.min(hist[0].started_at, lastStart) : lastStart;  // left of every bar
        if (endPct > 0.8) { lab.style.right = ((1 - (rowStart - t0) / span) * 100 + 0.5) + "%"; } else { lab.style.left = "calc(" + (endPct * 100) + "% + 6px)"; }
        track.appendChild(lab);
      } else {
        var l2 = el("div", { "class": "bar-label" }, (STATE[t.state] || STATE.NOT_EXECUTED).label); l2.style.left = "4px"; track.appendChild(l2);
      }
      r.appendChild(track);
      r.addEventListener("click", function () { select(t.name); });
      return r;
    }
    timed.forEach(function (t) { box0.appendChild(row(t)); });
    untimed.forEach(function (t) { box0.appendChild(row(t)); });
    box0.appendChild(el("p", { "class": "gantt-note muted" }, timed.length + " task(s) ran, at most " + maxParallel + " at the same time; " + untimed.length + " did not start. Hatched bars are earlier attempts."));
  })();

  // ---------- config ----------
  (function config() {
    var c = $("config"), g = M.graph;
    c.appendChild(el("h2", null, "Graph settings (root task " + M.pipeline + ")"));
    function kv(rows) {
      var tb = el("table", { "class": "kv" });
      rows.forEach(function (r) { if (isEmpty(r[1])) return; var tr = el("tr"); tr.appendChild(el("th", null, r[0])); var td = el("td"); td.appendChild(el("code", null, json(r[1]))); tr.appendChild(td); tb.appendChild(tr); });
      return tb;
    }
    c.appendChild(kv([
      ["description", g.description], ["schedule", sch ? (sch.cron ? sch.cron + " (" + sch.timezone + ")" : "every " + sch.text) : ""],
      ["warehouse", g.warehouse], ["stage", g.stage], ["packages", (g.packages || []).join(", ")], ["imports", (g.imports || []).join(", ")],
      ["graph retries", g.retries === null || g.retries === undefined ? "" : String(g.retries)], ["timeout", g.timeout_ms ? fmtDur(g.timeout_ms / 1000) : ""],
      ["overlap", g.overlap], ["suspend after failures", g.suspend_after_failures === null || g.suspend_after_failures === undefined ? "" : String(g.suspend_after_failures)],
      ["error integration", g.error_integration], ["session parameters", g.session_parameters], ["comment", g.comment],
      ["finalizer", M.finalizer], ["environment", M.environment], ["source", M.source], ["manifest hash", M.hash]
    ]));
    var cfg = HAS_RUN && !isEmpty(RUN.config) ? RUN.config : g.config;
    c.appendChild(el("h2", null, HAS_RUN ? "Config of this run" : "Graph config"));
    if (isEmpty(cfg)) c.appendChild(el("p", { "class": "muted" }, "(empty)"));
    else c.appendChild(kv(Object.keys(cfg).sort().map(function (k) { return [k, cfg[k]]; })));
    if (HAS_RUN && !isEmpty(RUN.extra)) { c.appendChild(el("h2", null, "Run facts")); c.appendChild(kv(Object.keys(RUN.extra).sort().map(function (k) { return [k, RUN.extra[k]]; }))); }
    c.appendChild(el("p", { "class": "muted" }, "Report generated " + (D.meta.generated_at || "") + " by dagc " + (D.meta.dagc_version || "") + "."));
  })();

  // ---------- search ----------
  var search = $("search");
  function applySearch() {
    var q = search.value.trim().toLowerCase(), n = 0, on = !!q || !!stateFilter;
    tasks.forEach(function (t) {
      var hit = (!q || t.name.toLowerCase().indexOf(q) >= 0 || (t.m && (t.m.step || "").toLowerCase().indexOf(q) >= 0)) &&
                (!stateFilter || t.state === stateFilter);
      if (hit && on) n++;
      var ne = nodeEls[t.name];
      if (ne) { ne.el.classList.toggle("dim", on && !hit); ne.el.classList.toggle("match", on && hit); }
      document.querySelectorAll('[data-row="' + CSS.escape(t.name) + '"]').forEach(function (r) {
        if (r.tagName === "TR") r.hidden = on && !hit; else r.classList.toggle("dim", on && !hit);
      });
    });
    edgeEls.forEach(function (e) { e.el.classList.toggle("dim", on); });
    $("search-count").textContent = on ? n + " match" + (n === 1 ? "" : "es") : "";
    return n;
  }
  search.addEventListener("input", applySearch);
  search.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") {
      var q = search.value.trim().toLowerCase();
      var hit = tasks.find(function (t) { return t.name.toLowerCase() === q; }) ||
                tasks.find(function (t) { return t.name.toLowerCase().indexOf(q) >= 0; });
      if (hit) select(hit.name, { center: current === "graph" });
    } else if (ev.key === "Escape") { search.value = ""; applySearch(); search.blur(); }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.target === search) return;
    if (ev.key === "/") { ev.preventDefault(); search.focus(); }
    else if (ev.key === "Escape") deselect();
    else if (current === "graph" && (ev.key === "+" || ev.key === "=")) zoomAt(1.25);
    else if (current === "graph" && ev.key === "-") zoomAt(0.8);
    else if (current === "graph" && (ev.key === "f" || ev.key === "F")) fit();
  });

  // ---------- start ----------
  show("graph");
  $("graph-status").textContent = "Laying out " + tasks.length + " tasks\u2026";
  window.dagcReport = { select: select, show: show, fit: fit, tasks: function () { return tasks.map(function (t) { return { name: t.name, state: t.state }; }); } };
  function start() {
    try { layout(); }
    catch (e) { $("graph-status").textContent = "Could not lay out the graph: " + e; window.dagcError = String(e); }
    var h = decodeURIComponent((location.hash || "").replace(/^#task=/, ""));
    if (h && byName[h]) select(h, { center: true });
    else if (HAS_RUN && RUN.first_error_task && byName[RUN.first_error_task] && D.meta.select_first_error) select(RUN.first_error_task);
    // a large graph fitted whole is unreadable: open on the selected task's neighbourhood instead
    if (selected && tasks.length > 80) { view.k = 0.9; centerOn(selected); fitted = true; } else fit();
    document.body.setAttribute("data-ready", "1");
    window.dagcReady = true;
  }
  // paint the header first, then lay out (a 300-task graph takes a moment)
  requestAnimationFrame(function () { setTimeout(start, 0); });
})();
