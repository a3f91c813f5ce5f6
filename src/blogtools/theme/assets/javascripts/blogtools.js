// blogtools: the /examples/ page's filters (by evidence state and by language), without a reload.
// Every row is in the page as HTML: with JavaScript off the page shows them all and no filters.
(function () {
  "use strict";
  var search = document.querySelector(".md-search[role='dialog']");  // the theme's search names no dialog
  if (search && !search.hasAttribute("aria-label")) search.setAttribute("aria-label", "Search");
})();

(function () {
  "use strict";
  var filters = document.querySelector(".bt-filters");
  if (!filters) return;
  var buttons = Array.prototype.slice.call(filters.querySelectorAll("button[data-state]"));
  var language = filters.querySelector("select");
  var shown = filters.querySelector(".bt-shown");
  var rows = Array.prototype.slice.call(document.querySelectorAll(".bt-rows > li"));
  var posts = Array.prototype.slice.call(document.querySelectorAll(".bt-post, .bt-blog"));  // a planet's blogs too

  function apply() {
    var states = {};
    buttons.forEach(function (b) { states[b.dataset.state] = b.getAttribute("aria-pressed") === "true"; });
    var wanted = language ? language.value : "";
    var count = 0;
    rows.forEach(function (row) {
      var visible = states[row.dataset.state] !== false && (!wanted || row.dataset.language === wanted);
      row.hidden = !visible;
      if (visible) count += 1;
    });
    posts.forEach(function (post) { post.hidden = !post.querySelector(".bt-rows > li:not([hidden])"); });
    if (shown) shown.textContent = count + " of " + rows.length + " shown";
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      button.setAttribute("aria-pressed", button.getAttribute("aria-pressed") === "true" ? "false" : "true");
      apply();
    });
  });
  if (language) language.addEventListener("change", apply);
  var legend = document.querySelector(".bt-legend");
  if (legend) legend.hidden = true;  // the filter buttons show the same counts
  filters.hidden = false;
  apply();
})();
