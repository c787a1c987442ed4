// Starts the page: each module wires its own part (one job each) and keeps what it remembers in
// state.js; strings come from i18n.js only. Who does what:
//   picking.js     photo / scene choice, drops          generation.js  one photo to one scene
//   progress.js    stage line, Generate/Cancel buttons  batch.js       several photos at once
//   scenes.js      what the viewer shows, stats line    result.js      Result card, Download, Export
//   history_list.js the session list                    toolbar.js     viewer buttons and keys
//   status.js      service pill, preview banner         errors.js      the error box
//   settings.js    size choice words, pixel limit       help.js        the "?" keys and gestures overlay
//   touch.js       touch-device wording

import { setupLanguagePicker, translate } from "./i18n.js";
import { apiKey, setApiKey } from "./api.js";
import { $ } from "./dom.js";
import { setupBatch } from "./batch.js";
import { setupErrors, showProblem } from "./errors.js";
import { readSettings, setupGeneration } from "./generation.js";
import { setupPicking } from "./picking.js";
import { setupProgress } from "./progress.js";
import { setupResult } from "./result.js";
import { setupScenes, showResult } from "./scenes.js";
import { setupSettings } from "./settings.js";
import { setupHelp } from "./help.js";
import { applyTouchWording } from "./touch.js";
import { setupStatus } from "./status.js";
import { setupToolbar } from "./toolbar.js";

function setupApiKey() {
  const input = $("key-input");
  input.value = apiKey();
  input.addEventListener("change", () => setApiKey(input.value.trim()));
}

function start() {
  applyTouchWording(); // before the first translate(): touch devices get touch words
  setupLanguagePicker($("lang-select"));
  setupErrors();
  setupProgress();
  setupResult();
  setupScenes();
  setupToolbar();
  setupHelp();
  setupSettings();
  setupPicking();
  setupGeneration();
  setupApiKey();
  setupBatch({
    settings: readSettings,
    view: (result, name, thumb) => showResult(result, name, thumb),
    error: showProblem,
  });
  translate();
  setupStatus();
}

start();
