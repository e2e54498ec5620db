// A call's turns as the caller hears them. A turn starts at a `speech_end` with loud input since
// the last turn (an Opus blip after a sentence makes none). "Heard" runs from the capture time of
// the sample the server called the end of speech (`speech_end.at` on the page's capture clock)
// to the first sample of the turn's answer played. The server's total starts when that sample
// reached it and ends when the answer's first audio left it, so heard is never less.
// Each turn also keeps its final transcript and the context times its transcript came and its
// answer ended (`transcriptAt`, `answerEndedAt`): `voicegate bench --transports browser` reads
// them, with `lastLoudAt` and `firstPlayedAt`, from `window.voicegate.turns`.

export class Turns {
  /** `list`: the page state's turns; `onChange()` after any figure changed. */
  constructor(list, onChange) {
    this.list = list;
    this.onChange = onChange;
    this.lastLoudAt = null; // capture time of the microphone's last loud sample
    this.loudSinceLastTurn = false;
    this.typedTurns = new Set(); // turn ids of the words typed into the text box
  }

  last() {
    return this.list[this.list.length - 1];
  }

  /** The microphone (unmuted) captured a loud sample at capture time `at`. */
  loud(at) {
    this.lastLoudAt = at;
    this.loudSinceLastTurn = true;
  }

  /**
   * A `speech_end`: a new turn unless nothing was loud since the last one. `captureTime(at)`
   * resolves to the capture time of the server's inbound second `at` (null if unknown).
   */
  speechEnded(message, captureTime) {
    if (!this.loudSinceLastTurn) return null;
    this.loudSinceLastTurn = false;
    const turn = { speechEndAt: message.at, lastLoudAt: this.lastLoudAt };
    this.list.push(turn);
    captureTime(message.at).then(
      (at) => {
        turn.heardFrom = at;
        this.settle(turn);
      },
      () => {},
    );
    return turn;
  }

  /** A `final_transcript` of `text` came at context time `at`. */
  transcribed(text, at) {
    const turn = this.last();
    if (turn && turn.transcript === undefined) Object.assign(turn, { transcript: text, transcriptAt: at });
  }

  /** `tts_start`: the audio played from now on is the last turn's answer. */
  answerStarted() {
    const turn = this.last();
    if (turn) turn.answering = true;
  }

  /** `tts_end` came at context time `at`: the last turn's answer has played. */
  answerEnded(at) {
    const turn = this.last();
    if (turn && turn.answering && turn.answerEndedAt === undefined) turn.answerEndedAt = at;
  }

  /** Answer audio whose first sample plays at context time `playedAt`. */
  answerPlayed(playedAt) {
    const turn = this.last();
    if (!turn || !turn.answering || turn.firstPlayedAt !== undefined) return;
    turn.firstPlayedAt = playedAt;
    this.settle(turn);
  }

  /** A `room_event`: the caller's typed words (`say`) are a turn the microphone had no part in. */
  roomEvent(message) {
    const voice = message.event.metadata && message.event.metadata.voice;
    if (voice && voice.typed) this.typedTurns.add(message.turn_id);
  }

  /** `turn_metrics`: the server's stages of the last spoken turn. */
  metrics(metrics) {
    const turn = this.last();
    if (turn && !this.typedTurns.has(metrics.turn_id)) turn.stages = metrics.stages_ms;
    this.onChange();
  }

  settle(turn) {
    if (turn.heardMs !== undefined || turn.heardFrom == null || turn.firstPlayedAt === undefined) return;
    turn.heardMs = (turn.firstPlayedAt - turn.heardFrom) * 1000;
    this.onChange();
  }
}
