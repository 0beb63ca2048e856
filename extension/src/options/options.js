/* Options: bound to shared/settings.js, and to shared/apikey.js for the key (kept in
 * storage.local, never synced, and never given to a content script). */
(function asideOptions(root) {
  "use strict";

  const { AsideSettings: Settings, AsideApiKey: ApiKey } = root;
  const api = root.chrome || root.browser;
  const $ = (id) => document.getElementById(id);

  async function fill() {
    const s = await Settings.load();
    await ApiKey.migrate(s.serviceUrl);
    const key = await ApiKey.load();
    $("enabled").checked = s.enabled;
    $("serviceUrl").value = s.serviceUrl;
    $("apiKey").value = key ? key.key : "";
    $("clickToSend").checked = s.clickToSend;
    $("highlightsHidden").checked = s.highlightsHidden;
    $("allowSites").value = s.allowSites.join("\n");
    $("denySites").value = s.denySites.join("\n");
  }

  /** Ask the browser for access to the service; true only if it is granted. */
  async function mayReach(origin) {
    try {
      return Boolean(api.permissions && (await api.permissions.request({ origins: [`${origin}/*`] })));
    } catch (_error) {
      return false; // not a pattern the manifest offers, or the browser refused
    }
  }

  async function submit(event) {
    event.preventDefault();
    const say = (text) => {
      $("saved").textContent = text;
    };
    const service = Settings.checkServiceUrl($("serviceUrl").value);
    if (!service.ok) return say(service.error);
    const allow = Settings.checkSites($("allowSites").value);
    const deny = Settings.checkSites($("denySites").value);
    const invalid = [...allow.invalid, ...deny.invalid];
    if (invalid.length) return say(`Not a site name: ${invalid.join(", ")}. Nothing was saved.`);
    // The permission request comes first: the browser grants one only during the click.
    if (!(await mayReach(service.origin))) {
      return say(`The browser did not allow Aside to reach ${service.origin}; nothing was saved.`);
    }
    const saved = await Settings.save({
      enabled: $("enabled").checked,
      serviceUrl: service.origin,
      clickToSend: $("clickToSend").checked,
      highlightsHidden: $("highlightsHidden").checked,
      allowSites: allow.sites,
      denySites: deny.sites,
    });
    const keySaved = saved && (await ApiKey.save($("apiKey").value.trim(), service.origin));
    say(saved && keySaved ? "Saved." : "Could not save the settings.");
    await fill();
  }

  $("form").addEventListener("submit", submit);
  fill();
})(globalThis);
