// orun dashboard: refreshes the page in place. Every few seconds it fetches the page it is on
// from the same host and swaps the parts marked data-live, keeping keyboard focus where it was.
// Without this script the page still works: it reloads itself (a refresh inside <noscript>).
(function () {
  "use strict";
  var seconds = Number(document.body.getAttribute("data-refresh")) || 4;
  var lastGood = new Date();

  function focusKey(element) {
    if (!element || element === document.body) return null;
    if (element.id) return "#" + CSS.escape(element.id);
    if (element.getAttribute("href")) return 'a[href="' + CSS.escape(element.getAttribute("href")) + '"]';
    return null;
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
    var key = focusKey(document.activeElement);
    var parts = document.querySelectorAll("[data-live]");
    for (var i = 0; i < parts.length; i++) {
      var next = fresh.getElementById(parts[i].id);
      if (next) parts[i].replaceWith(document.adoptNode(next));
    }
    document.title = fresh.title;
    if (key) {
      var again = document.querySelector(key);
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
