// The Undo offered after a quick status change (manage/_component_status_form.html) is there
// for the number of seconds in its data-expires-in, then goes, leaving the "Saved". Without
// JavaScript it stays until the next page. htmx:load runs for the page and for every swap.
(function () {
  "use strict";

  function expire(root) {
    root.querySelectorAll("form.quick-undo[data-expires-in]").forEach(function (form) {
      if (form.undoTimer) return;
      var seconds = parseFloat(form.getAttribute("data-expires-in")) || 10;
      form.undoTimer = setTimeout(function () { form.remove(); }, seconds * 1000);
    });
  }

  document.addEventListener("htmx:load", function (event) { expire(event.target); });
  document.addEventListener("DOMContentLoaded", function () { expire(document); });
})();
