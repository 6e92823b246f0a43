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

document.addEventListener("DOMContentLoaded", function () {
  wireTimelines();
  wireUserSearch();
  wireAutosubmit();
});
