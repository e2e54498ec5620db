// Where a time on the server's inbound audio clock (seconds from the first sample it received:
// `speech_start.at`, `speech_end.at`) falls on the page's capture clock (AudioContext seconds,
// the device's input latency taken off). "Heard" starts at the capture time of the sample the
// server called the end of speech: the server's own total starts when that sample arrived, which
// is later, so heard is at least the server's total.

// The server cuts its inbound audio into 20 ms frames, and Chromium sends Opus in 20 ms packets.
const PACKET_S = 0.02;
const KEPT_S = 120; // how far back a mapping may look

/**
 * The WebSocket: the page sends every sample it captures, in order, so the server's second `at`
 * is sample `at × rate` of what the page sent, captured when its chunk was. Exact as long as the
 * server feeds in no silence of its own (it does for a stream stalled over 200 ms).
 */
export class SentAudioClock {
  constructor(rate) {
    this.rate = rate;
    this.samplesSent = 0;
    this.chunks = []; // [first sample's index, its capture time], oldest first
  }

  /** `samples` sent, the first of them captured at `capturedAt`. */
  sent(capturedAt, samples) {
    this.chunks.push([this.samplesSent, capturedAt]);
    this.samplesSent += samples;
    if (this.chunks.length > (KEPT_S / PACKET_S) * 2) this.chunks.splice(0, KEPT_S / PACKET_S);
  }

  /** The capture time of the server's second `at`, or null if the page never sent it. */
  captureTime(at) {
    const index = at * this.rate;
    if (index > this.samplesSent) return null;
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const [first, capturedAt] = this.chunks[i];
      if (first <= index) return capturedAt + (index - first) / this.rate;
    }
    return null;
  }
}

/**
 * WebRTC: the server's clock counts the 20 ms packets it received from the first one on, and the
 * browser sends one every 20 ms from the connection on (silence too, muted too). A packet goes
 * once its 20 ms are captured, so the first packet's first sample was captured at least
 * `packetsSent × 20 ms` before the count: the mapping is late by the time since the last packet
 * went (under 20 ms) and the encoder's few ms. The server's total starts even later, when the
 * packet reached it. Packets the server never read (lost, or over its burst limit) make the
 * mapping earlier, so "heard" longer.
 */
export class SentPacketClock {
  constructor() {
    this.firstCapturedAt = null;
  }

  /** getStats said `packetsSent` audio packets had gone at (or after) capture time `readAt`. */
  counted(readAt, packetsSent) {
    this.firstCapturedAt = readAt - packetsSent * PACKET_S;
  }

  captureTime(at) {
    return this.firstCapturedAt === null ? null : this.firstCapturedAt + at;
  }
}
