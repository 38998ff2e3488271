// Starts ReDoc on /redoc. A file, not an inline script, so the page works under a
// Content-Security-Policy of script-src 'self'.
"use strict";
(function () {
  var root = document.getElementById("redoc");
  Redoc.init(root.getAttribute("data-spec-url"), {}, root);
})();
