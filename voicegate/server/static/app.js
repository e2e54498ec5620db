// voicegate call page: WebRTC with a WebSocket fallback; the assistant's state, the conversation,
// each turn's latency as the caller hears it, the connection, the event log, export.
// The state the page shows is also `window.voicegate`, for tests and debugging.

import { dbfs, openMicrophone, outputAnalyser } from "./audio.js";
import { nextState } from "./assistant.js";
import { explain, isRestart } from "./failures.js";
import { applySpeaker, listDevices } from "./devices.js";
import { checkMicrophone } from "./mic-check.js";
import { RecentLevels } from "./quiet.js";
import { callRecord, turnsCsv } from "./stats.js";
import { PageToken } from "./token.js";
import { CallError, reachable, startWebRTC, startWebSocket } from "./transports.js";
import { Turns } from "./turns.js";
import { textBox } from "./typing.js";
import { Conversation, logEvent, renderTurns, showAssistant, visualizer } from "./views.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// Echo cancellation, noise suppression and gain control stay on for people; `?aec=0` turns them off.
const voiceProcessing = params.get("aec") !== "0";
const RECONNECT_FOR_MS = 60000;

const state = {
  status: "idle", // idle, connecting, live, reconnecting, error
  assistant: "idle",
  transport: null,
  sessionId: null,
  roomId: null,
  startedAt: null,
  muted: false,
  transcripts: [],
  answers: [],
  conversation: [],
  events: [],
  turns: [],
  answerAudioMs: 0,
  heard: [], // of each answer the caller cut: what it heard ({ text, interrupted_at_ms })
  bargeIns: 0,
  interruptions: [],
  floor: "listening",
  ignored: [],
  micLevelDb: -100,
  clipped: false,
  connection: {},
  errors: [],
  failure: null, // { title, next, detail } as shown
  reconnects: 0,
  micCheck: null, // the last microphone check's figures
  tokenRenewals: 0,
};
window.voicegate = state;

const conversation = new Conversation(state.conversation);
let call = null; // { link, mic, analyser }
const turns = new Turns(state.turns, () => renderTurns(state.turns));
const recentLevels = new RecentLevels();
let speakingEntry = null;

const token = new PageToken(params.get("token") || "", {
  onRenewed: () => { state.tokenRenewals = token.renewals; },
  onRefused: (status) => showFailure(describe(status)),
});

// ---- status, failures ---------------------------------------------------------------------

function setStatus(status, detail = "") {
  state.status = status;
  $("status").dataset.state = status;
  $("status").textContent = detail ? `${status}: ${detail}` : status;
  const inCall = status === "live" || status === "connecting" || status === "reconnecting";
  $("call").textContent = inCall ? "Hang up" : "Call";
  $("call").setAttribute("aria-pressed", String(inCall));
  $("say-text").disabled = $("say-send").disabled = status !== "live";
}

function showFailure(failure) {
  state.failure = failure;
  $("failure-title").textContent = failure.title;
  $("failure-next").textContent = failure.next;
  $("failure-detail").textContent = failure.detail || "";
  $("failure").hidden = false;
}

// the server says only "unauthorized"; the token's own expiry tells an expired link apart
const UNAUTHORIZED = new Set([401, 4401]);
// refusals that another transport would get too: no fallback, the words at once
const NO_FALLBACK = new Set([401, 403, 4401, 4403, 4404, 1013, 503]);

function describe(key, detail, reason = "") {
  return explain(UNAUTHORIZED.has(key) && token.expired() ? "expired" : key, detail, reason);
}

function clearFailure() {
  state.failure = null;
  $("failure").hidden = true;
}

function notice(text) {
  state.errors.push(text);
  conversation.add("notice", text);
}

function setAssistant(name) {
  state.assistant = name;
  showAssistant(name);
  animateVisualizer();
}

// ---- the call -----------------------------------------------------------------------------

function endCall() {
  if (!call) return;
  call.link.hangup();
  call.mic.close();
  call = null;
  setAssistant("idle");
}

function onEnd(key, reason) {
  endCall();
  if (isRestart(key) || isRestart(reason)) return reconnect(key);
  state.errors.push(`connection closed (${key}) ${reason || ""}`.trim());
  setStatus("error", `closed (${key})`);
  showFailure(describe(key, reason, reason));
}

async function reconnect(key) {
  setStatus("reconnecting");
  showFailure(explain(key));
  const until = Date.now() + RECONNECT_FOR_MS;
  while (Date.now() < until && state.status === "reconnecting") {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (await reachable()) {
      state.reconnects += 1;
      return startCall();
    }
  }
  if (state.status === "reconnecting") {
    setStatus("error", "server gone");
    showFailure(explain("unreachable"));
  }
}

