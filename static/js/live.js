/* Heliograph: while an incident or maintenance is active, the status page refreshes its live
   parts (elements with data-live) every data-live-refresh seconds, without a reload. Without
   this script the page still works: a reload shows the same. Revalidation is cheap (ETag/304).
   It stops once the page is calm again, pauses in hidden tabs, and only swaps what changed, so
   focus and an open popover stay where they are otherwise. */
(function () {
  "use strict";
  var root = document.querySelector("[data-live-refresh]");
  if (!root || !window.fetch || !window.DOMParser) return;
  var seconds = Math.max(1, parseInt(root.getAttribute("data-live-refresh"), 10) || 30);
  var timer = null;

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, seconds * 1000);
  }

  function swap(next) {
    document.querySelectorAll("[data-live]").forEach(function (part) {
      var name = part.getAttribute("data-live");
      var fresh = next.querySelector('[data-live="' + name + '"]');
      // Not under the reader's focus (an open day popover, a link): the next round will do.
      if (fresh && fresh.innerHTML !== part.innerHTML && !part.contains(document.activeElement)) {
        part.replaceChildren.apply(part, Array.from(fresh.childNodes, function (node) {
          return document.importNode(node, true);
        }));
      }
    });
  }

  function refresh() {
    if (document.hidden) return;  // visibilitychange brings it back
    fetch(window.location.href, { cache: "no-cache", credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html");
        swap(next);
        if (next.querySelector("[data-live-refresh]")) schedule();
      })
      .catch(schedule);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh();
  });
  schedule();
})();
