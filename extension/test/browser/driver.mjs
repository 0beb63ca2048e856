// One small driver over puppeteer-core for the shared browser scenarios (issue 18): Debian's
// Chromium over CDP, Firefox ESR over WebDriver BiDi. No browser is downloaded; the extension is
// installed unpacked from dist/chrome or dist/firefox, as the browser's own debugging protocol
// does it (CDP Extensions.loadUnpacked / BiDi webExtension.install).
//
// The handle is the same in both browsers:
//   const b = await launch({ browser: "firefox", extensionDir });
//   await b.setSettings({ serviceUrl });          // the extension's storage.sync
//   const page = await b.newPage();
//   await page.goto(url); await page.waitFor(() => ..., ...args);
//   await page.mouse(x, y); await page.press("Alt+Shift+KeyJ");   // trusted input
//   const card = await page.card();               // read through the protocol, not the page
//   await page.screenshot(path); await b.close();
//   const popup = await b.openPopupOver(page);   // the popup's script, over that tab
//   await b.sessionStorage();                     // the worker's per-tab states
//
// Everything that reaches inside the extension (its storage, its pages, the closed shadow root of
// the card) goes through the browser's debugging protocol, never through something a page script
// could also use.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import puppeteer from "puppeteer-core";

export const EXECUTABLES = { chromium: "/usr/bin/chromium", firefox: "/usr/bin/firefox-esr" };
const HOST = "aside-card";

/**
 * Start a browser with the unpacked extension installed.
 * @param {{browser: "chromium"|"firefox", extensionDir: string, executablePath?: string,
 *          headless?: boolean, timeout?: number}} options
 */
export async function launch({ browser, extensionDir, executablePath, headless = true, timeout = 30_000 }) {
  const dir = resolve(extensionDir);
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
  const executable = executablePath || EXECUTABLES[browser];
  if (!executable) throw new Error(`unknown browser ${browser}`);
  if (!existsSync(executable)) throw new Error(`${browser} is not installed at ${executable}`);
  const started = Date.now();
  const handle = browser === "firefox"
    ? await launchFirefox({ dir, manifest, executable, headless, timeout })
    : await launchChromium({ dir, executable, headless, timeout });
  handle.launchMs = Date.now() - started;
  return handle;
}

// --- Chromium: CDP, the extension loaded with Extensions.loadUnpacked ----------------------

