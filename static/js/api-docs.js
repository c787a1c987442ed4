// Starts Swagger UI (/docs) or ReDoc (/redoc) from the vendored bundles. A file rather than an
// inline script, so the pages keep the Content-Security-Policy of the rest of the service.
const swagger = document.getElementById("swagger-ui");
if (swagger && window.SwaggerUIBundle) {
  window.SwaggerUIBundle({
    url: swagger.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // the public validator would be a request to another host
  });
}
const redoc = document.getElementById("redoc");
if (redoc && window.Redoc) {
  window.Redoc.init(redoc.dataset.openapi, { hideDownloadButton: false }, redoc);
}
