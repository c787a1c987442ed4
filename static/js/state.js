// The page's mutable state, declared in one place so every module reads and writes the same
// fields and a reader can see at a glance what the page remembers. Only the modules that own a
// field write it (named beside each); everyone else reads. Long-lived components (the viewer,
// the export panel) are not state and live in their own modules.

import { SessionHistory } from "./history.js";

export const state = {
  // Photo choice (picking.js)
  photo: null, // the chosen File
  photoSize: null, // {width, height} when the browser can decode it, else null

  // The running generation (generation.js, progress.js)
  busy: null, // AbortController of the running generation, null when idle
  jobId: null, // the service's id of that job once accepted (Cancel also cancels it there)
  stage: null, // its last stage name (a stage.* string key without the prefix)
  elapsedBase: 0, // seconds the service reported at the last answer
  elapsedAt: 0, // performance.now() of that answer, to keep the clock running between polls
  timer: 0, // setInterval id ticking the progress clock

  // The service (status.js)
  healthInfo: null, // GET api/health's answer, null while unreachable

  // What is on screen (scenes.js, result.js)
  history: new SessionHistory(), // this session's scenes (history.js)
  scene: null, // the history entry whose scene the viewer shows, null while nothing is shown
  loading: null, // the entry scenes.js is loading; the scene above stays on screen meanwhile
  viewerInfo: null, // the viewer's numbers for what is on screen ({numSplats, ...}), null when none
  // What the Result card and Download describe, always the scene on screen: a service result
  // ({kind: "result", name, ...its JSON}) or a local file ({kind: "file", name, bytes,
  // num_gaussians, camera}); null while nothing is shown.
  result: null,

  // The error box (errors.js)
  error: null, // {key, vars} of the message shown, re-rendered on a language change

  // The batch queue (batch.js)
  batch: {
    status: null, // the last GET api/batch/{id} answer, null before the first batch
    files: new Map(), // photo name -> File, for the history thumbnails of viewed results
    timer: 0, // setTimeout id of the next poll
    card: null, // the queue's <section>, created on the first batch
  },
};
