/* Options: bound to shared/settings.js. */
(function asideOptions(root) {
  "use strict";

  const Settings = root.AsideSettings;
  const $ = (id) => document.getElementById(id);

  async function fill() {
    const s = await Settings.load();
    $("enabled").checked = s.enabled;
    $("serviceUrl").value = s.serviceUrl;
    $("apiKey").value = s.apiKey;
    $("clickToSend").checked = s.clickToSend;
    $("allowSites").value = s.allowSites.join("\n");
    $("denySites").value = s.denySites.join("\n");
  }

  $("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    let serviceUrl;
    try {
      const url = new URL($("serviceUrl").value.trim());
      if (!/^https?:$/.test(url.protocol)) throw new Error("not http");
      serviceUrl = url.origin;
    } catch (_error) {
      $("saved").textContent = "The service URL must be an http:// or https:// address.";
      return;
    }
    // Another service than the default needs the browser's permission to reach it
    // (the service's CORS list must also name this extension; see docs/operations.md).
    const api = root.chrome || root.browser;
    try {
      if (api.permissions) await api.permissions.request({ origins: [`${serviceUrl}/*`] });
    } catch (_error) {
      // Refused or unsupported: the service's CORS answer may still allow the calls.
    }
    const ok = await Settings.save({
      enabled: $("enabled").checked,
      serviceUrl,
      apiKey: $("apiKey").value.trim(),
      clickToSend: $("clickToSend").checked,
      allowSites: Settings.parseSites($("allowSites").value),
      denySites: Settings.parseSites($("denySites").value),
    });
    $("saved").textContent = ok ? "Saved." : "Could not save the settings.";
    await fill();
  });

  fill();
})(typeof self !== "undefined" ? self : globalThis);
