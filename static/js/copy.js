// Copy buttons, for values shown once (a new API key) or typed elsewhere (a page id):
//   <button type="button" data-copy="ID" data-copy-status="STATUS-ID" hidden>Copy</button>
// copies the value (an input's) or the text of the element with id ID, and says so in the
// element STATUS-ID (a role="status" region). Buttons are hidden in the HTML and shown here, so
// without JavaScript there is no button that does nothing: the value is selected by hand.
// Listeners are on the document, so buttons htmx swaps in work too.
(function () {
  "use strict";

  function reveal(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
    });
  }

  function say(button, message) {
    var region = document.getElementById(button.getAttribute("data-copy-status"));
    if (!region) return;
    region.textContent = message;
    clearTimeout(region.copyTimer);
    region.copyTimer = setTimeout(function () { region.textContent = ""; }, 4000);
  }

  function selectText(source) {
    if (typeof source.select === "function") {
      source.focus();
      source.select();
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copyBySelection(source) {
    selectText(source);
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = typeof source.value === "string" ? source.value : source.textContent.trim();
    var copied = function () { say(button, "Copied."); };
    var failed = function () {
      selectText(source);
      say(button, "Selected: press Ctrl+C (⌘C on a Mac) to copy.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(copied, function () {
        if (copyBySelection(source)) copied(); else failed();
      });
    } else if (copyBySelection(source)) {
      copied();
    } else {
      failed();
    }
  });

  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  // htmx announces each piece of HTML it swaps in (the keys block after creating a key).
  document.addEventListener("htmx:load", function (event) {
    if (event.detail.elt.querySelectorAll) reveal(event.detail.elt);
  });
})();
