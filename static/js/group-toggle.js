// "Whole group" controls in forms that list components under their groups
// (<fieldset data-group-toggle> with one [data-group-all] control and the components' own).
// A "Whole group" select sets the status of each of the group's components; a "Whole group"
// checkbox ticks or clears them all, and shows whether all, some or none are ticked.
// Without JavaScript the server applies the group's control itself (incidents/forms.py).
(function () {
  "use strict";

  function members(all) {
    var fieldset = all.closest("fieldset[data-group-toggle]");
    if (!fieldset) return [];
    return Array.prototype.filter.call(
      fieldset.querySelectorAll(all.tagName === "SELECT" ? "select" : "input[type=checkbox]"),
      function (control) { return control !== all; }
    );
  }

  function showGroupState(checkbox) {
    var boxes = members(checkbox);
    var ticked = boxes.filter(function (box) { return box.checked; }).length;
    checkbox.checked = boxes.length > 0 && ticked === boxes.length;
    checkbox.indeterminate = ticked > 0 && ticked < boxes.length;
  }

  document.addEventListener("change", function (event) {
    var control = event.target;
    if (control.matches("[data-group-all]")) {
      members(control).forEach(function (member) {
        if (control.tagName === "SELECT") {
          if (control.value) member.value = control.value;
        } else {
          member.checked = control.checked;
        }
      });
      // The components' selects now say it all; a component set back to "Not affected"
      // afterwards stays so (the server applies a group's select to those).
      if (control.tagName === "SELECT") control.value = "";
      return;
    }
    var fieldset = control.closest("fieldset[data-group-toggle]");
    var all = fieldset && fieldset.querySelector("input[type=checkbox][data-group-all]");
    if (all && control.type === "checkbox") showGroupState(all);
  });

  function init(root) {
    root.querySelectorAll("input[type=checkbox][data-group-all]").forEach(showGroupState);
  }
  document.addEventListener("htmx:load", function (event) { init(event.target); });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
})();
