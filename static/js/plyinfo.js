// Reads the camera a SHARP .ply records about its photo (the "intrinsic" and "image_size"
// elements after the vertices), so a dropped file opens at the photo's own viewpoint just like
// a freshly generated scene. Other tools' PLYs simply have no such elements: null.

const SIZES = {
  char: 1, int8: 1, uchar: 1, uint8: 1, short: 2, int16: 2, ushort: 2, uint16: 2,
  int: 4, int32: 4, uint: 4, uint32: 4, float: 4, float32: 4, double: 8, float64: 8,
};

export function sharpCameraFromPly(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const headText = new TextDecoder("latin1").decode(view.subarray(0, Math.min(view.length, 65536)));
  const end = headText.indexOf("end_header\n");
  if (!headText.startsWith("ply\n") || end < 0) return null;
  if (!/^format binary_little_endian /m.test(headText.slice(0, end))) return null;
  const elements = [];
  for (const line of headText.slice(0, end).split("\n")) {
    const words = line.trim().split(/\s+/);
    if (words[0] === "element") elements.push({ name: words[1], count: Number(words[2]), props: [] });
    else if (words[0] === "property" && elements.length) {
      if (words[1] === "list") return null; // variable-size rows: not a splat file we can index
      elements[elements.length - 1].props.push({ type: words[1], name: words[2] });
    }
  }
  const data = new DataView(view.buffer, view.byteOffset, view.byteLength);
  let offset = end + "end_header\n".length;
  const found = {};
  for (const element of elements) {
    const stride = element.props.reduce((sum, p) => sum + (SIZES[p.type] || NaN), 0);
    if (!Number.isFinite(stride)) return null;
    if (element.name === "intrinsic" && element.count === 9 && element.props[0].type === "float") {
      if (offset + 36 > view.length) return null;
      found.fPx = data.getFloat32(offset, true);
    }
    if (element.name === "image_size" && element.count === 2 && element.props[0].type.startsWith("uint")) {
      if (offset + 8 > view.length) return null;
      found.width = data.getUint32(offset, true);
      found.height = data.getUint32(offset + 4, true);
    }
    offset += stride * element.count;
  }
  const ok = found.fPx > 0 && found.width > 0 && found.height > 0;
  return ok ? { fPx: found.fPx, width: found.width, height: found.height } : null;
}
