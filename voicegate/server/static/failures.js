// Every way a call can fail, in words, with what to do next. `explain` takes what the page saw
// (a close code, an HTTP status, a browser error) and returns { title, next }.

const FRESH_LINK =
  "Get a fresh link: run `voicegate token page --page-url` where the server runs " +
  "(or restart `voicegate serve`) and open the address it prints.";

const BY_CODE = {
  401: ["This page's link is not accepted: its token is missing or not valid.", FRESH_LINK],
  4401: ["This page's link is not accepted: its token is missing or not valid.", FRESH_LINK],
  expired: ["This page's link has expired.", FRESH_LINK],
  403: ["This link may not join that room.", "Ask for a link to the room, or call without one."],
  4403: ["This link may not join that room.", "Ask for a link to the room, or call without one."],
  1013: ["The server is full: it has as many calls as it takes.", "Try again in a minute."],
  503: ["The server cannot take a call now: it is full or shutting down.", "Try again in a minute."],
  4408: ["The call ended because no audio reached the server in time.", "Press Call again."],
  1001: ["The server went away.", "Reconnecting as soon as it is back…"],
  1012: ["The server restarted.", "Reconnecting as soon as it is back…"],
  1011: ["The server failed during the call (its log has the details).", "Press Call again."],
  unreachable: [
    "The server cannot be reached.",
    "Check that `voicegate serve` is running and reachable from here, then press Call.",
  ],
  NotAllowedError: [
    "The browser was not allowed to use the microphone.",
    "Allow the microphone for this site (the icon in the address bar), then press Call.",
  ],
  NotFoundError: [
    "No microphone was found.",
    "Plug one in, or choose another in Microphone, then press Call.",
  ],
  NotReadableError: [
    "The microphone is in use by another program or cannot be read.",
    "Close the other program or choose another microphone, then press Call.",
  ],
  OverconstrainedError: [
    "The chosen microphone is no longer there.",
    "Choose another in Microphone, then press Call.",
  ],
};

/** The words for `key` (a close code, an HTTP status or an error name), or a generic one. */
export function explain(key, detail = "") {
  const known = BY_CODE[key];
  if (known) return { title: known[0], next: known[1], detail };
  return { title: `The call could not go on (${key}).`, next: "Press Call to try again.", detail };
}

/** Whether the server says it is restarting or going away, so reconnecting makes sense. */
export function isRestart(key) {
  return key === 1001 || key === 1012 || key === "server shutting down";
}
