// Per-turn latency, as the caller hears it: the server's stages plus what only the page sees
// (network and playout), p50/p95 over the call, and the call's export as JSON and CSV.

export const STAGES = [
  ["endpoint", "end of speech"],
  ["stt", "recognition"],
  ["room", "room"],
  ["tts", "synthesis"],
  ["network", "network and playout"],
];

/** The stage figures of a turn: the server's, and the rest of `heardMs` as network and playout. */
export function turnStages(turn) {
  const s = turn.stages || {};
  const stages = { endpoint: s.endpoint, stt: s.stt, room: s.room, tts: s.tts };
  if (turn.heardMs !== undefined && s.total !== undefined) {
    stages.network = Math.max(0, turn.heardMs - s.total);
  }
  return stages;
}

/** The `p`-th percentile (0..100) of `values`, nearest rank; undefined for none. */
export function percentile(values, p) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** p50 and p95 of every stage, of the server's total and of "heard", over `turns`. */
export function summary(turns) {
  const rows = {};
  const figures = turns.map((turn) => ({
    ...turnStages(turn),
    total: turn.stages && turn.stages.total,
    heard: turn.heardMs,
  }));
  for (const name of [...STAGES.map(([key]) => key), "total", "heard"]) {
    const values = figures.map((f) => f[name]);
    rows[name] = { p50: percentile(values, 50), p95: percentile(values, 95) };
  }
  return rows;
}

/** The call as one JSON-able object: what the page showed. */
export function callRecord(state) {
  return {
    session_id: state.sessionId,
    room_id: state.roomId,
    transport: state.transport,
    started_at: state.startedAt,
    conversation: state.conversation.map(({ node, ...entry }) => entry),
    turns: state.turns.map((turn, index) => ({
      turn: index + 1,
      stages_ms: turn.stages || {},
      heard_ms: turn.heardMs === undefined ? null : turn.heardMs,
    })),
    summary_ms: summary(state.turns),
    connection: state.connection,
  };
}

const CSV_COLUMNS = ["turn", "endpoint", "stt", "room", "tts", "total", "heard"];

/** One CSV row per turn: the server's stages, its total and "heard", in ms. */
export function turnsCsv(turns) {
  const lines = [CSV_COLUMNS.join(",")];
  turns.forEach((turn, index) => {
    const s = turn.stages || {};
    const cells = [index + 1, s.endpoint, s.stt, s.room, s.tts, s.total, turn.heardMs];
    lines.push(cells.map((v) => (v === undefined ? "" : String(v))).join(","));
  });
  return lines.join("\n") + "\n";
}
