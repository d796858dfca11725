"""Bounded load generators: wrk (Debian's, when installed) or a small asyncio httpx client.

Every run is bounded in time and in requests and only ever targets 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent


@dataclass
class LoadResult:
    tool: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def row(self) -> str:
        return (
            f"{self.rps:,.0f} req/s | p50 {self.p50_ms:.1f} ms | p99 {self.p99_ms:.1f} ms | "
            f"{self.requests:,} requests, {self.errors} errors ({self.tool})"
        )


def _ms(text: str) -> float:
    """wrk's latency spelling ("812.00us", "4.20ms", "1.05s", "1.10m") in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:  # never let one odd line sink a whole benchmark run
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk_post(
    url: str, seconds: int, connections: int, token: str = "", tokens: list[str] | None = None
) -> LoadResult:
    """POST /event with varied bodies (post_event.lua) at ``connections`` concurrency;
    with ``tokens``, each request is sent as the next of those users."""
    assert url.startswith("http://127.0.0.1:"), "benchmarks only target this machine"
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "5s",
            "-s",
            str(HERE / "post_event.lua"),
            url,
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"BENCH_TOKEN": token, "BENCH_TOKENS": ",".join(tokens or [])},
        check=True,
        timeout=seconds + 30,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    # Anchored to the latency distribution's own lines: the thread stats above end in a
    # "+/- Stdev" percentage such as "86.50%", which an unanchored "50%" matched.
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return LoadResult("wrk", requests, seconds, rps, p50, p99, errors)


async def _httpx_post(url, seconds, connections, token, max_requests, tokens=None):
    from benchmarks.payloads import expense_payload

    tokens = tokens or ([token] if token else [])
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = 0

    async def worker(client: httpx.AsyncClient):
        nonlocal errors, counter
        while time.perf_counter() < deadline and counter < max_requests:
            counter += 1
            body = expense_payload(counter)
            start = time.perf_counter()
            headers = {"Authorization": f"Bearer {tokens[counter % len(tokens)]}"} if tokens else {}
            r = await client.post("/event", json=body, headers=headers)
            latencies.append((time.perf_counter() - start) * 1000)
            if r.status_code >= 300:
                errors += 1

    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
        begin = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(connections)))
        elapsed = time.perf_counter() - begin
    q = statistics.quantiles(latencies, n=100)
    return LoadResult(
        "httpx", len(latencies), elapsed, len(latencies) / elapsed, q[49], q[98], errors
    )


def post_load(
    url: str,
    seconds: int = 10,
    connections: int = 32,
    token: str = "",
    tokens: list[str] | None = None,
) -> LoadResult:
    if shutil.which("wrk"):
        return wrk_post(url, seconds, connections, token, tokens)
    return asyncio.run(
        _httpx_post(url, seconds, connections, token, max_requests=200_000, tokens=tokens)
    )


def latency(client: httpx.Client, path: str, n: int = 50, **params) -> dict:
    """Sequential GETs: p50/p99 latency in ms and the response size in bytes."""
    times, size = [], 0
    for _ in range(n):
        start = time.perf_counter()
        r = client.get(path, params=params)
        times.append((time.perf_counter() - start) * 1000)
        r.raise_for_status()
        size = len(r.content)
    times.sort()
    return {
        "p50_ms": times[len(times) // 2],
        "p99_ms": times[int(len(times) * 0.99) - 1],
        "bytes": size,
    }