function onMicChunk(chunk) {
  state.micLevelDb = dbfs(chunk.rms);
  if (chunk.clipped) state.clipped = true;
  if (chunk.lastLoudAt !== null && !state.muted) turns.loud(chunk.lastLoudAt);
  recentLevels.add(chunk.startAt, chunk.rms);
  $("level").style.width = `${Math.max(0, Math.min(100, (state.micLevelDb + 60) * (100 / 60)))}%`;
  $("meter").classList.toggle("clipping", chunk.clipped);
  // muted, the track gives silence: the WebSocket keeps sending it, as WebRTC does
  if (call && call.mic.sendPcm && chunk.pcm) call.mic.sendPcm(chunk.pcm, chunk.startAt);
}

function onAnswerAudio(playedAt, ms) {
  state.answerAudioMs += ms;
  turns.answerPlayed(playedAt);
}

async function startCall() {
  clearFailure();
  setStatus("connecting");
  if (!(await reachable())) {
    setStatus("error", "server unreachable");
    return showFailure(explain("unreachable"));
  }
  let mic;
  try {
    mic = await openMicrophone({
      deviceId: $("microphone").value,
      processing: voiceProcessing,
      onChunk: onMicChunk,
    });
  } catch (error) {
    state.errors.push(`microphone: ${error.name}: ${error.message}`);
    setStatus("error", "no microphone");
    return showFailure(explain(error.name, error.message));
  }
  mic.setMuted(state.muted);
  await listDevices();
  const analyser = outputAnalyser(mic.context);
  await applySpeaker(mic.context);
  const hooks = {
    token: token.value,
    analyser,
    remoteAudio: $("remote"),
    onMessage,
    onAnswerAudio,
    onEnd,
  };
  const choice = $("transport").value;
  const order = choice === "auto" ? ["webrtc", "websocket"] : [choice];
  let last = null;
  for (const name of order) {
    try {
      state.transport = name;
      const link = name === "webrtc" ? await startWebRTC(mic, hooks) : await startWebSocket(mic, hooks);
      call = { link, mic, analyser };
      if (last) notice(`WebRTC could not connect (${last.message}): calling over the WebSocket instead.`);
      return;
    } catch (error) {
      last = error;
      state.errors.push(`${name}: ${error.message}`);
      if (NO_FALLBACK.has(error.key)) break;
    }
  }
  mic.close();
  const key = last instanceof CallError ? last.key : "unreachable";
  setStatus("error", last.message);
  showFailure(describe(key, last.message, last.reason));
}

// ---- protocol messages (the same JSON over the WebSocket and the WebRTC data channel) -----

/** Tells the caller if the utterance a `speech_end` closed reached the page too quietly. */
async function noticeIfQuiet(message, link) {
  const start = message.at - message.duration;
  const [from, to] = await Promise.all([link.captureTime(start), link.captureTime(message.at)]);
  if (from === null || to === null) return;
  const quiet = recentLevels.quietNotice(from, to);
  if (quiet) notice(quiet);
}

function onMessage(message, direction = "in") {
  logEvent(direction, message);
  if (direction === "out") return;
  setAssistant(nextState(state.assistant, message));
  switch (message.type) {
    case "ready":
      state.sessionId = message.session_id;
      state.roomId = message.room_id;
      state.startedAt = new Date().toISOString();
      callStartedAt = performance.now();
      clearFailure();
      setStatus("live", `${state.transport}, room ${message.room_id}`);
      break;
    case "partial_transcript":
      conversation.partialText(message.text);
      break;
    case "speech_end":
      if (call && turns.speechEnded(message, call.link.captureTime)) noticeIfQuiet(message, call.link);
      break;
    case "final_transcript":
      state.transcripts.push(message.text);
      conversation.final(message.text);
      if (call) turns.transcribed(message.text, call.mic.context.currentTime);
      break;
    case "room_event":
      state.events.push(message.event);
      turns.roomEvent(message);
      break;
    case "tts_start":
      state.answers.push(message.text);
      turns.answerStarted();
      speakingEntry = conversation.add("answer", message.text);
      break;
    case "tts_end":
      if (call) turns.answerEnded(call.mic.context.currentTime);
      if (message.interrupted) conversation.answerCut(speakingEntry);
      if (message.heard) state.heard.push(message.heard);
      speakingEntry = null;
      break;
    case "barge_in": {
      state.bargeIns += 1;
      state.interruptions.push({ during: message.during, strategy: message.strategy });
      conversation.answerCut(speakingEntry);
      const words = message.text ? `: ${message.text}` : "";
      conversation.add("notice", `interrupted while ${message.during} (${message.strategy})${words}`);
      break;
    }
    case "turn_state":
      state.floor = message.state;
      break;
    case "speech_ignored":
      state.ignored.push(message.reason);
      conversation.add("notice", `${message.reason}, not a turn: ${message.text}`);
      break;
    case "turn_metrics":
      turns.metrics(message.metrics);
      break;
    case "error":
      if (!message.fatal) notice(`${message.code}: ${message.message}`);
      else if (isRestart(message.code)) onEnd(1001, message.code);
      else onEnd(message.code, message.message);
      break;
    default:
      break;
  }
}

