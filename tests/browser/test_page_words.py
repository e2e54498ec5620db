"""The call page's words for every way a call ends, and the clocks its "heard" figure rests on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.browser.pages import page_state, wait
from tests.servers import running_server

pytestmark = [pytest.mark.browser, pytest.mark.models, pytest.mark.asyncio(loop_scope="session")]

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
GENERIC = "The call could not go on"


def _close_codes() -> tuple[list[int], list[str]]:
    """The close codes of docs/protocol.md's "Close codes" table, and 1013's reasons."""
    section = PROTOCOL.read_text().split("## Close codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d{4}) \| (.*) \|$", section, re.MULTILINE)
    codes = [int(code) for code, _ in rows]
    busy = next(meaning for code, meaning in rows if code == "1013")
    return codes, re.findall(r"`(\w+)` \(", busy)  # each reason is followed by its cases


def _fatal_errors() -> list[str]:
    """The codes of docs/protocol.md's error table that end the session (fatal "yes")."""
    section = PROTOCOL.read_text().split("### `error`", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (.*?) \| .* \| (.*?) \| (\d{4}) \|$", section, re.MULTILINE)
    return [
        code for cell, fatal, _ in rows if fatal == "yes" for code in re.findall(r"`(\w+)`", cell)
    ]


async def test_every_close_code_of_the_protocol_has_words_and_a_next_step(page: Page) -> None:
    codes, busy_reasons = _close_codes()
    failures = [code for code in codes if code != 1000]  # 1000: a normal end, no failure
    assert {4403, 4410, 4429, 1013} <= set(failures)
    assert busy_reasons == ["server_busy", "overloaded", "store_unavailable"]
    fatal = _fatal_errors()
    assert {"idle_timeout", "too_slow", "internal_error", "server_shutting_down"} <= set(fatal)
    with running_server("--store", "memory") as (url, _):
        await page.goto(url)
        said = await page.evaluate(
            """async ([codes, reasons, fatal]) => {
              const { explain, isRestart } = await import("./static/failures.js");
              return {
                codes: codes.map((code) => explain(code)),
                busy: reasons.map((reason) => explain(1013, "", reason)),
                // the fatal error before a close (all WebRTC gets): its code is the reason
                fatal: fatal.map((code) => explain(code)),
                restarts: fatal.filter((code) => isRestart(code)),
              };
            }""",
            [failures, busy_reasons, fatal],
        )
    assert said["restarts"] == ["server_shutting_down"]  # the page reconnects after it
    for words in said["codes"] + said["busy"] + said["fatal"]:
        assert not words["title"].startswith(GENERIC), words
        assert words["next"], words
    titles = {code: words["title"] for code, words in zip(failures, said["codes"], strict=True)}
    reasons = {code: words["title"] for code, words in zip(fatal, said["fatal"], strict=True)}
    assert titles[4410] == "The call ended because nobody spoke for a while."
    assert titles[4410] == reasons["idle_timeout"]
    assert titles[4429] == reasons["too_slow"]
    assert titles[1001] == reasons["server_shutting_down"]
    assert len({words["title"] for words in said["busy"]}) == 3  # each reason its own words


@pytest.mark.parametrize("transport", ["websocket", "webrtc"])
async def test_an_idle_call_ends_with_the_words_for_it(page: Page, transport: str) -> None:
    with running_server("--store", "memory", "--idle-timeout-ms", "2000") as (url, _):
        await page.goto(f"{url}&aec=0&transport={transport}")
        await page.keyboard.press("m")  # nobody speaks
        await page.click("#call")
        await wait(page, "() => window.voicegate.status === 'error'")
        state = await page_state(page)
        assert state["sessionId"] is not None  # the call was up, then ended
        assert state["failure"]["title"] == "The call ended because nobody spoke for a while."
        assert await page.inner_text("#failure-next") == "Press Call to call again."


async def test_the_capture_clocks_map_the_servers_seconds_to_capture_times(page: Page) -> None:
    with running_server("--store", "memory") as (url, _):
        await page.goto(url)
        mapped = await page.evaluate(
            """async () => {
              const { SentAudioClock, SentPacketClock } = await import("./static/capture-clock.js");
              const sent = new SentAudioClock(48000);
              sent.sent(10.0, 960);  // 20 ms captured from 10.0 s
              sent.sent(10.5, 960);  // the next 20 ms after a gap in capture
              const packets = new SentPacketClock();
              const before = packets.captureTime(1);
              packets.counted(30.0, 500);  // 500 packets (10 s) had gone at 30 s
              return [sent.captureTime(0), sent.captureTime(0.01), sent.captureTime(0.03),
                      sent.captureTime(0.05), before, packets.captureTime(2.5)];
            }"""
        )
    # the WebSocket: sample by sample, gaps in capture kept; a second not yet sent is unknown
    assert mapped[:3] == pytest.approx([10.0, 10.01, 10.51])
    assert mapped[3] is None
    # WebRTC: the first packet went 10 s before the count; unknown until counted
    assert mapped[4] is None
    assert mapped[5] == pytest.approx(22.5)


async def test_an_utterance_is_too_quiet_by_its_own_chunks_only(page: Page) -> None:
    with running_server("--store", "memory") as (url, _):
        await page.goto(url)
        said = await page.evaluate(
            """async () => {
              const { RecentLevels } = await import("./static/quiet.js");
              const levels = new RecentLevels();
              levels.add(9.98, 0.5);  // loud, the 20 ms before the utterance
              for (let at = 10.0; at < 12.0; at += 0.02) levels.add(at, 0.01);  // -40 dBFS
              levels.add(11.0, 0.03);  // its loudest 20 ms: -30.5 dBFS
              levels.add(12.0, 0.5);  // loud, just after it
              return [levels.quietNotice(10.0, 12.0), levels.quietNotice(9.9, 12.0),
                      levels.quietNotice(50.0, 52.0)];
            }"""
        )
    assert said[0].startswith("Your voice reaches the page quietly (-30 dBFS)")
    assert said[1] is None  # a loud chunk within it
    assert said[2] is None  # chunks nobody kept: nothing to say
