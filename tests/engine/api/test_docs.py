"""The API documents itself at /docs, with every asset served locally (no CDN needed)."""

from __future__ import annotations

import re
from pathlib import Path

from temporalio.client import Client

from tests.stack import running_stack


async def _unreachable() -> Client:
    raise ConnectionError("no Temporal in this test")


async def test_docs_page_loads_its_scripts_from_the_api_itself(tmp_path: Path) -> None:
    async with running_stack(_unreachable, tmp_path) as stack:
        page = await stack.http.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
        assert assets and all(a.startswith("/docs-assets/") for a in assets), assets
        for asset in assets:
            assert (await stack.http.get(asset)).status_code == 200, asset
        spec = (await stack.http.get("/openapi.json")).json()
        assert {"/v1/track", "/v1/identify", "/v1/page", "/v1/group", "/v1/alias",
                "/v1/batch", "/v1/leads/{lead_id}"} <= set(spec["paths"])
