// The two ways to call: the WebSocket (PCM both ways) and WebRTC (Opus media, the same JSON on a
// data channel). Each returns { send(message) (false when it could not), hangup(), stats() }
// once the call is up, or throws a CallError whose `key` (a close code, an HTTP status,
// "unreachable") and `reason` the page explains. Every JSON message in and out goes to `hooks.onMessage(message, direction)`.

import { watchRemoteAudio, websocketPlayer } from "./audio.js";
import { SentAudioClock, SentPacketClock } from "./capture-clock.js";

const WEBRTC_CONNECT_MS = 10000;
// docs/protocol.md's version 2: answers tagged, typed words (`say`)
const PROTOCOL = 2;
// how often the WebSocket call tells the server how far the answer has played (`played`)
const PLAYED_MARK_MS = 200;
// Every URL is relative to the page, so the page works wherever voicegate is mounted (e.g. /voice/).
export const endpoint = (path) => new URL(path, document.baseURI);

/** Whether the server answers its health check. */
export async function reachable() {
  try {
    return (await fetch(endpoint("healthz"), { cache: "no-store" })).ok;
  } catch {
    return false;
  }
}

export class CallError extends Error {
  constructor(key, message, reason = "") {
    super(message);
    this.key = key;
    this.reason = reason;
  }
}

/**
 * `hooks`: { token, onMessage(message, direction), onAnswerAudio(startTime, ms), onEnd(key, reason),
 * analyser, remoteAudio (the <audio> element), playAnswers (default true) }. The call's
 * `captureTime(at)` resolves to the capture time of the server's inbound second `at`.
 */
export async function startWebSocket(mic, hooks) {
  let player = null;
  let outputRate = 16000;
  const url = endpoint("ws");
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = `?token=${encodeURIComponent(hooks.token)}`;
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    let failed = false;
    ws.onopen = resolve;
    ws.onerror = () => { failed = true; };
    ws.onclose = (e) => {
      const key = e.code === 1006 && failed ? "unreachable" : e.code;
      reject(new CallError(key, `WebSocket closed (${e.code}) ${e.reason}`, e.reason));
    };
  });
  player = websocketPlayer(mic.context, hooks.analyser, hooks.onAnswerAudio, hooks.playAnswers !== false);
  let marks = null; // the timer of the `played` marks
  ws.onclose = (e) => {
    clearInterval(marks);
    hooks.onEnd(e.code === 1006 ? 1001 : e.code, e.reason);
  };
  ws.onmessage = (e) => {
    if (typeof e.data !== "string") return player.play(e.data, outputRate);
    const message = JSON.parse(e.data);
    if (message.type === "ready") outputRate = message.output_sample_rate;
    if (message.type === "tts_start") player.answer(message.response_id);
    if (message.type === "tts_end") player.answer(null);
    if (message.type === "barge_in") player.flush();
    hooks.onMessage(message);
  };
  const send = (message) => {
    if (ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message));
    hooks.onMessage(message, "out");
    return true;
  };
  let lastMark = null;
  marks = setInterval(() => {
    // how far the answer has played, so an interrupted answer's `heard` is what was heard
    const mark = player.played();
    if (!mark || (lastMark && mark.response_id === lastMark.response_id && mark.ms <= lastMark.ms)) return;
    if (send({ type: "played", ...mark })) lastMark = mark;
  }, PLAYED_MARK_MS);
  const clock = new SentAudioClock(mic.context.sampleRate);
  send({ type: "hello", protocol: PROTOCOL, sample_rate: mic.context.sampleRate, channels: 1, format: "pcm16" });
  mic.sendPcm = (pcm, capturedAt) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(pcm);
    clock.sent(capturedAt, pcm.byteLength / 2);
  };
  return {
    send,
    hangup() {
      mic.sendPcm = null;
      clearInterval(marks);
      ws.onclose = null; // closing it ourselves is no failure
      player.flush();
      send({ type: "bye" });
      ws.close(1000);
    },
    captureTime: async (at) => clock.captureTime(at),
    stats: async () => null,
  };
}

