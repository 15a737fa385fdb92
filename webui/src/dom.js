// Small DOM helpers. User text always goes in as text nodes, never as markup.
import { marked } from "marked";
import DOMPurify from "dompurify";

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "style") node.style.cssText = value; // the CSP refuses style attributes, not this
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const SVG = "http://www.w3.org/2000/svg";
export function s(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

// Raw HTML in markdown shows as the text it is: nothing a user wrote is ever parsed as markup
// (DOMPurify stays as the second line, for what markdown itself makes).
const escapes = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => escapes[c]);
marked.use({ renderer: { html: (token) => escapeHtml(typeof token === "string" ? token : token.text) } });

/** Markdown as sanitized HTML: no scripts, no event handlers, links open in a new tab. */
export function markdown(text) {
  const box = h("div", { class: "markdown" });
  box.innerHTML = DOMPurify.sanitize(marked.parse(text || "", { async: false }), {
    FORBID_TAGS: ["style", "form", "input", "iframe"],
  });
  return box;
}

export function showError(error) {
  const target = document.getElementById("error");
  target.textContent = error ? error.message || String(error) : "";
}

const palette = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#469990", "#800000"];
export function colorOf(classes, label) {
  const index = classes.findIndex((c) => c.name === label);
  return palette[(index < 0 ? 0 : index) % palette.length];
}

export const words = (value) => String(value).replaceAll("_", " ");
