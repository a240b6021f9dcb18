"""Take the README's inbox screenshots from a running stack.

    nurture dev &                      # prints the inbox address and a manager token
    nurture demo                       # sends ~50 leads through it; some reach sales
    python docs/inbox_screenshots.py http://127.0.0.1:8000 nt_... docs/

Uses Debian's Chromium (`apt-get install chromium`) through Playwright; nothing is
downloaded.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from playwright.async_api import async_playwright

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


async def shoot(base_url: str, token: str, folder: Path) -> None:
    """Sign in, then capture the task list and the most urgent task's page."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                   args=FLAGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 820},
                                      device_scale_factor=1)
        await page.goto(f"{base_url}/inbox/login")
        await page.get_by_test_id("token").fill(token)
        await page.get_by_test_id("login-submit").click()
        await page.wait_for_url(f"{base_url}/inbox")
        await page.screenshot(path=str(folder / "inbox.png"))
        await page.get_by_test_id("task-link").first.click()
        await page.wait_for_selector('[data-testid="reject-reason"]')
        await page.screenshot(path=str(folder / "inbox-task.png"), full_page=True)
        await browser.close()


if __name__ == "__main__":
    asyncio.run(shoot(sys.argv[1].rstrip("/"), sys.argv[2], Path(sys.argv[3])))
