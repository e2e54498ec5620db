// voicegate call page: WebRTC with a WebSocket fallback, live transcripts, answers and turn latency.
// The state the page shows is also exposed as `window.voicegate` for tests and debugging.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// the token from the page address, replaced by a renewed one before it expires (see renewToken)
let token = params.get("token") || "";
// Echo cancellation, noise suppression and gain control stay on for people; `?aec=0` turns them off
// so that a test's fake microphone reaches the server as recorded.
const voiceProcessing = params.get("aec") !== "0";
// The protocol takes 8, 16, 24 or 48 kHz; asking for 48 kHz makes the browser resample 44.1 kHz devices.
const CAPTURE_RATE = 48000;
const WEBRTC_CONNECT_MS = 10000;
// Every URL is relative to the page, so the page works wherever voicegate is mounted (e.g. /voice/).
const endpoint = (path) => new URL(path, document.baseURI);

const state = {
  status: "idle",
  transport: null,
  sessionId: null,
  roomId: null,
  transcripts: [],
  answers: [],
  events: [],
  turns: [],
  answerAudioMs: 0,
  bargeIns: 0,
  micLevelDb: -100,
  errors: [],
  tokenRenewals: 0,
};
window.voicegate = state;

let call = null; // the live call: { hangup(), send(message) }
let currentTurn = null;

function setStatus(status, detail = "") {
  state.status = status;
  $("status").dataset.state = status;
  $("status").textContent = detail ? `${status}: ${detail}` : status;
  $("call").textContent = status === "live" || status === "connecting" ? "Hang up" : "Call";
}

function logLine(kind, text) {
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = text;
  $("log").appendChild(li);
}

function endCall() {
  if (call) call.hangup();
  call = null;
}

function fail(message) {
  state.errors.push(message);
  logLine("notice", message);
  endCall();
  setStatus("error", message);
}

// ---- token renewal --------------------------------------------------------------------------

// A token lives `exp - iat` seconds. The page trades it for a fresh one at once, then every half
// lifetime: no clock of the browser's is compared with the server's, and a late timer still has
// half a lifetime to spare. A failed attempt is retried unless the server refused the token.
function tokenLifetimeMs(value) {
  try {
    const payload = JSON.parse(atob(value.split(".")[0].replace(/-/g, "+").replace(/_/g, "/")));
    return (payload.exp - payload.iat) * 1000;
  } catch {
    return null;
  }
}

async function renewToken() {
  const lifetimeMs = tokenLifetimeMs(token);
  if (!lifetimeMs) return;
  let response;
  try {
    response = await fetch(endpoint("token/renew"), {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
    });
  } catch {
    setTimeout(renewToken, lifetimeMs / 8); // the network failed: try again soon
    return;
  }
  if (!response.ok) {
    logLine("notice", `token renewal refused (${response.status}): open a fresh page link`);
    return;
  }
  token = (await response.json()).token;
  state.tokenRenewals += 1;
  const address = new URL(location.href);
  address.searchParams.set("token", token);
  history.replaceState(null, "", address); // a reload keeps working too
  setTimeout(renewToken, lifetimeMs / 2);
}

// ---- turn latency -------------------------------------------------------------------------

function renderTurn(turn) {
  if (!turn.row) {
    turn.row = document.createElement("tr");
    $("turns").querySelector("tbody").appendChild(turn.row);
  }
  const s = turn.stages || {};
  const heard = turn.heardMs === undefined ? "" : Math.round(turn.heardMs);
  const cells = [state.turns.indexOf(turn) + 1, s.endpoint, s.stt, s.room, s.tts, s.total, heard];
  turn.row.innerHTML = "";
  for (const value of cells) {
    const td = document.createElement("td");
    td.textContent = value === undefined ? "" : String(Math.round(value));
    turn.row.appendChild(td);
  }
}

function answerAudioArrived(ms) {
  state.answerAudioMs += ms;
  if (currentTurn && currentTurn.heardMs === undefined) {
    const endpointMs = (currentTurn.stages && currentTurn.stages.endpoint) || 0;
    currentTurn.heardMs = performance.now() - currentTurn.speechEndAt + endpointMs;
    renderTurn(currentTurn);
  }
}

