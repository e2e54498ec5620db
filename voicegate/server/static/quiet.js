// Whether the caller's voice reaches the page too quietly: the levels of the last 30 s of 20 ms
// microphone chunks by their capture time, and the loudest of those an utterance held.

import { CHUNK_S, dbfs } from "./audio.js";

// an utterance whose loudest 20 ms stays under this is too quiet (Piper's voice peaks at -8.5 dBFS)
const QUIET_SPEECH_DBFS = -20;
const KEPT_S = 30;

export class RecentLevels {
  #levels = []; // [capture time of the chunk's first sample, rms]

  /** A chunk of level `rms` whose first sample was captured at `startAt` (capture clock, s). */
  add(startAt, rms) {
    this.#levels.push([startAt, rms]);
    if (this.#levels[0][0] < startAt - KEPT_S) this.#levels = this.#levels.slice(50);
  }

  /**
   * The notice for an utterance captured from `from` to `to` (capture clock, s) if its loudest
   * 20 ms was too quiet, else null (also when its chunks are no longer kept or were not seen).
   */
  quietNotice(from, to) {
    const held = this.#levels.filter(([at]) => at > from - CHUNK_S && at < to).map(([, rms]) => rms);
    const loudest = Math.max(0, ...held);
    if (loudest === 0 || dbfs(loudest) >= QUIET_SPEECH_DBFS) return null;
    const level = Math.round(dbfs(loudest));
    return `Your voice reaches the page quietly (${level} dBFS): move closer to the microphone or raise its level.`;
  }
}
