// Strings of the export panel, recorder and one-file scene, kept beside those features so they
// can change without touching the page's main string table. One row per string: [English, 中文].

import { language } from "./i18n.js";

const STRINGS = {
  heading: ["Export", "导出"],
  density: ["Density", "密度"],
  full: ["Full", "完整"],
  densityHint: ["Fewer Gaussians load faster on phones and VR headsets; the most visible ones are kept.",
    "高斯越少，在手机和 VR 头显上加载越快；保留最显眼的高斯。"],
  sizeUnknown: ["size…", "大小…"],
  download: ["Download", "下载"],
  html: ["Download as HTML (one file, opens offline)", "下载为 HTML（单个文件，可离线打开）"],
  screenshot: ["Screenshot (PNG)", "截图（PNG）"],
  vr: ["View in VR", "在 VR 中查看"],
  depth: ["Depth map (16-bit PNG, mm)", "深度图（16 位 PNG，毫米）"],
  depthPreview: ["Depth preview (PNG)", "深度预览（PNG）"],
  videoHeading: ["Record video", "录制视频"],
  trajectory: ["Camera path", "相机路径"],
  resolution: ["Resolution", "分辨率"],
  fps: ["Frames per second", "帧率"],
  frames: ["Frames", "帧数"],
  record: ["Record video", "录制视频"],
  cancel: ["Cancel", "取消"],
  progress: ["Frame {done} of {total}", "第 {done} 帧，共 {total} 帧"],
  saved: ["Saved {name} ({size})", "已保存 {name}（{size}）"],
  building: ["Building the HTML file…", "正在生成 HTML 文件…"],
  failed: ["Export failed: {detail}", "导出失败：{detail}"],
  "formats.ply": ["PLY (lossless, SHARP layout)", "PLY（无损，SHARP 格式）"],
  "formats.spz": ["SPZ (compact, Niantic)", "SPZ（紧凑，Niantic）"],
  "formats.splat": [".splat (web viewers)", ".splat（网页查看器）"],
  "formats.compressed.ply": ["Compressed PLY (PlayCanvas, SuperSplat)", "压缩 PLY（PlayCanvas、SuperSplat）"],
  "paths.rotate_forward": ["Rotate forward", "前后环绕"],
  "paths.rotate": ["Rotate", "环绕"],
  "paths.swipe": ["Swipe", "横扫"],
  "paths.shake": ["Shake", "晃动"],
};
const COLUMN = { en: 0, zh: 1 };

/** The string for `key` in the current language, with {name} placeholders filled in. */
export function s(key, vars = {}) {
  const row = STRINGS[key];
  const value = row ? row[COLUMN[language()] ?? 0] ?? row[0] : key;
  return value.replace(/\{(\w+)\}/g, (_, name) => vars[name] ?? "");
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "?";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
