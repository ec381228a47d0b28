/* Follow the visitor's light or dark preference with Bootstrap's colour modes.
   Loaded synchronously in <head> so the page never flashes the wrong theme. */
(function () {
  "use strict";
  var query = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function apply() {
    var theme = query && query.matches ? "dark" : "light";
    document.documentElement.setAttribute("data-bs-theme", theme);
  }

  apply();
  if (query) {
    if (query.addEventListener) {
      query.addEventListener("change", apply);
    } else if (query.addListener) {
      query.addListener(apply);
    }
  }
})();
