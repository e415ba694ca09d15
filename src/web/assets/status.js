// Refreshes the status page's tables from /api/v1/status every 2 s.
// Every value goes in as text (textContent), never as markup.
"use strict";
(function () {
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text === null || text === undefined || text === "" ? "\u2013" : String(text);
    tr.appendChild(td);
    return td;
  }
  function legCell(tr, first, callId) {
    var td = cell(tr, first, "leg");
    td.appendChild(document.createElement("br"));
    var code = document.createElement("code");
    code.textContent = callId || "\u2013";
    td.appendChild(code);
  }
  function media(l) {
    if (!l) return "\u2013";
    var src = l.source ? l.source + (l.source_learned ? " (learned)" : "") : "\u2013";
    return src + " \u00b7 " + l.packets + " pkts, " + l.lost + " lost";
  }
  function fill(table, rows, empty, columns) {
    var body = document.querySelector(table + " tbody");
    if (!body) return;
    while (body.firstChild) body.removeChild(body.firstChild);
    if (rows.length === 0) {
      var tr = document.createElement("tr");
      var td = cell(tr, empty, "empty");
      td.colSpan = columns;
      body.appendChild(tr);
    }
    rows.forEach(function (tr) { body.appendChild(tr); });
  }
  function render(s) {
    document.getElementById("version").textContent = s.version;
    var up = document.getElementById("uptime");
    up.dataset.seconds = s.uptime_s;
    up.textContent = Math.floor(s.uptime_s / 3600) + "h " + String(Math.floor(s.uptime_s % 3600 / 60)).padStart(2, "0") + "m";
    fill("#registrations", s.registrations.map(function (r) {
      var tr = document.createElement("tr");
      tr.className = "registration";
      tr.dataset.account = r.account;
      cell(tr, r.account);
      cell(tr, r.state, "state " + r.state);
      cell(tr, r.detail);
      cell(tr, r.registrar);
      return tr;
    }), "No accounts register.", 4);
    fill("#calls-active", s.calls_active.map(function (c) {
      var tr = document.createElement("tr");
      tr.className = "call";
      tr.dataset.callId = c.id;
      cell(tr, c.direction === "inbound" ? "Inbound" : "Outbound");
      legCell(tr, c.from, c.caller_call_id);
      legCell(tr, c.to, c.callee_call_id);
      cell(tr, c.route, "route");
      cell(tr, c.target, "target");
      cell(tr, c.codec, "codec");
      cell(tr, Math.floor(c.duration_s / 60) + ":" + String(c.duration_s % 60).padStart(2, "0"), "duration");
      var m = cell(tr, media(c.media && c.media.caller), "media");
      m.appendChild(document.createElement("br"));
      m.appendChild(document.createTextNode(media(c.media && c.media.callee)));
      return tr;
    }), "No calls in progress.", 8);
    document.querySelectorAll("#counters tr[data-counter]").forEach(function (tr) {
      var v = s.counters[tr.dataset.counter];
      if (tr.dataset.counter === "dtmf_rendered") v = s.counters.dtmf_rendered + s.counters.dtmf_detected;
      if (v !== undefined) tr.querySelector("td").textContent = String(v);
    });
    fill("#admission", s.admission.map(function (l) {
      var tr = document.createElement("tr");
      tr.dataset.listener = l.listener;
      cell(tr, l.listener);
      cell(tr, l.admitted + l.admitted_for_auth);
      cell(tr, l.dropped_not_allowed);
      cell(tr, l.rejected_not_allowed);
      cell(tr, l.dropped_rate_limited + l.dropped_rate_limited_listed);
      cell(tr, l.top_sources.map(function (t) { return t.network + " (" + t.refused + ")"; }).join(", "));
      return tr;
    }), "", 6);
  }
  function refresh() {
    fetch("/api/v1/status", { credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) { window.location = "/login"; throw new Error("logged out"); }
        return r.json();
      })
      .then(render)
      .catch(function () {});
  }
  setInterval(refresh, 2000);
})();
