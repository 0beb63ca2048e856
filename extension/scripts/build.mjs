// Build the unpacked extensions: dist/chrome (MV3 service worker) and dist/firefox
// (MV3 background scripts), from src/ plus Readability from node_modules.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BACKGROUND_SCRIPTS, CONTENT_SCRIPTS } from "./layout.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const readabilityDir = dirname(require.resolve("@mozilla/readability/package.json"));

const DEFAULT_SERVICE = "http://127.0.0.1:8080/*";
// Another service than the default, asked for by the options page when the reader saves it:
// https anywhere, plain http only on this computer (shared/settings.js checkServiceUrl).
const OTHER_SERVICES = ["https://*/*", "http://127.0.0.1/*", "http://localhost/*", "http://[::1]/*"];

function manifest(browser) {
  const base = {
    manifest_version: 3,
    name: "Aside",
    version: pkg.version,
    description: "Underlines the claims in news articles that have context, from your own Aside service.",
    // storage: settings (sync), the API key (local), tab states and answers (session).
    permissions: ["storage"],
    host_permissions: [DEFAULT_SERVICE],
    optional_host_permissions: OTHER_SERVICES,
    action: { default_title: "Aside", default_popup: "popup/popup.html" },
    options_ui: { page: "options/options.html", open_in_tab: true },
    content_scripts: [
      {
        matches: ["http://*/*", "https://*/*"],
        js: CONTENT_SCRIPTS,
        css: ["content/highlight.css"],
        run_at: "document_idle",
      },
    ],
  };
  if (browser === "chrome") {
    return { ...base, minimum_chrome_version: "105", background: { service_worker: "background/worker.js" } };
  }
  return {
    ...base,
    background: { scripts: BACKGROUND_SCRIPTS },
    browser_specific_settings: {
      gecko: {
        id: "aside@aside-context.org",
        strict_min_version: "142.0",
        data_collection_permissions: { required: ["websiteContent"] },
      },
    },
  };
}

for (const browser of ["chrome", "firefox"]) {
  const out = join(root, "dist", browser);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "vendor"), { recursive: true });
  cpSync(join(root, "src"), out, { recursive: true });
  for (const file of ["Readability.js", "Readability-readerable.js", "LICENSE.md"]) {
    cpSync(join(readabilityDir, file), join(out, "vendor", file));
  }
  writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest(browser), null, 2) + "\n");
  console.log(`built ${out}`);
}
