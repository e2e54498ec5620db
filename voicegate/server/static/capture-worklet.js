// Cuts audio into 20 ms chunks and posts each one's level, whether it clipped, and the AudioContext
// times of its first sample and of its first and last loud sample; with `processorOptions.pcm`, the
// chunk's 16-bit PCM too (the WebSocket's microphone audio); with `processorOptions.loudOnly`, only the
// chunks that hold a loud sample (the answer's watcher). The page measures "heard" from these
// times: the capture of the sample the server called the end of speech (where the chunk that held
// it started), the first loud answer sample played (a WebRTC answer's first loud sample).
const LOUD = 0.01; // -40 dBFS: louder than silence and a quiet room, quieter than speech
// clipping is a run of samples at full scale (8: 0.17 ms at 48 kHz); a normalised recording,
// resampled, touches it for a few samples at its peaks
const FULL_SCALE = 0.99;
const CLIP_RUN = 8;

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { pcm, loudOnly, chunkSeconds } = options.processorOptions;
    this.pcm = Boolean(pcm);
    this.loudOnly = Boolean(loudOnly);
    this.size = Math.round(sampleRate * chunkSeconds);
    this.fullScaleRun = 0;
    this.reset();
  }

  reset() {
    this.chunk = this.pcm ? new Int16Array(this.size) : null;
    this.filled = 0;
    this.startAt = null;
    this.sumSquares = 0;
    this.peak = 0;
    this.clipped = false;
    this.firstLoudAt = null;
    this.lastLoudAt = null;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const s = Math.max(-1, Math.min(1, channel[i]));
      const magnitude = Math.abs(s);
      this.sumSquares += s * s;
      if (magnitude > this.peak) this.peak = magnitude;
      this.fullScaleRun = magnitude >= FULL_SCALE ? this.fullScaleRun + 1 : 0;
      if (this.fullScaleRun >= CLIP_RUN) this.clipped = true;
      if (magnitude > LOUD) {
        const at = currentTime + i / sampleRate;
        if (this.firstLoudAt === null) this.firstLoudAt = at;
        this.lastLoudAt = at;
      }
      if (this.filled === 0) this.startAt = currentTime + i / sampleRate;
      if (this.pcm) this.chunk[this.filled] = s < 0 ? s * 0x8000 : s * 0x7fff;
      this.filled += 1;
      if (this.filled === this.size) this.post();
    }
    return true;
  }

  post() {
    if (this.loudOnly && this.firstLoudAt === null) {
      this.reset();
      return;
    }
    const report = {
      rms: Math.sqrt(this.sumSquares / this.size),
      peak: this.peak,
      clipped: this.clipped,
      startAt: this.startAt,
      firstLoudAt: this.firstLoudAt,
      lastLoudAt: this.lastLoudAt,
      pcm: this.pcm ? this.chunk.buffer : null,
    };
    // the PCM buffer is transferred, which detaches it: reset() starts a new one
    this.port.postMessage(report, this.pcm ? [this.chunk.buffer] : []);
    this.reset();
  }
}

registerProcessor("voicegate-capture", CaptureProcessor);
