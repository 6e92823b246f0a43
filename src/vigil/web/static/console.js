// Vigil console: small progressive enhancements; every page works without this file.
"use strict";

// A chart's tooltip (the timeline's bars, the heatmap's hours): the one under the pointer
// or keyboard focus, written out.
function wireTimelines() {
  document.querySelectorAll("svg.timeline, svg.heatmap").forEach(function (chart) {
    var tip = chart.parentElement.querySelector("[data-chart-tip]");
    if (!tip) return;
    var resting = tip.textContent;
    chart.querySelectorAll(".bar, .cell").forEach(function (bar) {
      var show = function () { tip.textContent = bar.getAttribute("aria-label"); };
      bar.addEventListener("mouseenter", show);
      bar.addEventListener("focus", show);
      bar.addEventListener("mouseleave", function () { tip.textContent = resting; });
    });
  });
}

// The User filter: suggest users by name or email as one types (GET /users, same session).
function wireUserSearch() {
  document.querySelectorAll("input[data-user-search]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    var lastAsked = null;
    var suggest = function () {
      var text = input.value.trim();
      if (text === lastAsked) return;
      lastAsked = text;
      fetch("/users?limit=20&q=" + encodeURIComponent(text), { credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.json() : { items: [] }; })
        .then(function (page) {
          list.replaceChildren();
          page.items.forEach(function (user) {
            var option = document.createElement("option");
            option.value = user.email;
            option.label = user.name + " (" + user.role + ")";
            list.appendChild(option);
          });
        })
        .catch(function () { /* suggestions are a convenience; typing still works */ });
    };
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(suggest, 150);
    });
    input.addEventListener("focus", suggest);
  });
}

// A select marked data-autosubmit sends its form when changed (its button does without JS).
function wireAutosubmit() {
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
}

// The live stream (web/live_pages.py), named by the page's body: rows of matching events as
// they are recorded (the server sends each as the row the Activity page shows), HIGH and
// CRITICAL alerts as they open, the header's unread count. EventSource reconnects by itself
// after a dropped connection and resumes after the last id it saw; a refused reconnect
// (the server down, too many streams) is retried here, the wait doubling up to a minute.
var LIVE_RETRY_MS = 2000;
var LIVE_RETRY_MAX_MS = 60000;
var LIVE_NOTICES = 3;

function wireLive() {
  var url = document.body.getAttribute("data-live-stream");
  if (!url || typeof EventSource === "undefined") return;
  var list = document.querySelector("[data-live-list]");
  var status = document.querySelector("[data-live-status]");
  var pause = document.querySelector("[data-live-pause]");
  var heldLabel = document.querySelector("[data-live-held]");
  var keep = list ? parseInt(list.getAttribute("data-keep"), 10) || 200 : 0;
  var held = [];      // rows that came while paused, oldest first (the newest `keep`)
  var heldCount = 0;  // every event that came while paused
  var paused = false;
  var source = null;
  var lastId = null;
  var wait = LIVE_RETRY_MS;

  var say = function (state, text) {
    if (!status) return;
    status.setAttribute("data-state", state);
    status.textContent = text;
  };

  var place = function (rows) {
    rows.forEach(function (row) {
      var id = row.getAttribute("data-event-id");
      if (list.querySelector('[data-event-id="' + CSS.escape(id) + '"]')) return;
      row.classList.add("arrived");
      list.insertBefore(row, list.firstElementChild);
    });
    while (list.children.length > keep) list.removeChild(list.lastElementChild);
    var empty = document.querySelector("[data-live-empty]");
    if (empty && list.children.length) empty.remove();
  };

  var showHeld = function () {
    if (!pause) return;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", paused ? "true" : "false");
    if (heldLabel) {
      heldLabel.hidden = !paused;
      heldLabel.textContent = heldCount.toLocaleString("en") + " new";
    }
  };

  if (pause) {
    pause.addEventListener("click", function () {
      paused = !paused;
      if (!paused) {
        place(held);
        held = [];
        heldCount = 0;
      }
      showHeld();
    });
  }

  var onActivity = function (message) {
    lastId = message.lastEventId;
    if (!list) return;
    var template = document.createElement("template");
    template.innerHTML = message.data;  // escaped by the server's template, like every page
    var row = template.content.firstElementChild;
    if (!row) return;
    if (paused) {
      held.push(row);
      if (held.length > keep) held.shift();
      heldCount += 1;
      showHeld();
    } else {
      place([row]);
    }
  };

  var onAlert = function (message) {
    var alert = JSON.parse(message.data);
    var box = document.querySelector("[data-live-notices]");
    if (!box || (alert.severity !== "HIGH" && alert.severity !== "CRITICAL")) return;
    var notice = document.createElement("div");
    notice.className = "live-notice severity-" + alert.severity.toLowerCase();
    notice.setAttribute("role", "alert");
    var title = document.createElement("strong");
    title.textContent = alert.severity + " alert " + alert.change;
    var summary = document.createElement("span");
    summary.textContent = alert.summary;
    var link = document.createElement("a");
    link.href = String(alert.url).indexOf("/ui/") === 0 ? alert.url : "/ui/security";
    link.textContent = "Open the alert";
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "dismiss";
    dismiss.textContent = "Dismiss";
    dismiss.addEventListener("click", function () { notice.remove(); });
    notice.append(title, summary, link, dismiss);
    box.insertBefore(notice, box.firstElementChild);
    while (box.children.length > LIVE_NOTICES) box.removeChild(box.lastElementChild);
  };

  var onNotification = function () {
    var inbox = document.querySelector(".inbox-link");
    if (!inbox) return;
    var badge = inbox.querySelector(".badge.unread");
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "badge unread";
      inbox.append(" ", badge);
    }
    var count = (parseInt(badge.getAttribute("data-unread"), 10) || 0) + 1;
    badge.setAttribute("data-unread", String(count));
    badge.textContent = count.toLocaleString("en") + " unread";
  };

  var connect;
  var retry = function () {
    source.close();
    say("disconnected", "Disconnected. Trying again in " + Math.round(wait / 1000) + " s…");
    setTimeout(connect, wait);
    wait = Math.min(wait * 2, LIVE_RETRY_MAX_MS);
  };

  var onReset = function (message) {
    var reset = JSON.parse(message.data);
    if (reset.reason === "revoked") {
      source.close();
      say("ended", "Disconnected: your session has ended. Sign in again to resume.");
    } else if (reset.reason === "behind") {
      say("reconnecting", "Catching up…");  // EventSource resumes after the last id
    }
  };

  connect = function () {
    var target = new URL(url, window.location.href);
    if (lastId) target.searchParams.set("after", lastId);
    source = new EventSource(target.pathname + target.search);
    source.addEventListener("open", function () {
      wait = LIVE_RETRY_MS;
      say("live", "Live");
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) retry();
      else if (status && status.getAttribute("data-state") !== "ended") {
        say("reconnecting", "Disconnected. Reconnecting…");
      }
    });
    source.addEventListener("activity", onActivity);
    source.addEventListener("alert", onAlert);
    source.addEventListener("notification", onNotification);
    source.addEventListener("reset", onReset);
  };
  connect();
  showHeld();
}

document.addEventListener("DOMContentLoaded", function () {
  wireTimelines();
  wireUserSearch();
  wireAutosubmit();
  wireLive();
});
