"""`nurture worker` and `nurture api` stop gracefully on SIGTERM, as service managers ask."""

from __future__ import annotations

import asyncio
import os
import signal

from worker.run import until_stopped


async def test_sigterm_cancels_the_work_and_lets_it_clean_up() -> None:
    cleaned: list[str] = []

    async def serve() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.append("shut down")

    asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(until_stopped(serve()), timeout=10)
    assert cleaned == ["shut down"]


async def test_work_that_ends_by_itself_ends_quietly_and_restores_the_signals() -> None:
    async def serve() -> None:
        await asyncio.sleep(0)

    await until_stopped(serve())
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
