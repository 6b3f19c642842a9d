// "Copy link": copy the link's own (absolute-range) URL instead of following it. Without
// JavaScript or clipboard access the link still opens the frozen range, whose address can be copied.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-copy-link]");
    if (!link || !navigator.clipboard) return;
    event.preventDefault();
    var url = new URL(link.getAttribute("href"), window.location.href).href;
    navigator.clipboard.writeText(url).then(function () {
      link.setAttribute("data-copied", url);
      link.textContent = "Link copied";
    }, function () { window.location.href = url; });
  });
})();