// ---- protocol messages (same JSON over the WebSocket and the WebRTC data channel) -----------

function onMessage(message, player) {
  switch (message.type) {
    case "ready":
      state.sessionId = message.session_id;
      state.roomId = message.room_id;
      setStatus("live", `${state.transport}, room ${message.room_id}`);
      break;
    case "speech_start":
      $("partial").textContent = "…";
      break;
    case "partial_transcript":
      $("partial").textContent = message.text;
      break;
    case "speech_end":
      currentTurn = { speechEndAt: performance.now() };
      state.turns.push(currentTurn);
      break;
    case "final_transcript":
      $("partial").textContent = "";
      state.transcripts.push(message.text);
      logLine("caller", message.text);
      break;
    case "room_event": {
      const event = message.event;
      state.events.push(event);
      const body = event.content && event.content.body;
      if (event.source && event.source.channel_type === "ai" && body) {
        state.answers.push(body);
        logLine("answer", body);
      }
      break;
    }
    case "barge_in":
      state.bargeIns += 1;
      if (player) player.flush();
      logLine("notice", "interrupted");
      break;
    case "turn_metrics":
      if (currentTurn) {
        currentTurn.stages = message.metrics.stages_ms;
        renderTurn(currentTurn);
      }
      break;
    case "error":
      if (message.fatal) fail(`${message.code}: ${message.message}`);
      else logLine("notice", `${message.code}: ${message.message}`);
      break;
    default:
      break;
  }
}

// ---- microphone and level meter -----------------------------------------------------------

async function openMicrophone() {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: {
      echoCancellation: voiceProcessing,
      noiseSuppression: voiceProcessing,
      autoGainControl: voiceProcessing,
    },
  });
  const context = new AudioContext({ sampleRate: CAPTURE_RATE });
  await context.resume();
  const source = context.createMediaStreamSource(stream);
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const v of samples) sum += v * v;
    const db = 10 * Math.log10(sum / samples.length + 1e-10);
    state.micLevelDb = db;
    $("level").style.width = `${Math.max(0, Math.min(100, (db + 60) * (100 / 60)))}%`;
  }, 50);
  return { stream, context, source, close: () => { clearInterval(timer); context.close(); } };
}

// ---- WebSocket transport --------------------------------------------------------------------

function websocketPlayer(context) {
  let playHead = 0;
  const sources = new Set();
  return {
    play(pcm, rate) {
      const samples = new Int16Array(pcm);
      const buffer = context.createBuffer(1, samples.length, rate);
      const channel = buffer.getChannelData(0);
      for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
      const node = context.createBufferSource();
      node.buffer = buffer;
      node.connect(context.destination);
      playHead = Math.max(playHead, context.currentTime + 0.02);
      node.start(playHead);
      playHead += buffer.duration;
      sources.add(node);
      node.onended = () => sources.delete(node);
      answerAudioArrived(buffer.duration * 1000);
    },
    flush() {
      for (const node of sources) node.stop();
      sources.clear();
      playHead = 0;
    },
  };
}

