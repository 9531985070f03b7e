// A minimal OpenAPI viewer: paths with their parameters, bodies and answers, then schemas.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) {
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function json(value) {
  return el("pre", {}, JSON.stringify(value, null, 2));
}

function parameters(list) {
  const table = el("table", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "in"),
    el("th", {}, "required"), el("th", {}, "schema")));
  for (const p of list) {
    table.append(el("tr", {}, el("td", {}, p.name), el("td", {}, p.in),
      el("td", {}, p.required ? "yes" : ""), el("td", {}, JSON.stringify(p.schema))));
  }
  return table;
}

function operation(path, method, op) {
  const body = el("div", { class: "body" });
  if (op.description) body.append(el("p", {}, op.description));
  if (op.parameters) body.append(el("h4", {}, "Parameters"), parameters(op.parameters));
  if (op.requestBody) body.append(el("h4", {}, "Body"),
    json(op.requestBody.content["application/json"].schema));
  body.append(el("h4", {}, "Responses"));
  for (const [status, answer] of Object.entries(op.responses)) {
    body.append(el("p", {}, `${status}: ${answer.description}`));
  }
  return el("details", { "data-path": path },
    el("summary", {}, el("span", { class: `method ${method}` }, method.toUpperCase()),
      el("span", { class: "path" }, path), ` — ${op.summary || ""}`), body);
}

function render(doc) {
  const paths = document.getElementById("paths");
  paths.replaceChildren();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) paths.append(operation(path, method, op));
  }
  const schemas = document.getElementById("schemas");
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    schemas.append(el("details", {}, el("summary", {}, name), json(schema)));
  }
  document.getElementById("filter").addEventListener("input", (event) => {
    const text = event.target.value.toLowerCase();
    for (const node of paths.children) {
      node.hidden = !node.dataset.path.toLowerCase().includes(text);
    }
  });
}

fetch("/api/v1/openapi.json")
  .then((response) => response.json())
  .then(render)
  .catch((error) => {
    document.getElementById("paths").replaceChildren(el("p", {}, `Failed: ${error}`));
  });
