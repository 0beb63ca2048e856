// Which scripts run where, in load order: used by the build (manifests) and the tests.
export const CONTENT_SCRIPTS = [
  "vendor/Readability.js",
  "vendor/Readability-readerable.js",
  "shared/messages.js",
  "shared/settings.js",
  "shared/render.js",
  "content/blocks.js",
  "content/anchor.js",
  "content/highlight.js",
  "content/card.js",
  "content/controller.js",
  "content/main.js",
];
export const BACKGROUND_SCRIPTS = [
  "shared/messages.js",
  "shared/settings.js",
  "shared/apikey.js",
  "background/api.js",
  "background/worker.js",
];
