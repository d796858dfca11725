"""Write one section of docs/benchmarks.md, leaving the other sections as they are."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

HEADER = (
    "# Benchmarks\n\nFigures measured on this project's 2-core machine; each section says how.\n"
)


def replace_section(path: Path, title: str, body: str) -> None:
    text = path.read_text() if path.exists() else HEADER
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"## {title}\n\n_Measured {stamp}._\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip() + "\n")
