// Small DOM helpers every page module uses.

export const $ = (id) => document.getElementById(id);

/** Hand `blob` to the browser as a download called `name`. */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000); // the download has its own copy by then
}