async function startWebSocket(mic) {
  // the worklet loads first: a socket opened before it could fire `open` with nobody listening
  await mic.context.audioWorklet.addModule(new URL("capture-worklet.js", import.meta.url));
  const capture = new AudioWorkletNode(mic.context, "voicegate-capture");
  const player = websocketPlayer(mic.context);
  let outputRate = 16000;
  const url = endpoint("ws");
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = `?token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error("WebSocket connection failed"));
    ws.onclose = (e) => reject(new Error(`WebSocket closed (${e.code}) ${e.reason}`));
  });
  ws.onclose = (e) => {
    if (state.status !== "idle") fail(`connection closed (${e.code}) ${e.reason}`);
  };
  ws.onmessage = (e) => {
    if (typeof e.data === "string") {
      const message = JSON.parse(e.data);
      if (message.type === "ready") outputRate = message.output_sample_rate;
      onMessage(message, player);
    } else {
      player.play(e.data, outputRate);
    }
  };
  ws.send(JSON.stringify({ type: "hello", sample_rate: mic.context.sampleRate, channels: 1, format: "pcm16" }));
  capture.port.onmessage = (e) => { if (ws.readyState === WebSocket.OPEN) ws.send(e.data); };
  mic.source.connect(capture);
  return {
    send: (message) => ws.send(JSON.stringify(message)),
    hangup() {
      capture.disconnect();
      ws.onclose = null; // closing it ourselves is no failure
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "bye" }));
      ws.close(1000);
    },
  };
}

// ---- WebRTC transport -----------------------------------------------------------------------

function watchRemoteAudio(context, stream) {
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  return setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let peak = 0;
    for (const v of samples) peak = Math.max(peak, Math.abs(v));
    if (peak > 0.01) answerAudioArrived(20);
  }, 20);
}

async function startWebRTC(mic) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  let remoteTimer = null;
  for (const track of mic.stream.getAudioTracks()) pc.addTrack(track, mic.stream);
  const channel = pc.createDataChannel("voicegate");
  const player = { flush() {} }; // the server flushes its paced track on barge-in
  channel.onmessage = (e) => onMessage(JSON.parse(e.data), player);
  pc.ontrack = (e) => {
    const stream = e.streams[0] || new MediaStream([e.track]);
    $("remote").srcObject = stream; // must play through an element, or WebAudio hears silence
    remoteTimer = watchRemoteAudio(mic.context, stream);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 2000);
  });
  const response = await fetch(endpoint("webrtc/offer"), {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ sdp: pc.localDescription.sdp, type: "offer" }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    pc.close();
    const reason = body.message || response.statusText;
    throw new Error(`offer refused (${response.status}): ${reason}`);
  }
  await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
  // connected means the data channel is open: until then a failure may still fall back
  try {
    await new Promise((resolve, reject) => {
      channel.onopen = resolve;
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "failed") reject(new Error("WebRTC connection failed"));
      };
      const seconds = WEBRTC_CONNECT_MS / 1000;
      setTimeout(() => reject(new Error(`no WebRTC connection within ${seconds} s`)), WEBRTC_CONNECT_MS);
    });
  } catch (error) {
    clearInterval(remoteTimer);
    pc.close();
    throw error;
  }
  state.sessionId = body.session_id;
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "failed") fail("WebRTC connection failed");
  };
  return {
    send: (message) => channel.readyState === "open" && channel.send(JSON.stringify(message)),
    hangup() {
      clearInterval(remoteTimer);
      pc.onconnectionstatechange = null;
      if (channel.readyState === "open") channel.send(JSON.stringify({ type: "bye" }));
      pc.close();
    },
  };
}

// ---- call button ----------------------------------------------------------------------------

async function startCall() {
  setStatus("connecting");
  let mic;
  try {
    mic = await openMicrophone();
  } catch (error) {
    fail(`microphone unavailable: ${error.message}`);
    return;
  }
  const choice = $("transport").value;
  const order = choice === "auto" ? ["webrtc", "websocket"] : [choice];
  for (const name of order) {
    try {
      state.transport = name;
      const link = name === "webrtc" ? await startWebRTC(mic) : await startWebSocket(mic);
      call = { hangup: () => { link.hangup(); mic.close(); }, send: link.send };
      return;
    } catch (error) {
      state.errors.push(`${name}: ${error.message}`);
      logLine("notice", `${name}: ${error.message}`);
    }
  }
  mic.close();
  setStatus("error", state.errors[state.errors.length - 1]);
}

$("call").addEventListener("click", () => {
  if (state.status === "connecting") return;
  if (call) {
    endCall();
    setStatus("idle");
  } else {
    startCall();
  }
});

if (params.get("transport")) $("transport").value = params.get("transport");
if (!token) logLine("notice", "no token in the page address: open the URL that `voicegate serve` printed");
else renewToken();
