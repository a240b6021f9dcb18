"""The inbox in a real browser: Debian's Chromium driven by Playwright against the whole
stack (API, relay, worker, Temporal). A rep signs in, sees only their own tasks, opens one,
rejects it with a reason, and the lead's workflow acts on the answer.

Chromium comes from apt (`apt-get install chromium`), never from Playwright's downloader.
`.ci/run` installs it and sets NURTURE_REQUIRE_BROWSER=1, so CI fails rather than skips
when it is missing.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.client import lead_state
from tests.engine.api.test_sales_api import XSS, escalated, seed
from tests.stack import Stack, running_stack

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        if os.environ.get("NURTURE_REQUIRE_BROWSER") == "1":
            pytest.fail("NURTURE_REQUIRE_BROWSER=1 but Debian's chromium is not installed")
        pytest.skip("the browser test drives Debian's Chromium: apt-get install chromium")
    return found


async def test_a_rep_sees_only_their_tasks_and_rejects_one_in_a_real_browser(
        stack: Stack, tmp_path: Path) -> None:
    executable = chromium_path()
    from playwright.async_api import async_playwright

    assert stack.client is not None
    mine = await escalated(stack, "kim", firstName=XSS, lastName="", country="DE")
    theirs = await escalated(stack, "lou", firstName="Lou", country="US")
    assert mine.owner == "lena" and theirs.owner not in (None, "lena")
    token = stack.store.issue_token("lena", now=datetime.now(UTC))
    until = (datetime.now(UTC) + timedelta(days=45)).date()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable,
                                                   args=CHROMIUM_FLAGS,
                                                   handle_sigint=False)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("dialog", lambda d: problems.append(f"dialog: {d.message}"))
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 else None)

            await page.goto(f"{stack.url}/inbox")
            assert page.url.endswith("/inbox/login")
            await page.get_by_test_id("token").fill(token)
            await page.get_by_test_id("login-submit").click()
            await page.wait_for_url(f"{stack.url}/inbox")

            rows = page.get_by_test_id("task-row")
            assert await rows.count() == 1  # Lou's task belongs to another rep
            assert await rows.first.get_attribute("data-task-id") == mine.id
            link = rows.first.get_by_test_id("task-link")
            assert XSS in await link.inner_text()  # shown as text, never run
            assert "&lt;script&gt;" in await page.content()

            await link.click()
            await page.wait_for_selector('[data-testid="reject-reason"]')
            assert "VP Marketing" in await page.content()  # the handoff package is there
            await page.get_by_test_id("reject-reason").select_option("timing_not_active")
            await page.get_by_test_id("reject-until").fill(until.isoformat())
            await page.get_by_test_id("reject-note").fill("budget cycle starts in Q3")
            await page.get_by_test_id("reject-submit").click()
            await page.wait_for_selector('[data-testid="flash"]')
            assert (await page.get_by_test_id("flash").inner_text()).startswith("Rejected")
            assert await page.get_by_test_id("task-status").inner_text() == "rejected"
            await page.screenshot(path=str(tmp_path / "inbox-task.png"), full_page=True)

            assert problems == []

            # Another rep's task looks exactly like a missing one.
            response = await page.goto(f"{stack.url}/inbox/tasks/{theirs.id}")
            assert response is not None and response.status == 404
            assert await page.get_by_test_id("reject-submit").count() == 0

            await page.goto(f"{stack.url}/inbox")
            await page.get_by_test_id("logout").click()
            await page.wait_for_url(f"{stack.url}/inbox/login")
        finally:
            await browser.close()

    state = await lead_state(stack.client, "kim")
    assert state.phase == "recycled" and state.escalation is None
    assert state.sales_outcome is not None and state.sales_outcome.status == "rejected"
    assert state.resting_until is not None and state.resting_until.date() == until
    row = stack.store.sales_task(mine.id)
    assert row is not None and row.status == "rejected" and row.closed_by == "lena"
    other = stack.store.sales_task(theirs.id)
    assert other is not None and other.status == "open"


PHONE = {"width": 390, "height": 844}


async def test_every_inbox_page_fits_a_390_pixel_phone(tmp_path: Path) -> None:
    """No page is wider than a phone: the task list becomes cards, nothing scrolls sideways.

    Screenshots of each page land in the test's folder for a person to look at."""
    executable = chromium_path()
    from playwright.async_api import async_playwright

    async with running_stack(_unreachable, tmp_path) as stack:
        tokens = seed(stack.store, datetime.now(UTC))
        pages = {"login": "/inbox/login", "tasks": "/inbox", "alerts": "/inbox?status=alerts",
                 "task": "/inbox/tasks/xss:escalation:1", "alert": "/inbox/tasks/ana:alert:7",
                 "closed": "/inbox/tasks/dee:escalation:5"}
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=executable,
                                                       args=CHROMIUM_FLAGS,
                                                       handle_sigint=False)
            try:
                page = await browser.new_page(viewport=PHONE)
                widths: dict[str, int] = {}
                for user in ("jordan", "priya"):  # a rep, and a manager with more filters
                    await page.goto(f"{stack.url}/inbox/login")
                    if user == "jordan":
                        await _measure(page, stack.url, "login", pages, widths, tmp_path)
                    await page.get_by_test_id("token").fill(tokens[user])
                    await page.get_by_test_id("login-submit").click()
                    await page.wait_for_url(f"{stack.url}/inbox")
                    for name in ("tasks", "alerts", "task", "alert", "closed"):
                        await _measure(page, stack.url, name, pages, widths, tmp_path,
                                       suffix=f"-{user}")
                    await page.get_by_test_id("logout").click()
                    await page.wait_for_url(f"{stack.url}/inbox/login")
            finally:
                await browser.close()

    assert widths and all(width <= PHONE["width"] for width in widths.values()), widths


async def _measure(page: Any, base: str, name: str, pages: dict[str, str],
                   widths: dict[str, int], folder: Path, suffix: str = "") -> None:
    response = await page.goto(base + pages[name])
    assert response is not None and response.status == 200, name
    widths[name + suffix] = await page.evaluate("document.documentElement.scrollWidth")
    await page.screenshot(path=str(folder / f"phone-{name}{suffix}.png"), full_page=True)


async def _unreachable() -> Any:
    raise ConnectionRefusedError("no Temporal in this test")