async function launchChromium({ dir, executable, headless, timeout }) {
  const browser = await puppeteer.launch({
    browser: "chrome",
    executablePath: executable,
    headless,
    timeout,
    // Extensions.loadUnpacked needs the pipe and --enable-unsafe-extension-debugging, which
    // enableExtensions adds (it also drops puppeteer's default --disable-extensions). The
    // extension is installed below rather than by enableExtensions: [dir], whose install
    // puppeteer 24.43 does not wait for.
    pipe: true,
    enableExtensions: true,
    defaultViewport: { width: 1280, height: 900 },
    dumpio: Boolean(process.env.ASIDE_DUMPIO),
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  let extensionId;
  try {
    extensionId = await browser.installExtension(dir);
  } catch (error) {
    await browser.close();
    throw error;
  }
  const origin = `chrome-extension://${extensionId}`;

  /** Run fn in one of the extension's pages (opened for the call, then closed). */
  async function inExtension(fn, ...args) {
    const page = await browser.newPage();
    try {
      await page.goto(`${origin}/options/options.html`);
      return await page.evaluate(fn, ...args);
    } finally {
      await page.close();
    }
  }

  return common(browser, {
    name: "chromium",
    extensionId,
    origin,
    inExtension,
    sessionStorage: () => inExtension(() => chrome.storage.session.get(null)),
    async openExtensionPage(path) {
      const page = await browser.newPage();
      await page.goto(`${origin}/${path}`);
      return wrapPage(page, readCardCdp, boxCdp, cardAxCdp);
    },
    canScriptExtensionPages: true,
    /** The popup's page, loaded in a tab behind the given one, so that the tab it reads (the
     * active one) is that page, as when the toolbar button is clicked over it. */
    async openPopupOver(over) {
      const popup = await browser.newPage();
      await over.bringToFront();
      await popup.goto(`${origin}/popup/popup.html`, { waitUntil: "load" });
      return { page: wrapPage(popup, readCardCdp, boxCdp, cardAxCdp), close: () => popup.close() };
    },
    wrap: (page) => wrapPage(page, readCardCdp, boxCdp, cardAxCdp),
  });
}

/** The card's tree through CDP: DOM.getDocument pierces closed shadow roots. */
async function readCardCdp(page) {
  const cdp = await page.createCDPSession();
  let root;
  try {
    ({ root } = await cdp.send("DOM.getDocument", { depth: -1, pierce: true }));
  } finally {
    await cdp.detach();
  }
  const fromCdp = (node) => ({
    type: node.nodeType,
    name: (node.localName || "").toLowerCase(),
    value: node.nodeValue || "",
    attrs: Object.fromEntries((node.attributes || []).flatMap((v, i, a) => (i % 2 ? [] : [[v, a[i + 1]]]))),
    children: (node.children || []).map(fromCdp),
    shadow: (node.shadowRoots || []).map((s) => ({ mode: s.shadowRootType, children: (s.children || []).map(fromCdp) }))[0] || null,
    ref: node.backendNodeId,
  });
  const host = findNode(fromCdp(root), HOST);
  return host;
}

/** The viewport box {x, y, width, height} of a node read by readCardCdp (its ref), scrolled
 * into view within the card first (the card scrolls; the page under it does not move). */
async function boxCdp(page, ref) {
  const cdp = await page.createCDPSession();
  try {
    await cdp.send("DOM.scrollIntoViewIfNeeded", { backendNodeId: ref });
    const { model } = await cdp.send("DOM.getBoxModel", { backendNodeId: ref });
    const [x1, y1, , , x3, y3] = model.border;
    return { x: x1, y: y1, width: x3 - x1, height: y3 - y1 };
  } finally {
    await cdp.detach();
  }
}

/** What a screen reader is given for the card's dialog: {role, name, description, focusable},
 * from Chromium's accessibility tree (CDP Accessibility), which takes in closed shadow roots. */
async function cardAxCdp(page) {
  const host = await readCardCdp(page);
  const card = host && findClass(host, "card");
  if (!card) return null;
  const cdp = await page.createCDPSession();
  try {
    const { nodes } = await cdp.send("Accessibility.getPartialAXTree", { backendNodeId: card.ref, fetchRelatives: false });
    const node = nodes.find((n) => n.backendDOMNodeId === card.ref) || nodes[0];
    const value = (field) => (node[field] && node[field].value) || "";
    const property = (name) => ((node.properties || []).find((p) => p.name === name) || { value: {} }).value.value;
    return { role: value("role"), name: value("name"), description: value("description"), focused: Boolean(property("focused")) };
  } finally {
    await cdp.detach();
  }
}

// --- Firefox: WebDriver BiDi, the extension installed with webExtension.install -------------

async function launchFirefox({ dir, manifest, executable, headless, timeout }) {
  const id = manifest.browser_specific_settings && manifest.browser_specific_settings.gecko
    && manifest.browser_specific_settings.gecko.id;
  if (!id) throw new Error("the Firefox manifest needs browser_specific_settings.gecko.id");
  // The moz-extension:// host is a per-profile UUID; fixing it in the profile names the origin.
  const uuid = randomUUID();
  const browser = await puppeteer.launch({
    browser: "firefox",
    protocol: "webDriverBiDi",
    executablePath: executable,
    headless,
    timeout,
    defaultViewport: { width: 1280, height: 900 },
    // Firefox's BiDi does not reach extension contexts (bug 1755014): extension storage and
    // pages go through the privileged ("chrome") scope, which this flag opens to the session.
    args: ["--remote-allow-system-access"],
    dumpio: Boolean(process.env.ASIDE_DUMPIO), // the browser's own output, for debugging
    extraPrefsFirefox: {
      "extensions.webextensions.uuids": JSON.stringify({ [id]: uuid }),
      // Extension errors (content scripts, background) on Firefox's stdout, for dumpio.
      "devtools.console.stdout.content": true,
      "devtools.console.stdout.chrome": true,
    },
  });
  let installed;
  try {
    installed = await browser.installExtension(dir);
  } catch (error) {
    await browser.close();
    throw error;
  }
  if (installed !== id) {
    await browser.close();
    throw new Error(`Firefox installed ${installed}, expected ${id}`);
  }
  const [first] = await browser.pages();
  const session = first.mainFrame().browsingContext.userContext.browser.session;

  /** Call fn (a function's source) with JSON-able args in the browser's privileged scope. */
  async function privileged(fn, ...args) {
    const { result: tree } = await session.send("browsingContext.getTree", { "moz:scope": "chrome", maxDepth: 0 });
    const context = tree.contexts[0].context;
    const { result } = await session.send("script.callFunction", {
      functionDeclaration: `async (json) => JSON.stringify(await (${fn})(...JSON.parse(json)))`,
      awaitPromise: true,
      target: { context },
      arguments: [{ type: "string", value: JSON.stringify(args) }],
      resultOwnership: "none",
    });
    if (result.type === "exception") throw new Error(`privileged: ${result.exceptionDetails.text}`);
    const value = result.result.value;
    return value === undefined ? undefined : JSON.parse(value);
  }

  return common(browser, {
    name: "firefox",
    extensionId: id,
    origin: `moz-extension://${uuid}`,
    privileged,
    async inExtension() {
      throw new Error("Firefox's BiDi cannot run script in extension pages (bug 1755014)");
    },
    /** storage.sync as the extension sees it (Firefox keeps it in the parent process). */
    async setSyncStorage(items) {
      await privileged(async (extensionId, values) => {
        const { extensionStorageSync } = ChromeUtils.importESModule(
          "resource://gre/modules/ExtensionStorageSync.sys.mjs");
        await extensionStorageSync.set({ id: extensionId }, values);
      }, id, items);
    },
    /** storage.session (the worker's per-tab states), read in the parent process. */
    async sessionStorage() {
      return privileged((extensionId) => {
        const { ExtensionParent } = ChromeUtils.importESModule("resource://gre/modules/ExtensionParent.sys.mjs");
        const { extensionStorageSession } = ChromeUtils.importESModule(
          "resource://gre/modules/ExtensionStorage.sys.mjs");
        const extension = ExtensionParent.GlobalManager.getExtension(extensionId);
        const out = {};
        for (const [key, value] of Object.entries(extensionStorageSession.get(extension, null))) {
          // keepData: a StructuredCloneHolder read without it is emptied, and the extension's
          // own next read of that key would throw NS_ERROR_NOT_INITIALIZED.
          out[key] = value && typeof value.deserialize === "function" ? value.deserialize(globalThis, true) : value;
        }
        return out;
      }, id);
    },
    async openExtensionPage() {
      throw new Error("Firefox's BiDi cannot drive extension pages (bug 1755014)");
    },
    canScriptExtensionPages: false,
    /** The popup's page, loaded by the browser's own tab code in a background tab behind the
     * given one, so that the tab it reads (the active one) is that page. Its script runs as
     * the popup's does; BiDi cannot read it (bug 1755014), so page is null. */
    async openPopupOver(over) {
      await over.bringToFront();
      const url = `moz-extension://${uuid}/popup/popup.html`;
      const tabs = (fn) => privileged(fn, url);
      await tabs((popupUrl) => {
        const window = Services.wm.getMostRecentWindow("navigator:browser");
        window.gBrowser.addTab(popupUrl, {
          inBackground: true,
          triggeringPrincipal: Services.scriptSecurityManager.getSystemPrincipal(),
        });
        return true;
      });
      return {
        page: null,
        close: () => tabs((popupUrl) => {
          const { gBrowser } = Services.wm.getMostRecentWindow("navigator:browser");
          for (const tab of [...gBrowser.tabs]) {
            if (tab.linkedBrowser.currentURI.spec === popupUrl) gBrowser.removeTab(tab);
          }
          return true;
        }),
      };
    },
    wrap: (page) => wrapPage(page, readCardBidi, boxBidi, null),
  });
}

/** The card's tree through BiDi: a sandbox realm (unaffected by the page's own script) returns
 * the host, serialized with its closed shadow root (includeShadowTree: "all"). */
async function readCardBidi(page) {
  const frame = page.mainFrame();
  const context = frame.browsingContext;
  const session = context.userContext.browser.session;
  const { result } = await session.send("script.callFunction", {
    functionDeclaration: `() => document.querySelector(${JSON.stringify(HOST)})`,
    awaitPromise: false,
    target: { context: context.id, sandbox: "aside-driver" },
    serializationOptions: { includeShadowTree: "all", maxDomDepth: null },
    resultOwnership: "none",
  });
  if (result.type === "exception") throw new Error(`card: ${result.exceptionDetails.text}`);
  if (result.result.type !== "node") return null;
  const fromBidi = (remote) => {
    const node = remote.value || {};
    return {
      type: node.nodeType,
      name: (node.localName || "").toLowerCase(),
      value: node.nodeValue || "",
      attrs: node.attributes || {},
      children: (node.children || []).map(fromBidi),
      shadow: node.shadowRoot
        ? { mode: node.shadowRoot.value.mode, children: (node.shadowRoot.value.children || []).map(fromBidi) }
        : null,
      ref: remote.sharedId,
    };
  };
  return fromBidi(result.result);
}

/** The viewport box of a node read by readCardBidi (its sharedId), scrolled into view within
 * the card and measured in the sandbox. */
async function boxBidi(page, ref) {
  const context = page.mainFrame().browsingContext;
  const { result } = await context.userContext.browser.session.send("script.callFunction", {
    functionDeclaration: "(node) => { node.scrollIntoView({ block: 'nearest' }); return JSON.stringify(node.getBoundingClientRect()); }",
    awaitPromise: false,
    target: { context: context.id, sandbox: "aside-driver" },
    arguments: [{ sharedId: ref }],
    resultOwnership: "none",
  });
  if (result.type === "exception") throw new Error(`box: ${result.exceptionDetails.text}`);
  return JSON.parse(result.result.value);
}

// --- Shared --------------------------------------------------------------------------------

function findNode(node, name) {
  if (node.name === name) return node;
  for (const child of [...node.children, ...(node.shadow ? node.shadow.children : [])]) {
    const found = findNode(child, name);
    if (found) return found;
  }
  return null;
}

const classesOf = (node) => (node.attrs.class || "").split(/\s+/).filter(Boolean);

/** Every node under node (shadow trees included) with the given class, in tree order. */
function findClassAll(node, className, found = []) {
  if (node.type === 1 && classesOf(node).includes(className)) found.push(node);
  for (const child of [...node.children, ...(node.shadow ? node.shadow.children : [])]) findClassAll(child, className, found);
  return found;
}

/** The first node under node (shadow trees included) with the given class, or null. */
function findClass(node, className) {
  if (node.type === 1 && classesOf(node).includes(className)) return node;
  for (const child of [...node.children, ...(node.shadow ? node.shadow.children : [])]) {
    const found = findClass(child, className);
    if (found) return found;
  }
  return null;
}

/**
 * The open card, or null: {role, label, text, links: [[text, href]], tags, mode, parts,
 * shared, describedBy, status}. parts: the first entry's parts by class, in order; shared: the
 * words marked as shared with the sentence; describedBy: the text of the element the dialog's
 * aria-describedby names; status: what its live region says.
 */
function cardOf(host) {
  if (!host || !host.shadow) return null;
  const card = host.shadow.children.find((n) => classesOf(n).includes("card"));
  if (!card) return null;
  const tags = new Set();
  const links = [];
  const shared = [];
  const ids = new Map();
  const textOf = (node) => {
    if (node.type === 3) return node.value;
    if (node.type !== 1) return "";
    tags.add(node.name);
    const inner = node.children.map(textOf).join("");
    if (node.attrs.id) ids.set(node.attrs.id, inner);
    if (node.name === "a") links.push([inner, node.attrs.href || ""]);
    if (classesOf(node).includes("shared")) shared.push(inner);
    return inner + (["p", "li", "header", "footer", "ol", "div"].includes(node.name) ? "\n" : "");
  };
  const text = textOf(card);
  const first = findNode(card, "li");
  const status = host.shadow.children.find((n) => classesOf(n).includes("aside-status"));
  return {
    role: card.attrs.role || null,
    label: card.attrs["aria-label"] || "",
    text,
    links,
    tags: [...tags].sort(),
    mode: host.shadow.mode,
    parts: first ? first.children.filter((n) => n.type === 1).map((n) => classesOf(n)[0] || n.name) : [],
    shared,
    describedBy: ids.get(card.attrs["aria-describedby"]) ?? null,
    status: status ? status.children.map((n) => n.value).join("") : "",
  };
}

function wrapPage(page, readCard, box, cardAx) {
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error && error.message ? error.message : error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  return {
    raw: page,
    errors,
    url: () => page.url(),
    goto: (url) => page.goto(url, { waitUntil: "load" }),
    evaluate: (fn, ...args) => page.evaluate(fn, ...args),
    /** Poll fn in the page until it returns something truthy; that value. */
    async waitFor(fn, { timeout = 20_000, interval = 100, args = [] } = {}) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const value = await page.evaluate(fn, ...args);
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`condition not met in ${timeout} ms: ${String(fn).slice(0, 120)}`);
        await sleep(interval);
      }
    },
    /** Wait for the card to be open (or, with open: false, closed); its content. */
    async waitForCard({ open = true, timeout = 5_000 } = {}) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const card = cardOf(await readCard(page));
        if (open ? card : !card) return card;
        if (Date.now() > deadline) throw new Error(`the card did not ${open ? "open" : "close"} in ${timeout} ms`);
        await sleep(100);
      }
    },
    card: async () => cardOf(await readCard(page)),
    /** Click, with the driver's trusted pointer, the card's nth element with this class. */
    async clickInCard(className, nth = 0) {
      const host = await readCard(page);
      const node = host && findClassAll(host, className)[nth];
      if (!node) throw new Error(`no .${className} number ${nth} in the card`);
      const rect = await box(page, node.ref);
      await page.mouse.click(rect.x + Math.min(8, rect.width / 2), rect.y + rect.height / 2);
    },
    /** {role, name, description, focused} a screen reader gets for the open card; null where
     * the browser's protocol gives no accessibility tree (Firefox's BiDi). */
    cardAccessible: () => (cardAx ? cardAx(page) : Promise.resolve(null)),
    /** The card host's tree as the protocol sees it (for debugging). */
    cardTree: () => readCard(page),
    /** Move the pointer (trusted input through the driver). */
    mouse: (x, y) => page.mouse.move(x, y),
    /** Press a chord such as "Alt+Shift+KeyJ" or "Escape" (trusted input through the driver). */
    async press(chord) {
      const keys = chord.split("+");
      const key = keys.pop();
      for (const modifier of keys) await page.keyboard.down(modifier);
      await page.keyboard.press(key);
      for (const modifier of keys.reverse()) await page.keyboard.up(modifier);
    },
    screenshot: (path) => page.screenshot({ path }),
    bringToFront: () => page.bringToFront(),
    close: () => page.close(),
  };
}

function common(browser, specific) {
  const { wrap, ...rest } = specific;
  return {
    ...rest,
    raw: browser,
    version: () => browser.version(),
    async newPage() {
      return wrap(await browser.newPage());
    },
    /** The extension's settings (storage.sync), as its options page would save them. */
    async setSettings(values) {
      if (rest.setSyncStorage) return rest.setSyncStorage(values);
      return rest.inExtension((items) => chrome.storage.sync.set(items), values);
    },
    close: () => browser.close(),
  };
}

export function sleep(ms) {
  return new Promise((done) => setTimeout(done, ms));
}
