/* Message types between the parts of the extension; the direction is in the name:
 * CS = content script, BG = background, PU = popup. Loaded in every context. The worker
 * checks the sender against the name: CS_* only from a content script (the browser names
 * its tab), PU_* only from an extension page.
 * Every file's wrapper is given globalThis, never self: in a Firefox content script, self is
 * the page's window (seen through a wrapper), not the script's own global, where `browser`,
 * `chrome` and Readability are. */
(function asideMessages(root) {
  "use strict";
  root.AsideMessages = Object.freeze({
    CS_BG_GET_CONTEXT: "CS_BG_GET_CONTEXT", // blocks of the article -> service answer
    CS_BG_REPORT_STATE: "CS_BG_REPORT_STATE", // what the page did with the answer
    CS_BG_FEEDBACK: "CS_BG_FEEDBACK", // the reader's report on a card -> POST /v1/feedback
    CS_BG_FEEDBACK_UNDO: "CS_BG_FEEDBACK_UNDO", // the card's "Undo" -> DELETE /v1/feedback/<id>
    PU_BG_GET_TAB_STATE: "PU_BG_GET_TAB_STATE", // popup asks what happened in a tab
    PU_BG_RUN_NOW: "PU_BG_RUN_NOW", // toolbar click in "only when I click" mode, for a tab
    BG_CS_RUN_NOW: "BG_CS_RUN_NOW", // the worker passes that click on to the tab's content script
  });
})(globalThis);
