// Every user-visible string of the page, and everything else that differs by language, in one
// place: LOCALES maps a language code to its picker label, its <html lang>, the locale numbers
// are formatted in (Intl) and its strings. Markup refers to keys with data-i18n* attributes;
// scripts call t(key, {vars}) and formatNumber(n). Adding a language = adding one block to
// LOCALES; the language picker, <html lang>, number formatting and the browser-preference match
// are all derived from it, so no other file names a language.

export const LOCALES = {
  en: {
    label: "English",
    htmlLang: "en",
    intl: "en",
    strings: {
      "app.title": "MLSharp 3D Maker",
      "app.tagline": "One photo in, a 3D Gaussian-splat scene out.",
      "lang.label": "Language",
      "status.checking": "Connecting…",
      "status.ready": "{backend} on {device}",
      "status.offline": "Service unreachable",
      "banner.preview":
        "Preview mode: the SHARP model is not installed, so scenes are a quick depth-prior approximation of the photo, not real 3D.",
      "banner.howto":
        "To get the real model, run `python app.py --download-model` (2.8 GB), or put sharp_2572gikvuh.pt into model_assets/, then restart.",
      "upload.heading": "Photo",
      "upload.drop": "Drop a photo here (JPEG, PNG, WebP, HEIC) — several, or a .zip of them, make a queue — or a .ply/.spz scene to view it",
      "upload.choose": "Choose a photo…",
      "upload.noPreview": "No preview for this format in the browser; the service can still read it.",
      "upload.size": "{width} × {height} px",
      "settings.heading": "Settings (optional)",
      "settings.focal": "Focal length (pixels)",
      "settings.focalHint": "Leave empty to read it from EXIF (or assume a 30 mm lens).",
      "settings.fov": "…or horizontal field of view (degrees)",
      "upload.tap": "Tap to choose a photo (JPEG, PNG, WebP, HEIC); several, or a .zip of them, make a queue",
      "settings.inputSize": "Quality ↔ speed (network input size)",
      "settings.inputDefault": "Service default",
      "settings.inputDefaultIs": "Service default ({choice})",
      "settings.inputOption": "{side} — {words}, ≈{count} Gaussians",
      "settings.inputHint": "Larger sizes give sharper scenes with more Gaussians, and take longer.",
      "settings.size.512": "fastest, least detail",
      "settings.size.768": "faster, less detail",
      "settings.size.1024": "balanced",
      "settings.size.1536": "best quality, slowest",
      "focal.user": "entered by you",
      "focal.exif-35mm": "from EXIF, 35 mm equivalent",
      "focal.exif-sensor": "from EXIF and the sensor size",
      "focal.exif-focal": "from EXIF",
      "focal.default": "guessed: no EXIF, a 30 mm lens assumed",
      "error.badFocal": "Focal length must be a number of pixels above 0 (you entered “{value}”).",
      "error.badFov": "Field of view must be a number between 1 and 179 degrees (you entered “{value}”).",
      "error.photoTooLarge": "Photo too large: {size} MP, limit {limit} MP. Choose a smaller photo.",
      "viewer.helpTouch": "Orbit: drag · Pan: drag with two fingers · Zoom: pinch · ? shows every gesture",
      "viewer.helpFlyTouch": "Fly: drag to look around · tap Orbit mode to go back",
      "help.open": "Keys and gestures",
      "help.heading": "Keys and gestures",
      "help.gestures": "Touch and mouse",
      "help.keys": "Keys",
      "help.close": "Close",
      "help.g.orbit": "Drag (one finger): orbit around the scene",
      "help.g.pan": "Two fingers, right-drag or Shift+drag: pan",
      "help.g.zoom": "Pinch or mouse wheel: zoom",
      "help.k.pan": "Arrows: pan · Shift+arrows: orbit",
      "help.k.zoom": "+ and −: zoom in and out",
      "help.k.view": "R: reset view · F: fit the scene",
      "help.k.fly": "V: fly mode (W A S D move, Q/E down/up, Shift faster)",
      "help.k.close": "Esc: close this help",
      "settings.apiKey": "API key (only if the service requires one)",
      "generate": "Generate 3D scene",
      "generate.busy": "Working…",
      "cancel": "Cancel",
      "stage.uploading": "Uploading",
      "stage.queued": "Waiting in the queue",
      "stage.loading": "Reading the photo",
      "stage.inference": "Building the 3D scene",
      "stage.saving": "Saving the scene",
      "stage.done": "Done",
      "stage.error": "Failed",
      "stage.downloading": "Loading the scene into the viewer",
      "stage.cancelled": "Cancelled",
      "stage.drafting": "Building a quick draft",
      "stage.draft": "Draft ready; building the full scene",
      "batch.heading": "Queue",
      "batch.summary": "{done} of {total} done · {failed} failed · {cancelled} cancelled",
      "batch.view": "View",
      "batch.cancel": "Cancel",
      "batch.cancelAll": "Cancel all",
      "batch.download": "Download all (.zip)",
      "batch.skipped": "Not photos, skipped: {names}",
      "progress.elapsed": "{seconds} s",
      "result.heading": "Result",
      "result.gaussians": "Gaussians",
      "result.backend": "Backend",
      "result.focal": "Focal length",
      "result.time": "Processing time",
      "result.cached": "(cached)",
      "result.download": "Download {format}",
      "result.localFile": "None: a file from this computer",
      "result.previewNote": "Made by the preview backend (not SHARP).",
      "result.draftNote": "A quick draft: the full scene replaces it when it is ready.",
      "history.heading": "This session",
      "history.empty": "Scenes you make or open appear here.",
      "history.open": "Open {name}",
      "history.remove": "Remove {name} from this list",
      "history.gone": "That scene is no longer on the server (the cache dropped it). Generate it again.",
      "open.heading": "View an existing scene",
      "open.button": "Open a .ply or .spz file…",
      "open.hint": "Viewed locally in the browser; nothing is uploaded.",
      "viewer.empty": "Your 3D scene will appear here.",
      "viewer.loading": "Loading scene…",
      "viewer.draft": "Draft · the full scene is on its way",
      "viewer.canvasLabel":
        "3D scene viewer. Drag to orbit, right-drag to pan, wheel to zoom. Keys: arrows pan, Shift+arrows orbit, + and − zoom, R reset, F fit, V fly mode.",
      "viewer.toolbar": "Viewer controls",
      "viewer.reset": "Reset view",
      "viewer.resetTitle": "Back to the photo's own viewpoint (R)",
      "viewer.fit": "Fit scene",
      "viewer.fitTitle": "Frame the whole scene (F)",
      "viewer.fly": "Fly mode",
      "viewer.flyTitle": "WASD to move, Q/E down/up, drag or arrows to look, Shift for speed (V)",
      "viewer.orbitMode": "Orbit mode",
      "viewer.freeOrbit": "Free orbit",
      "viewer.freeOrbitTitle":
        "Orbit without limits. A scene made from one photo only holds up near the photo's viewpoint, so by default the view stays within about 25° of it",
      "viewer.splatScale": "Splat size",
      "viewer.fullscreen": "Fullscreen",
      "viewer.exitFullscreen": "Exit fullscreen",
      "viewer.helpOrbit": "Orbit: drag · Pan: right-drag or Shift+drag · Zoom: wheel or pinch · Keys: R reset, F fit, V fly",
      "viewer.helpFly": "Fly: W A S D move · Q/E down/up · drag or arrows look · Shift faster · V back to orbit",
      "viewer.stats": "{count} Gaussians · {source}",
      "viewer.slowSoftware": "This browser draws 3D without a graphics card (software rendering), so each frame can take seconds.",
      "viewer.slowFrames": "The viewer is drawing slowly (about {ms} ms a frame).",
      "viewer.lighterOff": "A lighter view shows fewer Gaussians; downloads keep the full scene.",
      "viewer.lighterOn": "Lighter view is on: fewer Gaussians on screen, downloads keep the full scene.",
      "viewer.lighter": "Lighter view",
      "viewer.lighterTitle": "Show a quarter of the Gaussians (at most 150,000) in the viewer only",
      "viewer.lighterFile": "Scenes opened from a file are shown in full; the lighter view applies to scenes made here",
      "error.notPhoto": "“{name}” is not a photo this service can read. Use a JPEG, PNG, WebP or HEIC image.",
      "error.notScene": "“{name}” is not a .ply or .spz scene.",
      "error.rejected": "The photo was rejected: {detail}",
      "error.tooLarge": "The file is too large: {detail}",
      "error.busy": "The service is busy or not ready. Please try again{retry}. ({detail})",
      "error.retryIn": " in {seconds} s",
      "error.rateLimited": "Too many requests. Please wait{retry} and try again.",
      "error.auth": "The service needs an API key. Enter it under Settings. ({detail})",
      "error.failed": "Generation failed: {detail}",
      "error.timeout": "Generation took too long and was stopped: {detail}",
      "error.network": "Cannot reach the service. Is it still running?",
      "error.viewer": "The scene could not be displayed: {detail}",
      "error.fovNeedsImage": "A field of view needs the image size, which the browser cannot read for this format. Give the focal length in pixels instead.",
      "error.dismiss": "Dismiss",
      "source.photo": "from {name}",
      "source.file": "file {name}",
      "backend.sharp": "SHARP",
      "backend.preview": "Preview",
      "footer.offline": "Runs entirely on this machine: no page asset or request leaves it.",
      "export.heading": "Export",
      "export.htmlHelp": "Drag to orbit, scroll to zoom, right-drag to pan.",
      "export.density": "Density",
      "export.full": "Full",
      "export.densityHint": "Fewer Gaussians load faster on phones and VR headsets; the most visible ones are kept.",
      "export.sizeUnknown": "size…",
      "export.download": "Download",
      "export.html": "Download as HTML (one file, opens offline)",
      "export.screenshot": "Screenshot (PNG)",
      "export.vr": "View in VR",
      "export.depth": "Depth map (16-bit PNG, mm)",
      "export.depthPreview": "Depth preview (PNG)",
      "export.videoHeading": "Record video",
      "export.trajectory": "Camera path",
      "export.resolution": "Resolution",
      "export.fps": "Frames per second",
      "export.frames": "Frames",
      "export.record": "Record video",
      "export.cancel": "Cancel",
      "export.progress": "Frame {done} of {total}",
      "export.saved": "Saved {name} ({size})",
      "export.building": "Building the HTML file…",
      "export.failed": "Export failed: {detail}",
      "export.formats.ply": "PLY (lossless, SHARP layout)",
      "export.formats.spz": "SPZ (compact, Niantic)",
      "export.formats.splat": ".splat (web viewers)",
      "export.formats.compressed.ply": "Compressed PLY (PlayCanvas, SuperSplat)",
      "export.paths.rotate_forward": "Rotate forward",
      "export.paths.rotate": "Rotate",
      "export.paths.swipe": "Swipe",
      "export.paths.shake": "Shake",
    },
  },
  zh: {
    label: "中文",
    htmlLang: "zh-CN",
    intl: "zh-CN",
    strings: {
      "app.title": "MLSharp 3D 生成器",
      "app.tagline": "一张照片，生成 3D 高斯泼溅场景。",
      "lang.label": "语言",
      "status.checking": "正在连接…",
      "status.ready": "{backend} · {device}",
      "status.offline": "无法连接服务",
      "banner.preview": "预览模式：未安装 SHARP 模型，生成的场景只是基于深度先验的照片近似，并非真正的 3D 重建。",
      "banner.howto":
        "获取真实模型：运行 `python app.py --download-model`（2.8 GB），或将 sharp_2572gikvuh.pt 放入 model_assets/ 目录，然后重启服务。",
      "upload.heading": "照片",
      "upload.drop": "将照片拖放到这里（JPEG、PNG、WebP、HEIC）——多张照片或其 .zip 会排成队列——或拖入 .ply/.spz 场景直接查看",
      "upload.choose": "选择照片…",
      "upload.noPreview": "浏览器无法预览此格式，但服务端仍可读取。",
      "upload.size": "{width} × {height} 像素",
      "settings.heading": "设置（可选）",
      "settings.focal": "焦距（像素）",
      "settings.focalHint": "留空则从 EXIF 读取（或按 30 mm 镜头估计）。",
      "settings.fov": "…或水平视场角（度）",
      "upload.tap": "点按选择照片（JPEG、PNG、WebP、HEIC）；多张照片或其 .zip 会排成队列",
      "settings.inputSize": "质量 ↔ 速度（网络输入尺寸）",
      "settings.inputDefault": "服务默认值",
      "settings.inputDefaultIs": "服务默认值（{choice}）",
      "settings.inputOption": "{side} — {words}，约 {count} 个高斯",
      "settings.inputHint": "尺寸越大，场景越清晰、高斯越多，但耗时越长。",
      "settings.size.512": "最快，细节最少",
      "settings.size.768": "较快，细节较少",
      "settings.size.1024": "均衡",
      "settings.size.1536": "质量最佳，最慢",
      "focal.user": "由你填写",
      "focal.exif-35mm": "来自 EXIF（35 mm 等效）",
      "focal.exif-sensor": "来自 EXIF 与传感器尺寸",
      "focal.exif-focal": "来自 EXIF",
      "focal.default": "估计值：无 EXIF，按 30 mm 镜头",
      "error.badFocal": "焦距必须是大于 0 的像素数（你填写的是“{value}”）。",
      "error.badFov": "视场角必须是 1 到 179 度之间的数字（你填写的是“{value}”）。",
      "error.photoTooLarge": "照片太大：{size} MP，上限 {limit} MP。请选择更小的照片。",
      "viewer.helpTouch": "旋转：拖动 · 平移：双指拖动 · 缩放：双指捏合 · 点 ? 查看全部手势",
      "viewer.helpFlyTouch": "飞行：拖动环顾四周 · 点“环绕模式”返回",
      "help.open": "按键与手势",
      "help.heading": "按键与手势",
      "help.gestures": "触摸与鼠标",
      "help.keys": "按键",
      "help.close": "关闭",
      "help.g.orbit": "拖动（单指）：绕场景旋转",
      "help.g.pan": "双指、右键拖动或 Shift+拖动：平移",
      "help.g.zoom": "双指捏合或鼠标滚轮：缩放",
      "help.k.pan": "方向键：平移 · Shift+方向键：旋转",
      "help.k.zoom": "+ 和 −：放大和缩小",
      "help.k.view": "R：重置视角 · F：适配场景",
      "help.k.fly": "V：飞行模式（W A S D 移动，Q/E 下降/上升，Shift 加速）",
      "help.k.close": "Esc：关闭帮助",
      "settings.apiKey": "API 密钥（仅当服务要求时填写）",
      "generate": "生成 3D 场景",
      "generate.busy": "处理中…",
      "cancel": "取消",
      "stage.uploading": "正在上传",
      "stage.queued": "排队等待中",
      "stage.loading": "正在读取照片",
      "stage.inference": "正在构建 3D 场景",
      "stage.saving": "正在保存场景",
      "stage.done": "完成",
      "stage.error": "失败",
      "stage.downloading": "正在将场景载入查看器",
      "stage.cancelled": "已取消",
      "stage.drafting": "正在生成快速草稿",
      "stage.draft": "草稿已就绪，正在构建完整场景",
      "batch.heading": "队列",
      "batch.summary": "已完成 {done}/{total} · 失败 {failed} · 已取消 {cancelled}",
      "batch.view": "查看",
      "batch.cancel": "取消",
      "batch.cancelAll": "全部取消",
      "batch.download": "全部下载 (.zip)",
      "batch.skipped": "不是照片，已跳过：{names}",
      "progress.elapsed": "{seconds} 秒",
      "result.heading": "结果",
      "result.gaussians": "高斯数量",
      "result.backend": "后端",
      "result.focal": "焦距",
      "result.time": "处理时间",
      "result.cached": "（缓存）",
      "result.download": "下载 {format}",
      "result.localFile": "无：本机文件",
      "result.previewNote": "由预览后端生成（非 SHARP）。",
      "result.draftNote": "快速草稿：完整场景就绪后会替换它。",
      "history.heading": "本次会话",
      "history.empty": "你生成或打开的场景会显示在这里。",
      "history.open": "打开 {name}",
      "history.remove": "从列表中移除 {name}",
      "history.gone": "该场景已不在服务器上（已被缓存清除），请重新生成。",
      "open.heading": "查看已有场景",
      "open.button": "打开 .ply 或 .spz 文件…",
      "open.hint": "在浏览器本地查看，不会上传。",
      "viewer.empty": "生成的 3D 场景将显示在这里。",
      "viewer.loading": "正在加载场景…",
      "viewer.draft": "草稿 · 完整场景即将到来",
      "viewer.canvasLabel":
        "3D 场景查看器。拖动旋转，右键拖动平移，滚轮缩放。按键：方向键平移，Shift+方向键旋转，+ 和 − 缩放，R 重置，F 适配，V 飞行模式。",
      "viewer.toolbar": "查看器控制",
      "viewer.reset": "重置视角",
      "viewer.resetTitle": "回到照片本身的视角（R）",
      "viewer.fit": "适配场景",
      "viewer.fitTitle": "完整显示整个场景（F）",
      "viewer.fly": "飞行模式",
      "viewer.flyTitle": "WASD 移动，Q/E 下降/上升，拖动或方向键转向，Shift 加速（V）",
      "viewer.orbitMode": "环绕模式",
      "viewer.freeOrbit": "自由环绕",
      "viewer.freeOrbitTitle": "不受限制地环绕。单张照片生成的场景只在照片视角附近成立，因此默认视角保持在其约 25° 范围内",
      "viewer.splatScale": "泼溅大小",
      "viewer.fullscreen": "全屏",
      "viewer.exitFullscreen": "退出全屏",
      "viewer.helpOrbit": "旋转：拖动 · 平移：右键拖动或 Shift+拖动 · 缩放：滚轮或双指 · 按键：R 重置，F 适配，V 飞行",
      "viewer.helpFly": "飞行：W A S D 移动 · Q/E 下降/上升 · 拖动或方向键转向 · Shift 加速 · V 返回环绕",
      "viewer.stats": "{count} 个高斯 · {source}",
      "viewer.slowSoftware": "此浏览器在没有显卡的情况下绘制 3D（软件渲染），每帧可能需要数秒。",
      "viewer.slowFrames": "查看器绘制较慢（每帧约 {ms} 毫秒）。",
      "viewer.lighterOff": "轻量视图显示较少的高斯；下载的仍是完整场景。",
      "viewer.lighterOn": "轻量视图已开启：屏幕上显示较少的高斯，下载的仍是完整场景。",
      "viewer.lighter": "轻量视图",
      "viewer.lighterTitle": "仅在查看器中显示四分之一的高斯（最多 150,000 个）",
      "viewer.lighterFile": "从文件打开的场景按完整显示；轻量视图适用于在此生成的场景",
      "error.notPhoto": "“{name}” 不是本服务可读取的照片。请使用 JPEG、PNG、WebP 或 HEIC 图像。",
      "error.notScene": "“{name}” 不是 .ply 或 .spz 场景文件。",
      "error.rejected": "照片被拒绝：{detail}",
      "error.tooLarge": "文件太大：{detail}",
      "error.busy": "服务繁忙或尚未就绪，请{retry}重试。（{detail}）",
      "error.retryIn": " {seconds} 秒后",
      "error.rateLimited": "请求过于频繁，请{retry}再试。",
      "error.auth": "服务需要 API 密钥，请在“设置”中填写。（{detail}）",
      "error.failed": "生成失败：{detail}",
      "error.timeout": "生成超时，已被中止：{detail}",
      "error.network": "无法连接服务，它是否仍在运行？",
      "error.viewer": "无法显示该场景：{detail}",
      "error.fovNeedsImage": "视场角需要图像尺寸，但浏览器无法读取此格式。请改为填写以像素为单位的焦距。",
      "error.dismiss": "关闭",
      "source.photo": "来自 {name}",
      "source.file": "文件 {name}",
      "backend.sharp": "SHARP",
      "backend.preview": "预览",
      "footer.offline": "完全在本机运行：页面资源和请求都不会离开这台机器。",
      "export.heading": "导出",
      "export.htmlHelp": "拖动旋转，滚轮缩放，右键拖动平移。",
      "export.density": "密度",
      "export.full": "完整",
      "export.densityHint": "高斯越少，在手机和 VR 头显上加载越快；保留最显眼的高斯。",
      "export.sizeUnknown": "大小…",
      "export.download": "下载",
      "export.html": "下载为 HTML（单个文件，可离线打开）",
      "export.screenshot": "截图（PNG）",
      "export.vr": "在 VR 中查看",
      "export.depth": "深度图（16 位 PNG，毫米）",
      "export.depthPreview": "深度预览（PNG）",
      "export.videoHeading": "录制视频",
      "export.trajectory": "相机路径",
      "export.resolution": "分辨率",
      "export.fps": "帧率",
      "export.frames": "帧数",
      "export.record": "录制视频",
      "export.cancel": "取消",
      "export.progress": "第 {done} 帧，共 {total} 帧",
      "export.saved": "已保存 {name}（{size}）",
      "export.building": "正在生成 HTML 文件…",
      "export.failed": "导出失败：{detail}",
      "export.formats.ply": "PLY（无损，SHARP 格式）",
      "export.formats.spz": "SPZ（紧凑，Niantic）",
      "export.formats.splat": ".splat（网页查看器）",
      "export.formats.compressed.ply": "压缩 PLY（PlayCanvas、SuperSplat）",
      "export.paths.rotate_forward": "前后环绕",
      "export.paths.rotate": "环绕",
      "export.paths.swipe": "横扫",
      "export.paths.shake": "晃动",
    },
  },
};

