"""What the live dashboard keeps between refreshes, and the figures it shows, without Streamlit.

:class:`LiveFeed` asks the API only for expenses newer than the newest it has (``after_id``)
and keeps a bounded window of the latest expenses and anomalies, so a refresh costs the same
with a hundred expenses stored or a million. :func:`kpis` turns ``GET /stats`` into the
numbers at the top of the dashboard.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from vigilante.client import VigilanteClient

PAGE = 1000


@dataclass
class LiveFeed:
    lang: str = "pt-BR"  # the language the kept reasons are written in
    keep: int = 300  # latest expenses kept for the live chart
    keep_anomalies: int = 100
    events: list[dict] = field(default_factory=list)  # newest first
    anomalies: list[dict] = field(default_factory=list)  # newest first
    last_id: int = 0
    loaded: bool = False

    def poll(self, client: VigilanteClient) -> int:
        """Fetch what is new since the last call; returns how many expenses arrived."""
        if not self.loaded:
            self.events = client.events(limit=min(self.keep, PAGE))
            self.anomalies = client.events(limit=self.keep_anomalies, anomalies_only=True)
            self.last_id = max((e["id"] for e in self.events), default=0)
            self.loaded = True
            return len(self.events)
        fresh = client.events(limit=PAGE, after_id=self.last_id)
        if not fresh:
            return 0
        self.last_id = fresh[0]["id"]
        self.events = (fresh + self.events)[: self.keep]
        new_anomalies = [e for e in fresh if e["is_anomaly"]]
        self.anomalies = (new_anomalies + self.anomalies)[: self.keep_anomalies]
        return len(fresh)

    def replace(self, expense: dict) -> None:
        """Put an updated expense (after feedback) in place of the old copy."""
        for rows in (self.events, self.anomalies):
            for i, row in enumerate(rows):
                if row["id"] == expense["id"]:
                    rows[i] = expense

    def reason_counts(self) -> Counter:
        """The main reason of each kept anomaly, counted."""
        return Counter(a["reasons"][0]["code"] for a in self.anomalies if a["reasons"])


@dataclass
class Kpis:
    today: float  # in the stats' currency
    month: float
    today_others: dict[str, float]  # spent in other currencies, never converted
    month_others: dict[str, float]
    month_count: int
    month_anomalies: int
    month_rate: float
    last_event_at: str | None
    daily_month: list[float]


def stats_window(now: datetime, tz: str) -> datetime:
    """Where the stats request starts: the earlier of this month's 1st and 29 days ago."""
    local = now.astimezone(ZoneInfo(tz))
    first = local.date().replace(day=1)
    start_day = min(first, local.date() - timedelta(days=29))
    return datetime.combine(start_day, time(0), ZoneInfo(tz))


def kpis(stats: dict, now: datetime, tz: str) -> Kpis:
    today = now.astimezone(ZoneInfo(tz)).date()
    month_start = today.replace(day=1)
    days = {date.fromisoformat(d["day"]): d for d in stats["by_day"]}
    in_month = [d for day, d in sorted(days.items()) if month_start <= day <= today]
    count = sum(d["count"] for d in in_month)
    anomalies = sum(d["anomalies"] for d in in_month)
    return Kpis(
        today=days[today]["total"] if today in days else 0.0,
        month=sum(d["total"] for d in in_month),
        today_others=_others([days[today]] if today in days else []),
        month_others=_others(in_month),
        month_count=count,
        month_anomalies=anomalies,
        month_rate=anomalies / count if count else 0.0,
        last_event_at=stats.get("last_event_at"),
        daily_month=[
            days[month_start + timedelta(days=i)]["total"]
            if month_start + timedelta(days=i) in days
            else 0.0
            for i in range((today - month_start).days + 1)
        ],
    )


def _others(stat_days: list[dict]) -> dict[str, float]:
    """Other currencies' totals over some days of ``/stats``, by currency code."""
    cents: dict[str, int] = {}
    for d in stat_days:
        for code, value in d.get("other_totals", {}).items():
            cents[code] = cents.get(code, 0) + round(value * 100)
    return {code: value / 100 for code, value in sorted(cents.items())}
