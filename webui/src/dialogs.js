// @ts-check
// Confirmation before anything that loses work: the dialog names what will be lost and how
// much, and the button says what it does. Optionally asks for a note (a rejection's reason).
import { h } from "./dom.js";

/**
 * @param {object} options
 * @param {string} options.title
 * @param {(string | Node)[]} options.body what will happen, what is lost, how many items
 * @param {string} options.confirm the button's words ("Delete the project")
 * @param {boolean} [options.danger]
 * @param {string} [options.note] a label for an optional note field
 * @param {string} [options.typeToConfirm] a text to type before the button works (deleting a project)
 * @returns {Promise<{ok: boolean, note: string}>}
 */
export function confirmAction({ title, body, confirm, danger = false, note, typeToConfirm }) {
  return new Promise((resolve) => {
    const noteField = note ? h("textarea", { id: "confirm-note", rows: 3, maxlength: 2000, placeholder: note }) : null;
    const typed = typeToConfirm ? h("input", { id: "confirm-typed", autocomplete: "off", placeholder: typeToConfirm }) : null;
    const ok = h("button", { type: "button", id: "confirm-ok", class: danger ? "danger" : "primary", disabled: !!typeToConfirm }, confirm);
    const cancel = h("button", { type: "button", id: "confirm-cancel" }, "Cancel");
    const dialog = h("dialog", { id: "confirm-dialog", class: "confirm" }, h("h2", {}, title), ...body.map((part) => (typeof part === "string" ? h("p", {}, part) : part)),
      noteField ? h("label", {}, note, noteField) : "",
      typed ? h("label", {}, `Type “${typeToConfirm}” to confirm `, typed) : "",
      h("div", { class: "actions" }, ok, cancel));
    let answered = false;
    /** @param {boolean} yes */
    const answer = (yes) => {
      if (answered) return;
      answered = true;
      resolve({ ok: yes, note: noteField ? /** @type {HTMLTextAreaElement} */ (noteField).value.trim() : "" });
      dialog.close();
      dialog.remove();
    };
    typed?.addEventListener("input", () => { /** @type {HTMLButtonElement} */ (ok).disabled = /** @type {HTMLInputElement} */ (typed).value.trim() !== typeToConfirm; });
    ok.addEventListener("click", () => answer(true));
    cancel.addEventListener("click", () => answer(false));
    dialog.addEventListener("close", () => answer(false));
    document.body.append(dialog);
    /** @type {HTMLDialogElement} */ (dialog).showModal();
    (noteField || typed || cancel).focus();
  });
}
