"""Word error rate per language of the multilingual Whisper base, on espeak-ng speech.

Eight everyday sentences in each of English, French, German and Spanish, spoken by
espeak-ng (:mod:`voicegate.bench.espeak`), transcribed by ``whisper-base`` (int8) twice:
told the language (what a session with ``"language": "fr"`` in its ``hello`` does) and
detecting it (``auto``); English by tiny.en too. Per row: the WER (Whisper's normalisers),
the share of utterances whose language was detected right, and the median time.

    python benchmarks/languages.py

Writes ``benchmarks/results/languages.json`` and ``languages.png``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
from pathlib import Path

from voicegate.bench.espeak import espeak
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT

RESULTS = Path(__file__).resolve().parent / "results"
SENTENCES = {
    "en": [
        "Good morning, I would like to book a table for two people tonight.",
        "The train leaves at eight in the morning.",
        "Can you tell me where the nearest pharmacy is?",
        "My flight has been cancelled because of the storm.",
        "Please send me the invoice by email.",
        "We are going to the beach this weekend.",
        "How much does a ticket to the museum cost?",
        "I forgot my password and cannot log in.",
    ],
    "fr": [
        "Bonjour, je voudrais réserver une table pour deux personnes ce soir.",
        "Le train part à huit heures du matin.",
        "Pouvez-vous me dire où se trouve la pharmacie la plus proche?",
        "Mon vol a été annulé à cause de la tempête.",
        "Envoyez-moi la facture par courriel, s'il vous plaît.",
        "Nous allons à la plage ce week-end.",
        "Combien coûte un billet pour le musée?",
        "J'ai oublié mon mot de passe et je ne peux pas me connecter.",
    ],
    "de": [
        "Guten Morgen, ich möchte einen Tisch für zwei Personen reservieren.",
        "Der Zug fährt um acht Uhr morgens ab.",
        "Können Sie mir sagen, wo die nächste Apotheke ist?",
        "Mein Flug wurde wegen des Sturms gestrichen.",
        "Bitte schicken Sie mir die Rechnung per E-Mail.",
        "Wir fahren am Wochenende an den Strand.",
        "Wie viel kostet eine Eintrittskarte für das Museum?",
        "Ich habe mein Passwort vergessen und kann mich nicht anmelden.",
    ],
    "es": [
        "Buenos días, quisiera reservar una mesa para dos personas esta noche.",
        "El tren sale a las ocho de la mañana.",
        "¿Puede decirme dónde está la farmacia más cercana?",
        "Mi vuelo ha sido cancelado por la tormenta.",
        "Por favor, envíeme la factura por correo electrónico.",
        "Vamos a la playa este fin de semana.",
        "¿Cuánto cuesta una entrada para el museo?",
        "Olvidé mi contraseña y no puedo entrar.",
    ],
}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def measure(stt: FasterWhisperSTT, language: str, told: bool) -> dict[str, object]:
    pairs, detected, times = [], 0, []
    for sentence in SENTENCES[language]:
        heard = await stt.transcribe(espeak(sentence, language), language if told else None)
        pairs.append((sentence, heard.text))
        detected += heard.language == language
        times.append(heard.processing_time)
    row: dict[str, object] = {
        "model": stt.model_name,
        "language": language,
        "mode": "told" if told else "detected",
        "wer": word_error_rate(pairs, language),
        "language_right": detected / len(pairs),
        "median_ms": 1000 * statistics.median(times),
        "texts": [text for _, text in pairs],
    }
    progress(
        f"{row['model']} {language} {row['mode']}: WER {row['wer']:.1%}, "
        f"language right {row['language_right']:.0%}, {row['median_ms']:.0f} ms"
    )
    return row


async def main() -> None:
    progress("loading Whisper base and tiny.en ...")
    base, tiny = FasterWhisperSTT("whisper-base"), FasterWhisperSTT("whisper-tiny.en")
    await base.warm_up()
    await tiny.warm_up()
    rows = [await measure(tiny, "en", told=True)]
    for language in SENTENCES:
        rows.append(await measure(base, language, told=True))
        rows.append(await measure(base, language, told=False))
    print(f"\n{'model':16} {'lang':4} {'mode':9} {'WER':>6} {'lang ok':>8} {'median':>8}")
    for r in rows:
        print(
            f"{r['model']:16} {r['language']:4} {r['mode']:9} {r['wer']:>6.1%} "
            f"{r['language_right']:>8.0%} {r['median_ms']:>6.0f}ms"
        )
    RESULTS.mkdir(exist_ok=True)
    machine = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    data = {"machine": machine, "rows": rows}
    (RESULTS / "languages.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    plot(rows)


def plot(rows: list[dict[str, object]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    languages = list(SENTENCES)
    fig, ax = plt.subplots(figsize=(7, 4))
    for offset, mode in ((-0.2, "told"), (0.2, "detected")):
        values = [
            next(
                float(str(r["wer"]))
                for r in rows
                if r["model"] == "whisper-base" and r["language"] == lang and r["mode"] == mode
            )
            for lang in languages
        ]
        ax.bar(
            [i + offset for i in range(len(languages))], values, 0.4, label=f"base, language {mode}"
        )
    ax.set_xticks(range(len(languages)), languages)
    ax.set(ylabel="WER", title="Whisper base int8 on espeak-ng speech")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "languages.png", dpi=100)


if __name__ == "__main__":
    asyncio.run(main())
