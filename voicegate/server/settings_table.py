"""The settings table of ``voicegate serve``: every setting, its help and its parser.

:mod:`voicegate.server.config` makes the argument parser, the environment names
(``VOICEGATE_<NAME>``), the TOML keys and ``--help`` from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicegate.server.config_values import (
    any_text,
    boolean,
    channel_types,
    fraction,
    int_in,
    language_code,
    non_empty,
    non_negative_float,
    one_of,
    port_range,
    positive_float,
    session_value,
    sip_transports,
    sip_users,
)
from voicegate.voice.live_settings import END_OF_SPEECH_MS_LIMITS

ENV_PREFIX = "VOICEGATE_"


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting of ``voicegate serve``: its ``--flag``, ``VOICEGATE_`` variable and TOML
    key come from ``name``."""

    name: str
    help: str
    parse: Callable[[str], Any]
    voice: bool = False
    """Whether it is a field of :class:`VoiceSettings` rather than of :class:`ServeConfig`."""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "address to listen on", non_empty),
    Setting(
        "port", "TCP port for the page, WebSocket, WebRTC offers and metrics", int_in(0, 65535)
    ),
    Setting(
        "data_dir",
        "folder for the SQLite store and the token secret",
        lambda value: Path(non_empty(value)),
    ),
    Setting(
        "store",
        "conversation store: sqlite (one process), postgres (shared) or memory",
        one_of("sqlite", "postgres", "memory"),
    ),
    Setting("postgres_url", "postgresql://user:password@host:port/db (store=postgres)", non_empty),
    Setting(
        "redis_url",
        "redis://host:port/db shared by several processes: locks, realtime, room events",
        non_empty,
    ),
    Setting("stt_model", "speech-to-text model id or CTranslate2 folder", non_empty),
    Setting(
        "stt_device",
        "where speech recognition runs: cpu, cuda, or auto (CUDA when one is found)",
        one_of("cpu", "cuda", "auto"),
    ),
    Setting(
        "stt_batch",
        "most utterances recognised in one batched call (1: one at a time; 0: 1 on the CPU, "
        "8 on CUDA)",
        int_in(0, 64),
    ),
    Setting(
        "stt_partial_busy",
        "partial transcripts are skipped while the recogniser was busier than this share of "
        "the last 10 s (1: never skipped; the pass as a caller pauses always runs)",
        fraction,
    ),
    Setting("tts_voice", "Piper voice id or .onnx path", non_empty),
    Setting("responder", "who answers: echo, or ai (OpenAI-compatible)", one_of("echo", "ai")),
    Setting("ai_url", "base URL of the OpenAI-compatible endpoint (responder=ai)", non_empty),
    Setting("ai_model", "model name sent to the endpoint (responder=ai)", non_empty),
    Setting("anonymous", "accept connections without a token (loopback only)", boolean),
    Setting("token_ttl", "lifetime in seconds of the page token printed at start", positive_float),
    Setting(
        "token_secret_file",
        "file holding the secret that signs tokens (or VOICEGATE_TOKEN_SECRET, the secret "
        "itself; default: <data_dir>/token-secret, created on first use)",
        lambda value: Path(non_empty(value)),
    ),
    Setting("max_sessions", "most concurrent voice sessions", int_in(1, 10000)),
    Setting(
        "drain_timeout",
        "seconds SIGTERM lets calls finish before closing them with 1001",
        positive_float,
    ),
    Setting(
        "lease_ttl",
        "seconds after its last heartbeat on Redis that a process counts as dead (redis_url):"
        " the others then remove its callers from their rooms",
        positive_float,
    ),
    Setting("webrtc", "serve the WebRTC offer endpoint", boolean),
    Setting("vad", "voice activity detector: webrtc or silero", session_value("vad"), voice=True),
    Setting(
        "twilio",
        "take Twilio calls: Media Streams at /twilio/stream, the TwiML webhook POST /twilio/voice",
        boolean,
    ),
    Setting(
        "twilio_auth_token",
        "the Twilio account's auth token: webhooks must carry its signature",
        any_text,
    ),
    Setting(
        "twilio_public_url",
        "where Twilio reaches voicegate, such as https://voice.example.com (default: Host header)",
        any_text,
    ),
    Setting("sip", "take SIP calls on sip_port (UDP and TCP)", boolean),
    Setting("sip_port", "port for SIP", int_in(0, 65535)),
    Setting("sip_transports", "SIP transports: udp, tcp or udp,tcp", sip_transports),
    Setting(
        "sip_public_address",
        "address given in SIP Contact and SDP (default: host, or the Request-URI's host)",
        any_text,
    ),
    Setting(
        "sip_users",
        "digest credentials user:password,... for SIP callers (better in the env or TOML file)",
        sip_users,
    ),
    Setting("sip_realm", "digest realm of SIP authentication", non_empty),
    Setting(
        "record_calls",
        "record calls into <data-dir>/recordings: every phone call (Twilio, SIP) and the"
        " WebSocket and WebRTC calls that ask (record: true in the hello or the offer)",
        boolean,
    ),
    Setting("recording_format", "recording files: wav, or ogg (Opus)", one_of("wav", "ogg")),
    Setting(
        "recording_retention_days",
        "delete recordings older than this many days (0: keep them)",
        non_negative_float,
    ),
    Setting(
        "sip_room_from_uri", "the Request-URI's user part names the room a call joins", boolean
    ),
    Setting("rtp_ports", "UDP ports: RTP (even), RTCP (next), e.g. 10000-20000", port_range),
    Setting("rtp_timeout", "seconds without RTP before a call is hung up", positive_float),
    Setting("vad_aggressiveness", "WebRTC VAD aggressiveness, 0-3", int_in(0, 3), voice=True),
    Setting(
        "speech_start_ms", "speech that starts an utterance, in ms", int_in(0, 2000), voice=True
    ),
    Setting(
        "end_of_turn",
        "how a turn ends: fixed (a silence) or semantic (Smart Turn and the words)",
        session_value("end_of_turn"),
        voice=True,
    ),
    Setting(
        "end_of_speech_ms",
        "silence that ends a turn with end_of_turn fixed, in ms",
        int_in(*END_OF_SPEECH_MS_LIMITS),
        voice=True,
    ),
    Setting(
        "turn_check_ms",
        "semantic: silence before the end-of-turn model is asked, in ms",
        session_value("turn_check_ms"),
        voice=True,
    ),
    Setting(
        "turn_recheck_ms",
        "semantic: more silence before it is asked again, in ms",
        session_value("turn_recheck_ms"),
        voice=True,
    ),
    Setting(
        "turn_threshold",
        "semantic: completion probability that ends the turn after end_of_speech_ms, 0-1",
        session_value("turn_threshold"),
        voice=True,
    ),
    Setting(
        "turn_sure_threshold",
        "semantic: completion probability that ends the turn at once, 0-1",
        session_value("turn_sure_threshold"),
        voice=True,
    ),
    Setting(
        "min_silence_ms",
        "semantic: silence a turn's end waits for at least, however sure the model is, in ms",
        session_value("min_silence_ms"),
        voice=True,
    ),
    Setting(
        "words_end_ms",
        "semantic: silence that ends a turn whose words end a sentence, in ms (0: never)",
        session_value("words_end_ms"),
        voice=True,
    ),
    Setting(
        "max_silence_ms",
        "semantic: silence that always ends a turn, in ms",
        session_value("max_silence_ms"),
        voice=True,
    ),
    Setting(
        "preroll_ms", "audio kept from before speech starts, in ms", int_in(0, 2000), voice=True
    ),
    Setting(
        "max_utterance_ms",
        "longest utterance before it is cut, in ms",
        int_in(1000, 60000),
        voice=True,
    ),
    Setting(
        "interruption_speaking",
        "what interrupts an answer playing: immediate, confirmed, semantic or disabled",
        session_value("interruption_speaking"),
        voice=True,
    ),
    Setting(
        "interruption_thinking",
        "what interrupts an answer being prepared: immediate, confirmed, semantic or disabled",
        session_value("interruption_thinking"),
        voice=True,
    ),
    Setting(
        "barge_in_ms",
        "speech needed to interrupt with confirmed, in ms",
        session_value("barge_in_ms"),
        voice=True,
    ),
    Setting(
        "echo_cancellation",
        "cancel the answers' echo in the caller's audio (clients without their own)",
        session_value("echo_cancellation"),
        voice=True,
    ),
    Setting(
        "noise_suppression",
        "suppress steady background noise in the caller's audio",
        session_value("noise_suppression"),
        voice=True,
    ),
    Setting(
        "partial_interval_ms",
        "new speech between partial transcripts, in ms",
        int_in(100, 10000),
        voice=True,
    ),
    Setting(
        "idle_timeout_ms",
        "end a session after this long without speech or answer, in ms (0: never)",
        int_in(0, 86_400_000),
        voice=True,
    ),
    Setting(
        "speak_channel_types",
        "channel types whose messages are spoken, separated by commas",
        channel_types,
        voice=True,
    ),
    Setting(
        "language",
        "language callers speak (a code such as fr), or auto: detected by a multilingual model",
        language_code,
        voice=True,
    ),
)
