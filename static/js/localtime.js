// Show every <time datetime="…"> in the viewer's time zone; the UTC value stays in the title.
(function () {
  "use strict";
  // Tell the server the viewer's zone (dashboard/timerange.py): the next page is rendered, and
  // typed times are read, in it. IANA names ("Asia/Singapore") need no cookie escaping.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && /^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone) && document.cookie.indexOf("sipdesk_tz=" + zone) < 0) {
      document.cookie = "sipdesk_tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* no Intl: times stay in UTC */ }
  var fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short"
  });
  function localise(root) {
    (root || document).querySelectorAll("time[datetime]:not([data-local])").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.textContent = fmt.format(d);
      el.setAttribute("data-local", "1");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:afterSettle", function (e) { localise(e.target); });
  document.addEventListener("htmx:oobAfterSwap", function (e) { localise(e.target); });
})();
