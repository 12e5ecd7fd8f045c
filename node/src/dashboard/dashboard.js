// orun dashboard: refreshes the page in place. Every few seconds it fetches the page it is on
// from the same host and swaps the parts marked data-live, keeping keyboard focus where it was.
// Without this script the page still works: it reloads itself (a refresh inside <noscript>).
(function () {
  "use strict";
  var seconds = Number(document.body.getAttribute("data-refresh")) || 4;
  var lastGood = new Date();

  // Where keyboard focus is, as the element's place among the page's focusable elements, so
  // that the same place gets it back once the parts are swapped.
  var FOCUSABLE = "a[href], [tabindex]";

  function focusPlace() {
    var active = document.activeElement;
    if (!active || active === document.body) return -1;
    return Array.prototype.indexOf.call(document.querySelectorAll(FOCUSABLE), active);
  }

  function showStale(reason) {
    var updated = document.getElementById("updated");
    if (!updated) return;
    updated.classList.add("stale");
    updated.textContent = "Not updated since " + lastGood.toISOString().slice(11, 19) +
      " UTC: " + reason + ". Retrying every " + seconds + " s";
  }

  function swap(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var place = focusPlace();
    var parts = document.querySelectorAll("[data-live]");
    for (var i = 0; i < parts.length; i++) {
      var next = fresh.getElementById(parts[i].id);
      if (next) parts[i].replaceWith(document.adoptNode(next));
    }
    document.title = fresh.title;
    if (place >= 0) {
      var again = document.querySelectorAll(FOCUSABLE)[place];
      if (again) again.focus({ preventScroll: true });
    }
  }

  function refresh() {
    fetch(window.location.pathname, { cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("text/html") !== 0) throw new Error("answered " + response.status);
        return response.text();
      })
      .then(function (html) {
        swap(html);
        lastGood = new Date();
      })
      .catch(function (error) {
        showStale(error && error.message ? "the page did not load (" + error.message + ")" : "the page did not load");
      })
      .finally(function () {
        window.setTimeout(refresh, seconds * 1000);
      });
  }

  window.setTimeout(refresh, seconds * 1000);
})();
