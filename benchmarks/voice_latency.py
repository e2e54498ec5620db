"""Voice latency end to end: N concurrent callers over WebSocket, WebRTC, Twilio Media Streams
and SIP against ``voicegate serve``, each speaking Piper sentences in real time; p50/p95 per
stage.

    python benchmarks/voice_latency.py [--clients 1,2,4,8] [--turns 3]
        [--transports websocket,webrtc,twilio,sip] [--out benchmarks/results] [--url URL]

The same as ``voicegate bench``; writes ``results/voice_latency.json`` and ``.png``.
"""

from __future__ import annotations

import sys

from voicegate.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
