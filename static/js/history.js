// This session's scenes, newest first. Service results survive a page reload (sessionStorage
// keeps their ids, camera and a tiny thumbnail; the scene itself stays on the server); files
// opened from disk are kept in memory only, since their bytes never went to the server.

const STORAGE_KEY = "mlsharp.history";
const MAX_ENTRIES = 8;

export class SessionHistory {
  constructor() {
    this.entries = [];
    this.localBytes = new Map(); // entry key -> Uint8Array, for files opened from disk
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "[]");
      if (Array.isArray(saved)) this.entries = saved.filter((e) => e && e.kind === "result").slice(0, MAX_ENTRIES);
    } catch {
      this.entries = [];
    }
  }

  add(entry, bytes = null) {
    this.entries = this.entries.filter((e) => e.key !== entry.key);
    this.entries.unshift(entry);
    if (bytes) this.localBytes.set(entry.key, bytes);
    for (const dropped of this.entries.splice(MAX_ENTRIES)) this.localBytes.delete(dropped.key);
    this.save();
  }

  remove(key) {
    this.entries = this.entries.filter((e) => e.key !== key);
    this.localBytes.delete(key);
    this.save();
  }

  bytesFor(key) {
    return this.localBytes.get(key) || null;
  }

  save() {
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.entries.filter((e) => e.kind === "result")));
    } catch {
      /* full or disabled storage: the list still works until the page is closed */
    }
  }
}

/** A small JPEG data URL of an image file for the history list (null if the browser can't decode it). */
export async function thumbnailOf(file, size = 96) {
  try {
    const bitmap = await createImageBitmap(file);
    const scale = size / Math.max(bitmap.width, bitmap.height);
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    return canvas.toDataURL("image/jpeg", 0.7);
  } catch {
    return null;
  }
}
