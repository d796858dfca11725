"""`make run`: start the API and print where it listens (the clients join it once built)."""

from __future__ import annotations

import os
import sys

import uvicorn


def main() -> int:
    host = os.environ.get("VIGILANTE_HOST", "127.0.0.1")
    port = int(os.environ.get("VIGILANTE_PORT", "8000"))
    print(f"Vigilante de Gastos API on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    uvicorn.run("app:app", host=host, port=port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
