// @ts-check
// Small DOM helpers. User text always goes in as text nodes, never as markup.
import { marked } from "marked";
import DOMPurify from "dompurify";

/** What `h` takes as a child: nodes, text, numbers; null, undefined and false are left out. */
/** @typedef {Node | string | number | boolean | null | undefined} Child */
/** @typedef {Child | (Child | Child[])[]} Children */

/**
 * An element: `attrs` are attributes, except `on…` (listeners), `class`, `dataset`, `style`
 * and non-string values of the element's own properties (`checked: true`, `disabled: false`);
 * null, undefined and false leave an attribute out.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...Children} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "style") node.style.cssText = value; // the CSP refuses style attributes, not this
    else if (name in node && typeof value !== "string") /** @type {any} */ (node)[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of /** @type {Child[]} */ (children.flat(Infinity))) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const SVG = "http://www.w3.org/2000/svg";
/**
 * An SVG element with its attributes.
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string | number>} [attrs]
 * @returns {SVGElementTagNameMap[K]}
 */
export function s(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
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
/** @type {Record<string, string>} */
const escapes = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (/** @type {string} */ text) => text.replace(/[&<>"']/g, (c) => escapes[c]);
marked.use({ renderer: { html: (token) => escapeHtml(typeof token === "string" ? token : token.text) } });

/** Markdown as sanitized HTML: no scripts, no event handlers, links open in a new tab.
 * @param {string | null | undefined} text */
export function markdown(text) {
  const box = h("div", { class: "markdown" });
  box.innerHTML = DOMPurify.sanitize(marked.parse(text || "", { async: false }), {
    FORBID_TAGS: ["style", "form", "input", "iframe"],
  });
  return box;
}

/** Shows an error in the page's error line (null clears it). @param {unknown} error */
export function showError(error) {
  const target = document.getElementById("error");
  if (!target) return;
  target.textContent = error ? /** @type {{message?: string}} */ (error).message || String(error) : "";
}

const palette = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#469990", "#800000"];
/** A label class's colour, by its place in the project's classes.
 * @param {{name: string}[]} classes @param {string} label */
export function colorOf(classes, label) {
  const index = classes.findIndex((c) => c.name === label);
  return palette[(index < 0 ? 0 : index) % palette.length];
}

/** A value as words: `needs_review` → "needs review". @param {unknown} value */
export const words = (value) => String(value).replaceAll("_", " ");
