#!/usr/bin/env node
// Run the shared scenarios (scenarios.mjs) in one browser against a running Aside service and
// a site serving tests/fixtures/pages; one JSON line per scenario on stdout:
//   {"scenario": id, "browser": name, "ok": bool, "detail": ..., "ms": n}
// plus one {"launch": name, "ok", "ms", "version"|"detail"} line first. Exit status 0 when every
// scenario passed, 1 when one failed, 2 on bad arguments.
//
//   node test/browser/run.mjs --browser firefox --service http://127.0.0.1:8080 \
//        --site http://127.0.0.1:8000 --artifacts ../test-artifacts [--only hover-opens-card]
//        [--extension dist/firefox] [--aside .venv/bin/aside --feedback-dir DIR]
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { launch } from "./driver.mjs";
import { SCENARIOS } from "./scenarios.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const DIST = { chromium: "chrome", firefox: "firefox" };

function emit(record) {
  process.stdout.write(JSON.stringify(record) + "\n");
}

async function main() {
  const { values } = parseArgs({
    options: {
      browser: { type: "string" },
      service: { type: "string" },
      site: { type: "string" },
      artifacts: { type: "string" },
      extension: { type: "string" },
      only: { type: "string", multiple: true },
      aside: { type: "string" },
      "feedback-dir": { type: "string" },
      list: { type: "boolean" },
    },
  });
  if (values.list) {
    for (const s of SCENARIOS) emit({ scenario: s.id, title: s.title });
    return 0;
  }
  const name = values.browser;
  if (!DIST[name] || !values.service || !values.site) {
    process.stderr.write("usage: run.mjs --browser chromium|firefox --service URL --site URL [--artifacts DIR] [--only ID]...\n");
    return 2;
  }
  const scenarios = values.only ? SCENARIOS.filter((s) => values.only.includes(s.id)) : SCENARIOS;
  const artifacts = values.artifacts ? resolve(values.artifacts) : null;
  if (artifacts) mkdirSync(artifacts, { recursive: true });
  const extensionDir = values.extension ? resolve(values.extension) : join(here, "..", "..", "dist", DIST[name]);

  let browser;
  const started = Date.now();
  try {
    browser = await launch({ browser: name, extensionDir });
    await browser.setSettings({ serviceUrl: values.service });
    emit({ launch: name, ok: true, ms: Date.now() - started, version: await browser.version(), origin: browser.origin });
  } catch (error) {
    const detail = `launch failed: ${error.message}`;
    emit({ launch: name, ok: false, ms: Date.now() - started, detail });
    for (const s of scenarios) emit({ scenario: s.id, browser: name, ok: false, detail, ms: 0 });
    if (browser) await browser.close().catch(() => {});
    return 1;
  }
  let failed = 0;
  try {
    for (const scenario of scenarios) {
      const t0 = Date.now();
      let page;
      try {
        page = await browser.newPage();
        // The operator's side (reports and blocks): the aside command and the service's feedback folder.
        const operator = { aside: values.aside || null, feedbackDir: values["feedback-dir"] || null };
        const detail = await scenario.run({ browser, page, site: values.site, service: values.service, artifacts, operator });
        emit({ scenario: scenario.id, browser: name, ok: true, detail: detail ?? null, ms: Date.now() - t0 });
      } catch (error) {
        failed += 1;
        const errors = page ? page.errors : [];
        emit({ scenario: scenario.id, browser: name, ok: false,
          detail: `${error.message}${errors.length ? ` (page errors: ${errors.join(" | ")})` : ""}`, ms: Date.now() - t0 });
      } finally {
        if (page) await page.close().catch(() => {});
      }
    }
  } finally {
    await browser.close().catch(() => {});
  }
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
