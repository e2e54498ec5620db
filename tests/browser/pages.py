"""Driving the call page: open it, press Call, wait for its state, read it."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

# A deadline, not a measure: under a load average of 25 on 2 cores one turn's recognition
# waited 21 s and its first synthesis took 4 s.
TURN_TIMEOUT_MS = 90_000


async def get(url: str) -> str:
    def fetch() -> str:
        with urllib.request.urlopen(url, timeout=10) as response:
            body: bytes = response.read()
            return body.decode()

    return await asyncio.to_thread(fetch)


async def page_state(page: Page) -> dict[str, Any]:
    """``window.voicegate`` without the turn rows' DOM nodes."""
    shown: str = await page.evaluate(
        "() => JSON.stringify({...window.voicegate,"
        " turns: window.voicegate.turns.map(({row, ...turn}) => turn)})"
    )
    state: dict[str, Any] = json.loads(shown)
    return state


async def wait(page: Page, predicate: str, timeout_ms: int = TURN_TIMEOUT_MS) -> None:
    """Wait until ``predicate`` holds in the page; on timeout, fail with the page's state."""
    try:
        await page.wait_for_function(predicate, timeout=timeout_ms)
    except PlaywrightTimeout:
        raise AssertionError(
            f"page never reached {predicate}; its state: {await page_state(page)}"
        ) from None


async def call(page: Page, url: str, transport: str, *, processing: bool = False) -> None:
    """Open the page and press Call; the browser's voice processing off unless ``processing``."""
    await page.goto(f"{url}&transport={transport}" + ("" if processing else "&aec=0"))
    await page.click("#call")
