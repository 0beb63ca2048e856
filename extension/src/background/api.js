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
  async function fetchContext(settings, page, { fetchImpl = root.fetch.bind(root) } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), settings.timeoutMs);
    const headers = { "Content-Type": "application/json" };
    if (settings.apiKey) headers["X-API-Key"] = settings.apiKey;
    const body = {
      title: page.title || undefined,
      lang: page.lang || undefined,
      blocks: page.blocks.map(({ id, text }) => ({ id, text })),
    };
    let response;
    try {
      response = await fetchImpl(new URL("/v1/context", settings.serviceUrl).href, {
        method: "POST",
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
    let answer;
    try {
      answer = await response.json();
    } catch (_error) {
      return { ok: false, status: response.status, error: `service answered ${response.status} without JSON` };
    }
    if (!response.ok || !answer || answer.ok !== true) {
      const message = answer && answer.error && answer.error.message;
      return { ok: false, status: response.status, error: message || `service answered ${response.status}` };
    }
    return { ok: true, answer };
  }

  root.AsideApi = Object.freeze({ fetchContext });
})(globalThis);
