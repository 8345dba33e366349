// The reference page at /docs: Swagger UI reading the service's OpenAPI document. Relative URLs,
// so that the page also works behind a proxy that serves the service under a path prefix.
window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  deepLinking: true,
  defaultModelsExpandDepth: 0,
});
