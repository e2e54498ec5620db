// The page's audio: the microphone (level, clipping, last loud sample), the WebSocket's answer
// player, and the watcher of the answer's audio (first sample played, the visualizer's analyser).

// The protocol takes 8, 16, 24 or 48 kHz; asking for 48 kHz makes the browser resample 44.1 kHz devices.
export const CAPTURE_RATE = 48000;

export const dbfs = (linear) => 20 * Math.log10(Math.max(linear, 1e-5));

/** A node that pulls `node` along with the graph without being heard. */
function pull(context, node) {
  const sink = context.createGain();
  sink.gain.value = 0;
  node.connect(sink).connect(context.destination);
}

/** The length of each microphone chunk the capture worklet posts. */
export const CHUNK_S = 0.02;

/** The capture worklet: `pcm` posts each chunk's PCM too; `loudOnly` posts only chunks with a loud sample. */
async function captureNode(context, { pcm = false, loudOnly = false } = {}) {
  if (!context.workletReady) {
    context.workletReady = context.audioWorklet.addModule(
      new URL("capture-worklet.js", import.meta.url),
    );
  }
  await context.workletReady;
  const processorOptions = { pcm, loudOnly, chunkSeconds: CHUNK_S };
  return new AudioWorkletNode(context, "voicegate-capture", { processorOptions });
}

/**
 * Opens the microphone. `onChunk({rms, peak, clipped, startAt, lastLoudAt, pcm})` gets every
 * 20 ms of it; the times are on the capture clock: the context's, less the device's input latency
 * (`startAt` for the chunk's first sample, `lastLoudAt` for its last loud one).
 */
export async function openMicrophone({ deviceId, processing, onChunk }) {
  const audio = {
    echoCancellation: processing,
    noiseSuppression: processing,
    autoGainControl: processing,
  };
  if (deviceId && deviceId !== "default") audio.deviceId = { exact: deviceId };
  const stream = await navigator.mediaDevices.getUserMedia({ audio });
  const context = new AudioContext({ sampleRate: CAPTURE_RATE });
  await context.resume();
  const source = context.createMediaStreamSource(stream);
  const capture = await captureNode(context, { pcm: true });
  const track = stream.getAudioTracks()[0];
  const inputLatency = (track.getSettings && track.getSettings().latency) || 0;
  capture.port.onmessage = (e) => {
    const chunk = e.data;
    chunk.startAt -= inputLatency;
    if (chunk.lastLoudAt !== null) chunk.lastLoudAt -= inputLatency;
    onChunk(chunk);
  };
  source.connect(capture);
  pull(context, capture);
  return {
    stream,
    context,
    capture,
    label: track.label,
    /** Now, on the capture clock. */
    captureNow: () => context.currentTime - inputLatency,
    setMuted(muted) {
      for (const t of stream.getAudioTracks()) t.enabled = !muted;
    },
    close() {
      capture.port.onmessage = null;
      for (const t of stream.getTracks()) t.stop();
      context.close();
    },
  };
}

/** The answer's audio for the visualizer: an analyser every answer path feeds. */
export function outputAnalyser(context) {
  const analyser = context.createAnalyser();
  analyser.fftSize = 256;
  return analyser;
}

/**
 * Plays the WebSocket's PCM answer frames gaplessly (to the analyser only unless `audible`);
 * `onPlay(startTime, ms)` gets the context time each frame starts playing at (its first sample,
 * plus the output's latency). `answer(responseId)` says which answer the frames from now on
 * belong to, and `played()` how much of it has played (a version 2 `played` mark).
 */
export function websocketPlayer(context, analyser, onPlay, audible = true) {
  let playHead = 0;
  let answer = null; // { id, startsAt: its first sample's context time, ms: its audio so far }
  const sources = new Set();
  const output = context.createGain();
  output.connect(analyser);
  if (audible) output.connect(context.destination);
  return {
    play(pcm, rate) {
      const samples = new Int16Array(pcm);
      const buffer = context.createBuffer(1, samples.length, rate);
      const channel = buffer.getChannelData(0);
      for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
      const node = context.createBufferSource();
      node.buffer = buffer;
      node.connect(output);
      playHead = Math.max(playHead, context.currentTime + 0.02);
      node.start(playHead);
      sources.add(node);
      node.onended = () => sources.delete(node);
      const startsAt = playHead + (context.outputLatency || 0);
      onPlay(startsAt, buffer.duration * 1000);
      if (answer && answer.startsAt === null) answer.startsAt = startsAt;
      if (answer) answer.ms += buffer.duration * 1000;
      playHead += buffer.duration;
    },
    answer(responseId) {
      answer = responseId ? { id: responseId, startsAt: null, ms: 0 } : null;
    },
    played() {
      if (!answer || answer.startsAt === null) return null;
      const ms = Math.min(answer.ms, (context.currentTime - answer.startsAt) * 1000);
      return ms > 0 ? { response_id: answer.id, ms: Math.floor(ms) } : null;
    },
    flush() {
      for (const node of sources) node.stop();
      sources.clear();
      playHead = 0;
      answer = null;
    },
  };
}

/**
 * Watches the WebRTC answer track (played by an <audio> element): `onLoud(firstLoudAt, ms)` for
 * every 20 ms with sound in it, with the context time of its first loud sample.
 */
export async function watchRemoteAudio(context, stream, analyser, onLoud) {
  const source = context.createMediaStreamSource(stream);
  // only the loud chunks: the page's main thread is woken 50 times a second less
  const watcher = await captureNode(context, { loudOnly: true });
  watcher.port.onmessage = (e) => onLoud(e.data.firstLoudAt + (context.outputLatency || 0), 20);
  source.connect(watcher);
  source.connect(analyser);
  pull(context, watcher);
  return () => {
    watcher.port.onmessage = null;
    source.disconnect();
  };
}
