"""Where a bench's recorded run goes in bench/RESULTS.md: at the end of its own part."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def add_run(section: str, heading: str, *, path: Path = RESULTS) -> Path:
    """Put `section` at the end of the part of the file under `heading` (its first
    occurrence; the part ends where a heading of the same or a higher level begins), or in
    a new part of that name at the end of the file."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    level = heading.split(" ", 1)[0]
    start = text.find(f"\n{heading}\n")
    if start < 0:
        text, start = text.rstrip("\n") + f"\n\n{heading}\n", len(text.rstrip("\n")) + 1
    end = len(text)
    for marker in (f"\n{'#' * n} " for n in range(1, len(level) + 1)):
        found = text.find(marker, start + len(heading) + 1)
        if found >= 0:
            end = min(end, found + 1)
    before, after = text[:end].rstrip("\n"), text[end:]
    path.write_text(f"{before}\n\n{section.strip()}\n" + (f"\n{after}" if after else ""))
    return path
