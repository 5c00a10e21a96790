/* Pop-ups of the settings pages: <dialog> opened and closed by data attributes, no library. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      event.preventDefault();
      document.getElementById(opener.dataset.openDialog).showModal();
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      event.preventDefault();
      closer.closest("dialog").close();
    }
  });
  // The warehouse-mapping switch: on opens the pop-up to choose the warehouse, off saves "none".
  document.addEventListener("change", function (event) {
    var toggle = event.target.closest("[data-mapping-toggle]");
    if (!toggle) return;
    if (toggle.checked) {
      document.getElementById(toggle.dataset.mappingToggle).showModal();
    } else {
      document.getElementById(toggle.dataset.offForm).requestSubmit();
    }
  });
  // A pop-up closed without saving puts the switch back where it was.
  document.addEventListener("close", function (event) {
    var toggle = document.querySelector('[data-mapping-toggle="' + event.target.id + '"]');
    if (toggle) toggle.checked = toggle.defaultChecked;
  }, true);
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("dialog[data-open-on-load]").forEach(function (dialog) {
      dialog.showModal();
    });
  });
})();
