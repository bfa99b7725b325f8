// Starts Swagger UI on /docs from the package's own files. A file, not an inline script, so
// a strict Content-Security-Policy (script-src 'self') can apply to /docs too.
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: false, // true puts a link inside each operation's button (axe: nested-interactive)
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null, // the validator badge would send the description's URL to validator.swagger.io
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });

  // Swagger UI 5 leaves its "Try it out" fields without a name and its examples unreachable by
  // keyboard (axe: label, select-name, scrollable-region-focusable). Name each field after its
  // parameter or body property, and let the keyboard reach the example blocks.
  function repair() {
    root.querySelectorAll("input, select, textarea").forEach(function (field) {
      if (field.getAttribute("aria-label") || field.labels.length) return;
      var row = field.closest("[data-param-name], [data-property-name]");
      var name = row ? row.dataset.paramName || row.dataset.propertyName : null;
      if (!name && field.classList.contains("body-param__text")) name = "Request body (JSON)";
      if (name) field.setAttribute("aria-label", name);
    });
    root.querySelectorAll("pre.microlight:not([tabindex])").forEach(function (block) {
      block.setAttribute("tabindex", "0");
    });
  }
  new MutationObserver(repair).observe(root, { childList: true, subtree: true });
})();
