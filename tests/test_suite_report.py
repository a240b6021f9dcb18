"""The suite says when it skips the PostgreSQL store tests, and how to run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_run_without_postgresql_says_what_it_skipped_and_how_to_run_it() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NURTURE_TEST_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
         "tests/engine/store/test_store_urls.py", "tests/engine/store/test_fresh.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stdout[-2000:]
    assert "PostgreSQL store tests: OFF (NURTURE_TEST_DATABASE_URL is not set)" in done.stdout
    skipped = [line for line in done.stdout.splitlines() if "PostgreSQL tests skipped" in line]
    assert len(skipped) == 1 and skipped[0].strip("- ").split()[0].isdigit()
    assert "NURTURE_TEST_DATABASE_URL=postgresql+psycopg://" in done.stdout
