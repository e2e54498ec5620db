// The microphone check before a call: the noise floor and the speech level in dBFS, clipping,
// whether the server's voice activity detector hears speech, and what the recogniser makes of a
// test sentence. It is a real WebSocket session whose answer is not played.

import { dbfs, openMicrophone, outputAnalyser } from "./audio.js";
import { startWebSocket } from "./transports.js";

export const TEST_SENTENCE = "The quick brown fox jumps over the lazy dog.";
const CHECK_MS = 15000; // the longest a check listens for the sentence

const words = (text) => text.toLowerCase().replace(/[^a-z' ]/g, " ").split(/\s+/).filter(Boolean);

/** The share of the test sentence's words the recogniser got, in order-free terms. */
function wordsRight(heard) {
  const said = words(TEST_SENTENCE);
  const got = new Set(words(heard));
  return said.filter((w) => got.has(w)).length / said.length;
}

const percentileOf = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : -100;
};

/**
 * Runs the check; `progress(text)` tells what it is doing. Resolves to { noiseFloorDb,
 * speechLevelDb, clipped, voiceDetected, transcript, wordsRight } or rejects with the reason.
 */
export async function checkMicrophone({ deviceId, processing, token, progress }) {
  const levels = [];
  let clipped = false;
  let mic = null;
  mic = await openMicrophone({
    deviceId,
    processing,
    onChunk(chunk) {
      levels.push(dbfs(chunk.rms));
      if (chunk.clipped) clipped = true;
      if (mic && mic.sendPcm && chunk.pcm) mic.sendPcm(chunk.pcm, chunk.startAt);
    },
  });
  let voiceDetected = false;
  let link = null;
  try {
    const transcript = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve(""), CHECK_MS);
      const hooks = {
        token,
        analyser: outputAnalyser(mic.context),
        playAnswers: false,
        onAnswerAudio() {},
        onEnd: (key, reason) => reject(Object.assign(new Error(reason || String(key)), { key })),
        onMessage(message) {
          if (message.type === "ready") progress(`Say: "${TEST_SENTENCE}"`);
          if (message.type === "speech_start") {
            voiceDetected = true;
            progress("Hearing you…");
          }
          if (message.type === "final_transcript") {
            clearTimeout(timer);
            resolve(message.text);
          }
        },
      };
      startWebSocket(mic, hooks).then((started) => { link = started; }, reject);
    });
    return {
      noiseFloorDb: Math.round(percentileOf(levels, 10)),
      speechLevelDb: Math.round(percentileOf(levels, 98)),
      clipped,
      voiceDetected,
      transcript,
      wordsRight: wordsRight(transcript),
    };
  } finally {
    if (link) link.hangup();
    mic.close();
  }
}
