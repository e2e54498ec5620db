// What the page draws: the conversation (partials, finals, answers as spoken, cut answers), the
// event log, the turn bars with p50/p95, the assistant's visualizer.

import { STAGES, summary, turnStages } from "./stats.js";
import { STATES } from "./assistant.js";

const $ = (id) => document.getElementById(id);
const EVENT_LOG_LIMIT = 500;

function item(className, text) {
  const li = document.createElement("li");
  li.className = className;
  li.textContent = text;
  return li;
}

/** The conversation: one entry per partial-then-final, per answer, per notice. */
export class Conversation {
  constructor(entries) {
    this.entries = entries; // the page state's list: {role, text, cut?, node}
    this.partial = null;
  }

  add(role, text) {
    const entry = { role, text, at: new Date().toISOString() };
    entry.node = item(role, text);
    $("conversation").appendChild(entry.node);
    this.entries.push(entry);
    entry.node.scrollIntoView({ block: "nearest" });
    return entry;
  }

  partialText(text) {
    if (!this.partial) {
      this.partial = item("partial", text);
      this.partial.setAttribute("aria-hidden", "true"); // the final one is announced
      $("conversation").appendChild(this.partial);
    }
    this.partial.textContent = text;
  }

  final(text) {
    if (this.partial) this.partial.remove();
    this.partial = null;
    return this.add("caller", text);
  }

  answerCut(entry) {
    if (!entry || entry.cut) return;
    entry.cut = true;
    entry.node.classList.add("cut");
    entry.node.title = "interrupted: the rest was not spoken";
  }
}

/** The event log: every message in and out, newest last, each one's JSON on demand. */
export function logEvent(direction, message) {
  const list = $("events");
  const entry = document.createElement("li");
  entry.className = direction;
  entry.dataset.type = message.type;
  const details = document.createElement("details");
  const summaryLine = document.createElement("summary");
  const time = new Date().toLocaleTimeString([], { hour12: false });
  summaryLine.textContent = `${time} ${direction === "out" ? "→" : "←"} ${message.type}`;
  const body = document.createElement("pre");
  body.textContent = JSON.stringify(message, null, 1);
  details.append(summaryLine, body);
  entry.appendChild(details);
  list.appendChild(entry);
  while (list.children.length > EVENT_LOG_LIMIT) list.firstChild.remove();
}

const round = (v) => (v === undefined || v === null ? "–" : String(Math.round(v)));

/** The turns' stacked bars (one per turn, one segment per stage) and the p50/p95 table. */
export function renderTurns(turns) {
  const scale = Math.max(1, ...turns.map((t) => t.heardMs || (t.stages && t.stages.total) || 0));
  const list = $("turn-bars");
  list.replaceChildren();
  turns.forEach((turn, index) => {
    const stages = turnStages(turn);
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.className = "turn-label";
    label.textContent = `#${index + 1}`;
    const bar = document.createElement("span");
    bar.className = "bar";
    const words = [];
    for (const [key, name] of STAGES) {
      if (stages[key] === undefined) continue;
      const segment = document.createElement("span");
      segment.className = `stage stage-${key}`;
      segment.style.width = `${(100 * stages[key]) / scale}%`;
      segment.title = `${name}: ${round(stages[key])} ms`;
      bar.appendChild(segment);
      words.push(`${name} ${round(stages[key])}`);
    }
    const figure = document.createElement("span");
    figure.className = "turn-heard";
    figure.textContent = `heard ${round(turn.heardMs)} ms`;
    li.setAttribute("aria-label", `turn ${index + 1}: ${words.join(", ")} ms; heard ${round(turn.heardMs)} ms`);
    li.append(label, bar, figure);
    list.appendChild(li);
  });
  const rows = summary(turns);
  const body = $("turn-summary").querySelector("tbody");
  body.replaceChildren();
  for (const [key, name] of [...STAGES, ["total", "server total"], ["heard", "heard by you"]]) {
    const tr = document.createElement("tr");
    for (const text of [name, round(rows[key].p50), round(rows[key].p95)]) {
      const cell = document.createElement(text === name ? "th" : "td");
      if (text === name) cell.scope = "row";
      cell.textContent = text;
      tr.appendChild(cell);
    }
    tr.dataset.stage = key;
    body.appendChild(tr);
  }
}

/** The assistant's state in words and on the orb; the visualizer draws the answer's audio. */
export function showAssistant(name) {
  $("assistant").dataset.state = name;
  $("assistant-state").textContent = STATES[name];
}

const BARS = 24;
const REST_PX = 2; // a silent bar's height

/**
 * The visualizer: the answer's audio as bars on `canvas`. `draw(analyser)` paints only when a
 * bar or their colour (the assistant's state's, in the page's theme) changed, and says whether
 * any bar stands above the rest line:
 * repainting still bars 60 times a second took a third of a core in a call (the page's main
 * thread and the compositor, on the cores the server's voice may share).
 */
export function visualizer(canvas) {
  const context = canvas.getContext("2d");
  let look = null; // the assistant's state and the page's theme the colour was read for
  let colour = "";
  let drawn = null; // the bars and colour last painted
  return function draw(analyser) {
    const now = `${$("assistant").dataset.state} ${document.documentElement.dataset.theme}`;
    if (now !== look) {
      look = now;
      colour = getComputedStyle(canvas).color;
    }
    const heights = bars(analyser, canvas.height);
    const moving = heights.some((height) => height > REST_PX);
    const key = `${colour} ${heights.join(",")}`;
    if (key === drawn) return moving;
    drawn = key;
    context.clearRect(0, 0, canvas.width, canvas.height);
    const width = canvas.width / BARS;
    context.fillStyle = colour;
    heights.forEach((height, i) => {
      context.fillRect(i * width + 1, (canvas.height - height) / 2, width - 2, height);
    });
    return moving;
  };
}

/** The bars' heights in whole pixels (none without an analyser, at least `REST_PX` each with one). */
function bars(analyser, height) {
  if (!analyser) return [];
  const bins = new Uint8Array(analyser.frequencyBinCount);
  analyser.getByteFrequencyData(bins);
  return Array.from({ length: BARS }, (_, i) => {
    const value = bins[Math.floor((i * bins.length) / BARS / 2)] / 255;
    return Math.max(REST_PX, Math.round(value * height));
  });
}
