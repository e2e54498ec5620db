// Every way a call can fail, in words, with what to do next. `explain` takes what the page saw
// (a close code and its reason, a WebRTC session's fatal error code, an HTTP status, a browser
// error) and returns { title, next, detail }. The codes are those of docs/protocol.md.

const FRESH_LINK =
  "Get a fresh link: run `voicegate token page --page-url` where the server runs " +
  "(or restart `voicegate serve`) and open the address it prints.";
const NOT_ACCEPTED = ["This page's link is not accepted: its token is missing or not valid.", FRESH_LINK];
const FORBIDDEN = ["This link may not join that room.", "Ask for a link to the room, or call without one."];
const FULL = ["The server is full: it has as many calls as it takes.", "Try again in a minute."];
const OVERLOADED = ["The server is too busy recognising speech to take another call.", "Try again in a minute."];
const STORE = ["The server cannot reach its conversation store.", "Try again in a minute; if it lasts, see the server's log."];
const IDLE = ["The call ended because nobody spoke for a while.", "Press Call to call again."];
const TOO_SLOW = [
  "The call ended because this page fell behind reading what the server sent.",
  "Close other busy tabs or programs, then press Call.",
];
const BROKE = ["The server failed during the call (its log has the details).", "Press Call again."];
const GONE = ["The server went away.", "Reconnecting as soon as it is back…"];
const NOT_UNDERSTOOD = ["The server did not understand this page (a protocol error).", "Reload the page, then press Call."];
const BAD_AUDIO = ["The server could not read this page's audio.", "Reload the page, then press Call."];
const TOO_BIG = ["This page sent the server a message too big for it.", "Reload the page, then press Call."];
const NO_ROOM = ["That room does not exist or has closed.", "Call without a room to start a new one."];
const NO_HELLO = ["The call could not start: the server did not hear from this page in time.", "Press Call again."];

// by close code, by "code:reason" where one code has several reasons, and by the reason alone
// (the fatal `error` before a close carries the reason as its code; a WebRTC session has no
// close codes, so that error is all it gets)
const WORDS = {
  401: NOT_ACCEPTED,
  4401: NOT_ACCEPTED,
  expired: ["This page's link has expired.", FRESH_LINK],
  403: FORBIDDEN,
  4403: FORBIDDEN,
  room_forbidden: FORBIDDEN,
  4404: NO_ROOM,
  room_not_found: NO_ROOM,
  1013: FULL,
  "1013:server_busy": FULL,
  server_busy: FULL,
  "1013:overloaded": OVERLOADED,
  overloaded: OVERLOADED,
  "1013:store_unavailable": STORE,
  store_unavailable: STORE,
  503: ["The server cannot take a call now: it is full or shutting down.", "Try again in a minute."],
  4408: NO_HELLO,
  hello_timeout: NO_HELLO,
  4410: IDLE,
  idle_timeout: IDLE,
  4429: TOO_SLOW,
  too_slow: TOO_SLOW,
  4400: NOT_UNDERSTOOD,
  expected_hello: NOT_UNDERSTOOD,
  bad_hello: NOT_UNDERSTOOD,
  unsupported_sample_rate: NOT_UNDERSTOOD,
  unsupported_channels: NOT_UNDERSTOOD,
  unsupported_format: NOT_UNDERSTOOD,
  invalid_json: NOT_UNDERSTOOD,
  invalid_message: NOT_UNDERSTOOD,
  unsupported_protocol: NOT_UNDERSTOOD,
  unsupported_language: ["The server cannot recognise the language this page asked for.", "Reload the page, then press Call."],
  1007: BAD_AUDIO,
  partial_sample: BAD_AUDIO,
  bad_audio_format: BAD_AUDIO,
  1009: TOO_BIG,
  frame_too_big: TOO_BIG,
  message_too_big: TOO_BIG,
  1001: GONE,
  server_shutting_down: GONE,
  1012: ["The server restarted.", "Reconnecting as soon as it is back…"],
  1011: BROKE,
  internal_error: BROKE,
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

/** The words for `key` (a close code, an HTTP status, a reason or an error name) and its
 * `reason` (a close's reason, if any), or generic ones; `detail` is shown as it is. */
export function explain(key, detail = "", reason = "") {
  const known = WORDS[`${key}:${reason}`] || WORDS[key] || WORDS[reason];
  if (known) return { title: known[0], next: known[1], detail };
  return { title: `The call could not go on (${key}).`, next: "Press Call to try again.", detail };
}

/** Whether the server says it is restarting or going away, so reconnecting makes sense. */
export function isRestart(key) {
  return key === 1001 || key === 1012 || key === "server_shutting_down";
}
