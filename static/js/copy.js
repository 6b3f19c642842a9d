// Copy buttons: <button data-copy="ID"> copies the text of the element with that id.
// A file of its own (no inline script), so a strict Content-Security-Policy allows it.
(function () {
  "use strict";
  function fallbackCopy(source) {
    source.removeAttribute("readonly");
    source.select();
    var ok = document.execCommand && document.execCommand("copy");
    source.setAttribute("readonly", "");
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = "value" in source ? source.value : source.textContent;
    var copied = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(text)
      : fallbackCopy(source);
    var label = button.textContent;
    copied.then(function () {
      button.textContent = "Copied";
      button.setAttribute("data-copied", "true");
    }, function () {
      button.textContent = "Select the text and copy it by hand";
    }).finally(function () {
      setTimeout(function () { button.textContent = label; }, 4000);
    });
  });
})();