const STORAGE_KEY = "mlsharp.lang";
const FALLBACK = "en";
let current = FALLBACK;
const listeners = new Set();

/** The locale whose code or html lang the browser's preferred languages name first. */
function browserLanguage() {
  for (const wanted of (navigator.languages?.length ? navigator.languages : [navigator.language || ""])) {
    const tag = wanted.toLowerCase();
    for (const [code, locale] of Object.entries(LOCALES)) {
      const own = locale.htmlLang.toLowerCase();
      if (tag === own || tag === code || tag.startsWith(`${code}-`) || own.startsWith(`${tag}-`)) return code;
    }
  }
  return FALLBACK;
}

function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved && LOCALES[saved]) return saved;
  } catch {
    /* storage disabled: fall through to the browser's preference */
  }
  return browserLanguage();
}

export function language() {
  return current;
}

/** The string for key in the current language (English as fallback), with {name} filled in. */
export function t(key, vars = {}) {
  const template = LOCALES[current].strings[key] ?? LOCALES[FALLBACK].strings[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** The current language's <html lang> tag (for documents the page writes, like the one-file scene). */
export function htmlLang() {
  return LOCALES[current].htmlLang;
}

/** A number written the current language's way (digit grouping). */
export function formatNumber(value, options) {
  return Number(value).toLocaleString(LOCALES[current].intl, options);
}

/** Fill every data-i18n* attribute under root. */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const [attr, name] of [
    ["i18nTitle", "title"],
    ["i18nAriaLabel", "aria-label"],
    ["i18nPlaceholder", "placeholder"],
  ]) {
    const selector = `[data-${attr.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}]`;
    for (const el of root.querySelectorAll(selector)) el.setAttribute(name, t(el.dataset[attr]));
  }
  document.documentElement.lang = htmlLang();
  document.title = t("app.title");
}

export function setLanguage(code) {
  if (!LOCALES[code]) return;
  current = code;
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    /* not persisted: fine */
  }
  translate();
  for (const fn of listeners) fn(code);
}

export function onLanguageChange(fn) {
  listeners.add(fn);
}

/** Fill a <select> with one option per locale and switch language when it changes. */
export function setupLanguagePicker(select) {
  select.replaceChildren(...Object.entries(LOCALES).map(([code, { label, htmlLang }]) => {
    const option = new Option(label, code);
    option.lang = htmlLang; // screen readers read each name in its own language
    return option;
  }));
  select.value = current;
  select.addEventListener("change", () => setLanguage(select.value));
  onLanguageChange(() => { select.value = current; });
}

current = initialLanguage();