// ---- devices, mute, timer, connection figures, export, theme -------------------------------

function toggleMute() {
  state.muted = !state.muted;
  if (call) call.mic.setMuted(state.muted);
  $("mute").setAttribute("aria-pressed", String(state.muted));
  $("mute").textContent = state.muted ? "Unmute" : "Mute";
}

let callStartedAt = null;
/** The call's timer, written only when its text changes. */
function showTimer() {
  if (call && callStartedAt !== null && state.status === "live") {
    const seconds = Math.floor((performance.now() - callStartedAt) / 1000);
    const text = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    if ($("timer").textContent !== text) $("timer").textContent = text;
  }
}

const drawVisualizer = visualizer($("visualizer"));
let animating = false;
/** Animates the visualizer while the answer plays and until its bars come to rest, then asks
 * for no more frames (a new assistant state starts it again). */
function animateVisualizer() {
  if (animating) return;
  animating = true;
  const frame = () => {
    const moving = drawVisualizer(call ? call.analyser : null);
    animating = moving || state.assistant === "speaking";
    if (animating) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

async function pollConnection() {
  if (call && state.status === "live") {
    const figures = await call.link.stats();
    if (figures) state.connection = figures;
    const show = (v, unit) => (v === undefined ? "–" : `${v.toFixed(unit === "%" ? 1 : 0)} ${unit}`);
    $("rtt").textContent = show(state.connection.rttMs, "ms");
    $("jitter").textContent = show(state.connection.jitterMs, "ms");
    $("loss").textContent = show(state.connection.lossPercent, "%");
    $("session").textContent = `${state.transport}, session ${state.sessionId}, room ${state.roomId}`;
  }
  setTimeout(pollConnection, 2000);
}

async function runMicCheck() {
  if (call || state.status === "connecting") return;
  const show = (text) => { $("mic-check-result").textContent = text; };
  $("mic-check").disabled = true;
  clearFailure();
  show("Opening the microphone…");
  try {
    const options = { deviceId: $("microphone").value, processing: voiceProcessing, token: token.value };
    const result = await checkMicrophone({ ...options, progress: show });
    state.micCheck = result;
    show(
      `Noise floor ${result.noiseFloorDb} dBFS, speech ${result.speechLevelDb} dBFS` +
        `${result.clipped ? ", clipping: lower the input level" : ", no clipping"}; ` +
        `${result.voiceDetected ? "voice detected" : "no voice detected"}; heard ` +
        `"${result.transcript}" (${Math.round(100 * result.wordsRight)}% of the words).`,
    );
  } catch (error) {
    show("");
    showFailure(describe(error.key || error.name, error.message));
  } finally {
    $("mic-check").disabled = false;
  }
}

function download(name, type, text) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  $("theme").textContent = `Theme: ${theme}`;
  localStorage.setItem("voicegate-theme", theme);
  animateVisualizer(); // its bars in the theme's colour
}

$("call").addEventListener("click", () => {
  if (state.status === "connecting") return;
  if (call || state.status === "reconnecting") {
    endCall();
    setStatus("idle");
  } else {
    startCall();
  }
});
$("mute").addEventListener("click", toggleMute);
$("mic-check").addEventListener("click", runMicCheck);
textBox($("say"), $("say-text"), (text) => call !== null && call.link.send({ type: "say", text }));
for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener("click", () => {
    document.querySelector("main").dataset.tab = tab.id.replace("tab-", "");
    for (const other of document.querySelectorAll('[role="tab"]')) {
      other.setAttribute("aria-selected", String(other === tab));
    }
  });
}
document.addEventListener("keydown", (e) => {
  const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement;
  if (e.key === "m" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) toggleMute();
});
$("speaker").addEventListener("change", () => applySpeaker(call && call.mic.context));
if (!("setSinkId" in HTMLMediaElement.prototype)) $("speaker").disabled = true;
$("export-json").addEventListener("click", () =>
  download("voicegate-call.json", "application/json", JSON.stringify(callRecord(state), null, 2)));
$("export-csv").addEventListener("click", () => download("voicegate-turns.csv", "text/csv", turnsCsv(state.turns)));
$("theme").addEventListener("click", () => {
  const order = ["auto", "light", "dark"];
  setTheme(order[(order.indexOf(document.documentElement.dataset.theme) + 1) % order.length]);
});

setTheme(params.get("theme") || localStorage.getItem("voicegate-theme") || "auto");
if (params.get("transport")) $("transport").value = params.get("transport");
setAssistant("idle");
setStatus("idle");
renderTurns(state.turns);
listDevices().catch(() => {});
setInterval(showTimer, 250);
pollConnection();
if (token.value) token.renew(); // without one, only an --anonymous server takes the call
