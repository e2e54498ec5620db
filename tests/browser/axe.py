"""axe-core in the page: accessibility rules, fetched from npm by scripts/install-system-deps.sh."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

AXE_JS = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    / "voicegate/npm/node_modules/axe-core/axe.min.js"
)
SERIOUS = ("serious", "critical")


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on ``page`` as it is now."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run scripts/install-system-deps.sh")
    await page.add_script_tag(content=AXE_JS.read_text())
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document)).violations.map((v) => ({
             id: v.id, impact: v.impact, help: v.help,
             nodes: v.nodes.map((n) => n.target.join(" ")) }))"""
    )
    return [violation for violation in found if violation["impact"] in SERIOUS]
