// The text box: typed words go into the room as the caller's turn (protocol 2's `say`), answered
// aloud as speech is; the conversation shows them when their `final_transcript` comes back.

/** On submit of `form`, hand `input`'s trimmed text to `say(text)`; clear it once said. */
export function textBox(form, input, say) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text && say(text)) input.value = "";
  });
}
