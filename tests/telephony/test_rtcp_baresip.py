"""RTCP with a real softphone: baresip calls voicegate on loopback; each side receives the
other's reports and knows from them what the other lost."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from tests.telephony.conftest import phone_gateway, phone_speech, sip_backend, wait_for
from tests.telephony.peers import Baresip
from voicegate.bench.prompts import Prompt
from voicegate.telephony.sip.backend import SIPVoiceBackend
from voicegate.telephony.sip.call import SIPCall
from voicegate.testing import ScriptedSTT, ToneTTS


async def test_baresip_and_voicegate_exchange_rtcp_reports(
    tmp_path: Path, prompts: dict[str, Prompt], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "voicegate.telephony.sip.call")
    backend = SIPVoiceBackend(allow_anonymous=True, port=0)
    async with (
        phone_gateway(ScriptedSTT(["hello"]), ToneTTS(), [backend]) as phone,
        Baresip(tmp_path, phone_speech(prompts["conf-placeintoconf"])) as phone_user,
    ):
        phone_user.command("dial", f"sip:voicegate@127.0.0.1:{sip_backend(phone).port}")
        await phone_user.wait_event("CALL_ESTABLISHED")
        (call,) = backend.calls
        assert isinstance(call, SIPCall)
        await wait_for(lambda: call.media.rtcp.quality().peer_lost is not None, 30)
        theirs = await phone_user.wait_event("CALL_RTCP", 30)  # baresip read voicegate's
        phone_user.command("hangup")
        await phone_user.wait_event("CALL_CLOSED")
        await wait_for(lambda: not backend.calls)
        metrics = phone.metrics.registry
    for direction in ("to_caller", "from_caller"):
        labels = {"transport": "sip", "direction": direction}
        assert metrics.get_sample_value("voicegate_call_lost_ratio_count", labels) == 1
        assert metrics.get_sample_value("voicegate_call_lost_ratio_sum", labels) == 0
        assert metrics.get_sample_value("voicegate_call_jitter_seconds_count", labels) == 1
    quality = call.media.rtcp.quality()
    assert quality.reports >= 1
    assert quality.invalid == 0  # baresip's pings and BYEs (reduced-size) are RTCP too
    assert (quality.peer_lost, quality.peer_fraction_lost) == (0, 0.0)  # loopback loses nothing
    assert quality.peer_jitter_ms is not None
    assert quality.received > 0
    assert quality.lost == 0
    stats: dict[str, Any] = theirs["rtcp_stats"]  # type: ignore[assignment]
    assert stats["tx"]["lost"] == 0  # voicegate's report on baresip's audio, as baresip read it
    assert stats["rx"]["sent"] > 0  # the packet count of voicegate's SR
    summary = re.search(r"EX=BareSip;.*PR=(\d+);PS=(\d+);PL=(-?\d+),(-?\d+);", phone_user.log())
    assert summary is not None, "baresip's rtcpsummary printed nothing"
    assert int(summary[1]) > 0
    assert (int(summary[3]), int(summary[4])) == (0, 0)  # lost: by baresip, by voicegate
    ended = [r.getMessage() for r in caplog.records if "ended: sent" in r.getMessage()]
    assert len(ended) == 1
    assert f"{quality.reports} RTCP reports, 0 invalid" in ended[0]
