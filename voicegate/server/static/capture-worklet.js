// Collects microphone samples into 20 ms chunks of 16-bit PCM and posts them to the page.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.chunk = new Int16Array(Math.round(sampleRate * 0.02));
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const s = Math.max(-1, Math.min(1, channel[i]));
      this.chunk[this.filled++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.filled === this.chunk.length) {
        const out = this.chunk;
        this.port.postMessage(out.buffer, [out.buffer]);
        this.chunk = new Int16Array(out.length);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("voicegate-capture", CaptureProcessor);
