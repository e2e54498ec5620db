// Whether the caller's voice reaches the page too quietly: the levels of the last 30 s of 20 ms
// microphone chunks, and the loudest of those an utterance that just ended held.

import { dbfs } from "./audio.js";

// an utterance whose loudest 20 ms stays under this is too quiet (Piper's voice peaks at -8.5 dBFS)
const QUIET_SPEECH_DBFS = -20;
const UTTERANCE_LEVELS_MS = 30000;

export class RecentLevels {
  #levels = []; // [performance.now(), rms]

  /** A chunk of level `rms` was captured just now. */
  add(rms) {
    const now = performance.now();
    this.#levels.push([now, rms]);
    if (this.#levels[0][0] < now - UTTERANCE_LEVELS_MS) this.#levels = this.#levels.slice(50);
  }

  /** The notice for the utterance that just ended (`seconds` long) if it was too quiet, else null. */
  quietNotice(seconds) {
    const spoken = Number.isFinite(seconds) ? seconds : 5;
    const since = performance.now() - (spoken + 1) * 1000; // its speech, and its end-of-speech wait
    const loudest = Math.max(0, ...this.#levels.filter(([at]) => at >= since).map(([, rms]) => rms));
    if (loudest === 0 || dbfs(loudest) >= QUIET_SPEECH_DBFS) return null;
    const level = Math.round(dbfs(loudest));
    return `Your voice reaches the page quietly (${level} dBFS): move closer to the microphone or raise its level.`;
  }
}
