// The assistant's state, drawn from the protocol's messages. One table: a message type maps to the
// state it leads to (or to a function of the message and the current state). A message the table
// does not name leaves the state alone, so new messages (e.g. a server-sent turn state) are one row.

export const STATES = {
  idle: "Not in a call",
  listening: "Listening",
  hearing: "Hearing you",
  thinking: "Thinking",
  speaking: "Speaking",
  interrupted: "Interrupted",
};

const NEXT = {
  ready: "listening",
  speech_start: (message, now) => (now === "speaking" ? "speaking" : "hearing"),
  partial_transcript: (message, now) => (now === "speaking" ? "speaking" : "hearing"),
  speech_end: "thinking",
  final_transcript: (message, now) => (now === "speaking" ? "speaking" : "thinking"),
  tts_start: "speaking",
  barge_in: "interrupted",
  tts_end: (message) => (message.interrupted ? "hearing" : "listening"),
  // a server that tells the turn's state outright (turn_state) is taken at its word
  turn_state: (message, now) => (message.state in STATES ? message.state : now),
};

/** The assistant's state after `message`, given the state `now`. */
export function nextState(now, message) {
  const rule = NEXT[message.type];
  if (rule === undefined) return now;
  return typeof rule === "function" ? rule(message, now) : rule;
}
