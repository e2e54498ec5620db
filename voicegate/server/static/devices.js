// The microphone and speaker pickers: the devices the browser lists (with names once the page may
// use the microphone) and the chosen speaker, for the <audio> element and the AudioContext.

const $ = (id) => document.getElementById(id);

/** Fill the pickers, keeping each one's choice if the device is still there. */
export async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [kind, id] of [["audioinput", "microphone"], ["audiooutput", "speaker"]]) {
    const select = $(id);
    const chosen = select.value;
    const found = devices.filter((d) => d.kind === kind);
    if (found.length === 0) continue;
    select.replaceChildren(...found.map((d, i) => new Option(d.label || `${id} ${i + 1}`, d.deviceId)));
    if (found.some((d) => d.deviceId === chosen)) select.value = chosen;
  }
}

/** Play answers on the chosen speaker, where the browser has `setSinkId`. */
export async function applySpeaker(context) {
  const sinkId = $("speaker").value;
  if (!sinkId || !("setSinkId" in HTMLMediaElement.prototype)) return;
  await $("remote").setSinkId(sinkId).catch(() => {});
  if (context && context.setSinkId) await context.setSinkId(sinkId).catch(() => {});
}
