// The overview's live feed: a pause button, and a cap on the rows kept (data-cap on #feed-rows).
// The filter itself is plain htmx (hx-include="#feed-controls" on the poller).
(function () {
  "use strict";
  function pauseButton() { return document.getElementById("feed-pause"); }
  function paused() { var b = pauseButton(); return !!b && b.getAttribute("aria-pressed") === "true"; }

  document.addEventListener("DOMContentLoaded", function () {
    var button = pauseButton();
    if (!button) return;
    button.hidden = false;  // without JavaScript there is nothing to pause
    button.addEventListener("click", function () {
      var nowPaused = !paused();
      button.setAttribute("aria-pressed", nowPaused ? "true" : "false");
      button.textContent = nowPaused ? "Resume" : "Pause";
    });
  });

  // While paused the poller skips its turn; on resume its cursor catches up on what changed.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail && e.detail.elt;
    if (elt && elt.id === "feed-poller" && paused()) e.preventDefault();
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    var list = document.getElementById("feed-rows");
    if (!list || !(e.detail && e.detail.target === list)) return;
    var cap = parseInt(list.getAttribute("data-cap"), 10) || 100;
    while (list.children.length > cap) list.removeChild(list.lastElementChild);
  });
})();
