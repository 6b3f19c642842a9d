// Pollers marked data-poll-when-visible skip their request while the tab is hidden. This replaces
// htmx's trigger filter ("every 3s [document.visibilityState === 'visible']"), which htmx runs
// through eval and the Content-Security-Policy forbids.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail && e.detail.elt;
    if (document.visibilityState !== "visible" && elt && elt.hasAttribute("data-poll-when-visible")) {
      e.preventDefault();
    }
  });
})();
