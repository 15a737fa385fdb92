// @ts-check
// Which files a project takes (as ingestion does: by extension, per media kind), and uploading
// many of them so that one bad file never stops the rest: each refused file is listed with the
// reason, the others go on.
import { upload } from "./api.js";

export const IMAGE_TYPES = [".jpg", ".jpeg", ".png", ".jpe", ".jfif", ".bmp", ".tif", ".tiff", ".dcm", ".dicom"];
export const TEXT_TYPES = [".txt", ".csv", ".tsv", ".jsonl"];

/** @typedef {{name: string, size: number, webkitRelativePath?: string}} FileLike */

/** The path a file is uploaded under. @param {FileLike} file */
export const pathOf = (file) => file.webkitRelativePath || file.name;

/**
 * Splits files into those a project of `taskType` takes and those it would skip, with why.
 * Hidden files (".DS_Store"), system files (Thumbs.db) and other types are skipped.
 * @template {FileLike} F
 * @param {string} taskType @param {F[]} files
 * @returns {{take: F[], skip: {file: F, reason: string}[]}}
 */
export function sortFiles(taskType, files) {
  const text = taskType.startsWith("text_");
  const types = text ? TEXT_TYPES : IMAGE_TYPES;
  /** @type {F[]} */
  const take = [];
  /** @type {{file: F, reason: string}[]} */
  const skip = [];
  for (const file of files) {
    const name = pathOf(file).split("/").pop() || "";
    const dot = name.lastIndexOf(".");
    const ext = dot > 0 ? name.slice(dot).toLowerCase() : "";
    if (name.startsWith(".")) skip.push({ file, reason: "a hidden file" });
    else if (!types.includes(ext)) skip.push({ file, reason: `not ${text ? "text" : "an image"} this project takes (${types.join(" ")})` });
    else if (file.size === 0) skip.push({ file, reason: "empty" });
    else take.push(file);
  }
  return { take, skip };
}

/**
 * Uploads `files` four at a time; a file the server refuses is reported, never fatal.
 * @param {string} projectId @param {File[]} files
 * @param {(done: number, sentBytes: number) => void} onProgress
 * @returns {Promise<{uploaded: number, failed: {path: string, reason: string}[]}>}
 */
export async function uploadAll(projectId, files, onProgress) {
  const queue = [...files];
  /** @type {{path: string, reason: string}[]} */
  const failed = [];
  let uploaded = 0; let sent = 0;
  const worker = async () => {
    for (let file = queue.shift(); file; file = queue.shift()) {
      let mine = 0;
      const path = pathOf(file);
      const once = () => upload(projectId, path, file, (/** @type {number} */ loaded) => { sent += loaded - mine; mine = loaded; onProgress(uploaded, sent); });
      try {
        await once().catch((e) => (e.status >= 500 || e.status === 0 || e.status === 429 ? once() : Promise.reject(e)));
        uploaded += 1;
      } catch (e) {
        failed.push({ path, reason: /** @type {Error} */ (e).message });
      }
      sent += file.size - mine;
      onProgress(uploaded, sent);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return { uploaded, failed };
}