async function gatherIce(pc) {
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, 2000);
  });
}

async function postOffer(pc, hooks) {
  const offer = { sdp: pc.localDescription.sdp, type: "offer", protocol: PROTOCOL };
  hooks.onMessage(offer, "out");
  let response;
  try {
    response = await fetch(endpoint("webrtc/offer"), {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${hooks.token}` },
      body: JSON.stringify(offer),
    });
  } catch {
    throw new CallError("unreachable", "the offer could not be sent");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const reason = body.message || response.statusText;
    throw new CallError(response.status, `offer refused (${response.status}): ${reason}`, reason);
  }
  hooks.onMessage(body, "in");
  return body;
}

/** The connection's round trip, jitter and loss from getStats. */
async function connectionStats(pc) {
  const figures = {};
  (await pc.getStats()).forEach((report) => {
    if (report.type === "candidate-pair" && report.nominated && report.currentRoundTripTime !== undefined) {
      figures.rttMs = report.currentRoundTripTime * 1000;
    }
    if (report.type === "inbound-rtp" && report.kind === "audio") {
      figures.jitterMs = (report.jitter || 0) * 1000;
      const total = (report.packetsReceived || 0) + (report.packetsLost || 0);
      figures.lossPercent = total ? (100 * (report.packetsLost || 0)) / total : 0;
    }
  });
  return figures;
}

/** The audio packets sent so far, and when getStats counted them (ms since the epoch). */
async function audioPacketsSent(pc) {
  let sent = 0;
  let countedAt = null;
  (await pc.getStats()).forEach((report) => {
    if (report.type === "outbound-rtp" && report.kind === "audio") {
      sent += report.packetsSent || 0;
      countedAt = report.timestamp;
    }
  });
  return { sent, countedAt };
}

export async function startWebRTC(mic, hooks) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  let stopWatching = () => {};
  for (const track of mic.stream.getAudioTracks()) pc.addTrack(track, mic.stream);
  const channel = pc.createDataChannel("voicegate");
  channel.onmessage = (e) => hooks.onMessage(JSON.parse(e.data));
  pc.ontrack = async (e) => {
    const stream = e.streams[0] || new MediaStream([e.track]);
    hooks.remoteAudio.srcObject = stream; // must play through an element, or WebAudio hears silence
    stopWatching = await watchRemoteAudio(mic.context, stream, hooks.analyser, hooks.onAnswerAudio);
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gatherIce(pc);
    const body = await postOffer(pc, hooks);
    await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
    // connected means the data channel is open: until then a failure may still fall back
    await new Promise((resolve, reject) => {
      channel.onopen = resolve;
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "failed") reject(new CallError("webrtc", "connection failed"));
      };
      const seconds = WEBRTC_CONNECT_MS / 1000;
      setTimeout(() => reject(new CallError("webrtc", `no connection within ${seconds} s`)), WEBRTC_CONNECT_MS);
    });
  } catch (error) {
    stopWatching();
    pc.close();
    throw error;
  }
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "failed" || pc.connectionState === "closed") hooks.onEnd(1001, "connection lost");
  };
  const send = (message) => {
    if (channel.readyState !== "open") return false;
    channel.send(JSON.stringify(message));
    hooks.onMessage(message, "out");
    return true;
  };
  const clock = new SentPacketClock();
  return {
    send,
    hangup() {
      stopWatching();
      pc.onconnectionstatechange = null;
      send({ type: "bye" });
      pc.close();
    },
    async captureTime(at) {
      const before = performance.now();
      const readAt = mic.captureNow();
      const { sent, countedAt } = await audioPacketsSent(pc);
      // the count's own time when it falls within the call (a busy page resolves it late)
      const counted = countedAt === null ? before : countedAt - performance.timeOrigin;
      const late = counted >= before && counted <= performance.now() ? counted - before : 0;
      clock.counted(readAt + late / 1000, sent);
      return clock.captureTime(at);
    },
    stats: () => connectionStats(pc),
  };
}
