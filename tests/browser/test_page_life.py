"""The call page through a call's life: mute, a token expiring during a call and in the page
address, a server restart, the export, accessibility, and the screenshots kept in docs/."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.async_api import Browser, Download, Page

from tests.browser.axe import serious_violations
from tests.browser.conftest import SENTENCE, launched_chromium, new_page
from tests.browser.pages import call, page_state, wait
from tests.browser.test_page_calls import TURN_DONE
from tests.servers import running_server
from voicegate.audio.frame import AudioFrame
from voicegate.audio.wav import read_wav, write_wav
from voicegate.stt.wer import word_error_rate

pytestmark = [pytest.mark.browser, pytest.mark.models, pytest.mark.asyncio(loop_scope="session")]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LIVE = "() => window.voicegate.status === 'live'"
# the fake microphone's sentence has ended this long after the call is up (1 s + ~3 s + 2 s)
MIC_DONE_S = 8.0


def _expires_at(url: str) -> float:
    token = url.split("token=")[1]
    expires: float = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["exp"]
    return expires


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _downloaded(download: Download) -> str:
    return await asyncio.to_thread(Path(await download.path()).read_text)


async def test_muted_by_keyboard_the_sentence_is_never_transcribed(page: Page) -> None:
    with running_server("--store", "memory") as (url, _):
        await page.goto(f"{url}&aec=0&transport=websocket")
        await page.keyboard.press("m")
        assert await page.get_attribute("#mute", "aria-pressed") == "true"
        await page.click("#call")
        await wait(page, LIVE)
        await asyncio.sleep(MIC_DONE_S)  # the whole sentence plays into the muted track
        state = await page_state(page)
        assert state["muted"] is True
        assert state["transcripts"] == []
        assert state["turns"] == []
        assert state["micLevelDb"] < -80
        assert state["status"] == "live"


async def test_a_full_server_says_so_and_when_to_try_again(page: Page, browser: Browser) -> None:
    with running_server("--store", "memory", "--max-sessions", "1") as (url, _):
        await call(page, url, "websocket")
        await wait(page, LIVE)
        async with new_page(browser) as second:
            await call(second, url, "websocket")
            await wait(second, "() => window.voicegate.status === 'error'")
            assert await second.inner_text("#failure-title") == (
                "The server is full: it has as many calls as it takes."
            )
            assert await second.inner_text("#failure-next") == "Try again in a minute."
        assert (await page_state(page))["status"] == "live"


async def test_a_token_that_expires_during_a_call_is_renewed_and_the_call_goes_on(
    page: Page,
) -> None:
    with running_server("--store", "memory", "--token-ttl", "6") as (url, _):
        await call(page, url, "websocket")
        await wait(page, TURN_DONE)
        await asyncio.sleep(max(0.0, _expires_at(url) - time.time()) + 0.5)
        await wait(page, "() => window.voicegate.tokenRenewals >= 3")
        state = await page_state(page)
        assert state["status"] == "live"
        assert state["errors"] == []
        assert state["failure"] is None
        await page.click("#call")  # hang up, and call again with the renewed token
        await page.click("#call")
        await wait(page, LIVE)


async def test_an_expired_page_address_says_so_and_how_to_get_a_fresh_one(page: Page) -> None:
    with running_server("--store", "memory", "--token-ttl", "2") as (url, _):
        await asyncio.sleep(max(0.0, _expires_at(url) - time.time()) + 0.5)
        await page.goto(f"{url}&aec=0")
        await wait(page, "() => window.voicegate.failure !== null")
        assert await page.inner_text("#failure-title") == "This page's link has expired."
        assert "voicegate token page --page-url" in await page.inner_text("#failure-next")
        await page.click("#call")
        await wait(page, "() => window.voicegate.status === 'error'")
        assert await page.inner_text("#failure-title") == "This page's link has expired."
        assert (await page_state(page))["sessionId"] is None


@pytest.mark.parametrize("transport", ["websocket", "webrtc"])
async def test_the_page_reconnects_after_the_server_restarts_mid_call(
    page: Page, tmp_path: Path, transport: str
) -> None:
    port = str(_free_port())
    server_args = ("--store", "memory", "--port", port, "--data-dir", str(tmp_path))
    with running_server(*server_args) as (url, _):
        await call(page, url, transport)
        await wait(page, LIVE)
        first_session = (await page_state(page))["sessionId"]
    await wait(page, "() => window.voicegate.status === 'reconnecting'")
    assert await page.inner_text("#failure-next") == "Reconnecting as soon as it is back…"
    with running_server(*server_args):
        await wait(page, LIVE)
        state = await page_state(page)
        assert state["reconnects"] == 1
        assert state["sessionId"] != first_session
        assert state["failure"] is None
        assert state["transport"] == transport
        await page.click("#call")


async def test_a_finished_call_exports_what_the_page_showed_passes_axe_and_is_photographed(
    page: Page,
) -> None:
    with running_server("--store", "memory") as (url, _):
        await page.set_viewport_size({"width": 1280, "height": 900})
        await call(page, url, "websocket")
        await wait(page, TURN_DONE)
        await wait(page, "() => window.voicegate.assistant === 'listening'")
        state = await page_state(page)

        async with page.expect_download() as download_info:
            await page.click("#export-json")
        exported = json.loads(await _downloaded(await download_info.value))
        shown = [await item.inner_text() for item in await page.locator("#conversation li").all()]
        assert [entry["text"] for entry in exported["conversation"]] == shown
        assert exported["transport"] == "websocket"
        assert exported["session_id"] == state["sessionId"]
        assert len(exported["turns"]) == len(state["turns"])
        for row, turn in zip(exported["turns"], state["turns"], strict=True):
            assert row["stages_ms"] == turn["stages"]
            assert row["heard_ms"] == turn["heardMs"]
        async with page.expect_download() as download_info:
            await page.click("#export-csv")
        csv = (await _downloaded(await download_info.value)).splitlines()
        assert csv[0] == "turn,endpoint,stt,room,tts,total,heard"
        assert len(csv) == 1 + len(state["turns"])

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)  # the page's theme follows it (auto)
            assert await serious_violations(page) == []
            for width in (1280, 390):
                await page.set_viewport_size({"width": width, "height": 900})
                shot = SCREENSHOTS / f"call-{width}-{scheme}.png"
                await page.screenshot(path=shot, full_page=True)
                overflow = await page.evaluate(
                    "() => document.documentElement.scrollWidth - window.innerWidth"
                )
                assert overflow <= 0  # nothing sticks out sideways, at 390 px too
        # at 390 px the panels are tabs: one at a time, the call card always there
        assert await page.is_visible("#panel-conversation")
        assert not await page.is_visible("#panel-latency")
        await page.click("#tab-latency")
        assert await page.is_visible("#panel-latency")
        assert not await page.is_visible("#panel-conversation")
        assert await page.is_visible("#call")
        assert await serious_violations(page) == []
        await page.screenshot(path=SCREENSHOTS / "call-390-dark-latency.png", full_page=True)
        await page.click("#theme")  # auto -> light, whatever the system says
        assert await page.get_attribute("html", "data-theme") == "light"
        await page.click("#call")


async def _scaled(speech_wav: Path, target: Path, gain_db: float) -> Path:
    """The sentence ``gain_db`` louder (clipped at full scale) or quieter."""
    frame = await asyncio.to_thread(read_wav, speech_wav)
    scaled = frame.samples.astype(np.float64) * 10 ** (gain_db / 20)
    samples = np.clip(scaled, -32768, 32767).astype(np.int16)
    await asyncio.to_thread(write_wav, target, AudioFrame(samples, frame.sample_rate))
    return target


QUIET = "Your voice reaches the page quietly"


async def test_quiet_speech_is_reported_with_its_level(speech_wav: Path, tmp_path: Path) -> None:
    wav = await _scaled(speech_wav, tmp_path / "quiet.wav", -22)
    async with launched_chromium(wav) as browser, new_page(browser) as page:
        with running_server("--store", "memory") as (url, _):
            await call(page, url, "websocket")
            await wait(page, f"() => window.voicegate.errors.some((e) => e.startsWith('{QUIET}'))")
            state = await page_state(page)
    warning = [e for e in state["errors"] if e.startswith(QUIET)]
    assert len(warning) == 1, state["errors"]
    # the sentence's loudest 20 ms are at -8.5 dBFS: 22 dB down, about -30.5
    level = int(warning[0].split("(")[1].split(" dBFS")[0])
    assert -33 <= level <= -28, warning[0]


async def test_the_microphone_check_measures_the_levels_and_transcribes_the_test_sentence(
    page: Page,
) -> None:
    check, shown = await _microphone_check(page)
    assert check["voiceDetected"] is True
    assert check["clipped"] is False
    assert check["noiseFloorDb"] < -60  # the fake microphone's silences are digital zero
    assert -20 < check["speechLevelDb"] < -3  # Piper's loudest 20 ms are at -8.5 dBFS
    assert word_error_rate([(SENTENCE, check["transcript"])]) <= 0.2, check
    assert f'heard "{check["transcript"]}"' in shown
    assert "voice detected" in shown


async def test_the_microphone_check_marks_a_clipping_input(
    speech_wav: Path, tmp_path: Path
) -> None:
    wav = await _scaled(speech_wav, tmp_path / "clipping.wav", 12)
    async with launched_chromium(wav) as browser, new_page(browser) as page:
        check, shown = await _microphone_check(page)
    assert check["clipped"] is True
    assert "clipping: lower the input level" in shown


async def _microphone_check(page: Page) -> tuple[dict[str, Any], str]:
    """Run the page's microphone check against a fresh server: its result and the words shown."""
    with running_server("--store", "memory") as (url, _):
        await page.goto(f"{url}&aec=0")
        await page.click("#mic-check")
        await wait(page, "() => window.voicegate.micCheck !== null")
        check: dict[str, Any] = (await page_state(page))["micCheck"]
        return check, await page.inner_text("#mic-check-result")
