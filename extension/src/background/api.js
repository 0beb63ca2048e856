/* The only caller of the Aside service. Every outcome is a result object, never a throw. */
(function asideApi(root) {
  "use strict";

  /**
   * POST the article's blocks to /v1/context: each block's id and text, the article's title
   * (the service may read it as the article's lead) and language (which languages it can
   * search), and nothing else: not the page's address, nor its date (the card works out the
   * evidence's age in the page). settings.apiKey is the key for this service, or "".
   * @returns {Promise<{ok: true, answer: object} | {ok: false, error: string, status?: number}>}
   */
  async function fetchContext(settings, page, options = {}) {
    const body = {
      title: page.title || undefined,
      lang: page.lang || undefined,
      blocks: page.blocks.map(({ id, text }) => ({ id, text })),
    };
    const result = await call(settings, "POST", "/v1/context", body, options);
    return result.ok ? { ok: true, answer: result.json } : result;
  }

  /**
   * POST a reader's report on a card to /v1/feedback (body as the worker built it: ids,
   * hashes, the reason, and the sentence's text only when the reader chose to send it).
   * @returns {Promise<{ok: true, json: {id: number, duplicate: boolean}} | {ok: false, error: string, status?: number}>}
   */
  function sendReport(settings, body, options = {}) {
    return call(settings, "POST", "/v1/feedback", body, options);
  }

  /** DELETE /v1/feedback/<id>: withdraw a report this install sent (the card's "Undo"). */
  function withdrawReport(settings, id, install, options = {}) {
    return call(settings, "DELETE", `/v1/feedback/${encodeURIComponent(String(id))}`, { install }, options);
  }

  /** One JSON request to the service; {ok: true, json} or {ok: false, error, status?}, never a throw. */
  async function call(settings, method, path, body, { fetchImpl = root.fetch.bind(root) } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), settings.timeoutMs);
    const headers = { "Content-Type": "application/json" };
    if (settings.apiKey) headers["X-API-Key"] = settings.apiKey;
    let response;
    try {
      response = await fetchImpl(new URL(path, settings.serviceUrl).href, {
        method,
        headers,
        body: JSON.stringify(body),
        signal: controller.signal,
        credentials: "omit",
      });
    } catch (error) {
      const timedOut = error && error.name === "AbortError";
      return { ok: false, error: timedOut ? `no answer within ${settings.timeoutMs / 1000} s` : "service unreachable" };
    } finally {
      clearTimeout(timer);
    }
    let json;
    try {
      json = await response.json();
    } catch (_error) {
      return { ok: false, status: response.status, error: `service answered ${response.status} without JSON` };
    }
    if (!response.ok || !json || json.ok !== true) {
      const message = json && json.error && json.error.message;
      return { ok: false, status: response.status, error: message || `service answered ${response.status}` };
    }
    return { ok: true, json };
  }

  root.AsideApi = Object.freeze({ fetchContext, sendReport, withdrawReport });
})(globalThis);
