// A card whose table is wider than the screen scrolls sideways (sipdesk.css); keyboard users must
// be able to reach and scroll it too, so such a card becomes focusable (WCAG 2.1.1), named by
// its heading. Re-checked after htmx swaps and on resize.
(function () {
  "use strict";
  function mark(root) {
    (root || document).querySelectorAll(".card").forEach(function (card) {
      var scrolls = card.scrollWidth > card.clientWidth + 1;
      if (scrolls && !card.hasAttribute("tabindex")) {
        card.setAttribute("tabindex", "0");
        card.setAttribute("data-scroll-region", "");
        var heading = card.querySelector("h2, h3");
        if (heading && !card.hasAttribute("aria-label") && !card.hasAttribute("aria-labelledby")) {
          card.setAttribute("aria-label", heading.textContent.trim() + " (scrolls sideways)");
        }
      } else if (!scrolls && card.hasAttribute("data-scroll-region")) {
        card.removeAttribute("tabindex");
        card.removeAttribute("data-scroll-region");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { mark(document); });
  document.addEventListener("htmx:afterSettle", function () { mark(document); });
  var timer;
  window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(function () { mark(document); }, 150); });
})();
