"""`nurture api`: the HTTP API process (ingestion, tracking, unsubscribe) and its relay."""

from __future__ import annotations

import asyncio

import uvicorn
from fastapi import FastAPI

from engine.settings import Settings


def build_app(settings: Settings) -> FastAPI:
    """The API application for these settings (placeholder until the full API lands)."""
    app = FastAPI(title="nurture")

    @app.get("/health")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    return app


async def serve_api(settings: Settings, *, host: str | None = None, port: int | None = None,
                    ready: asyncio.Event | None = None) -> None:
    """Serve the API until cancelled; `ready` is set once the port accepts connections."""
    config = uvicorn.Config(build_app(settings), host=host or settings.api_host,
                            port=port or settings.api_port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.02)
        if ready is not None:
            ready.set()
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        await task
        raise
