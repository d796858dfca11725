"""Alerts: rules and budgets a person writes, one alert feed, and delivery where people are.

Decoupled from ingestion: :class:`~vigilante.alerts.worker.AlertWorker` reads newly stored
expenses from the database (a per-user cursor, claimed under a lease), turns model anomalies,
rule hits and budget crossings into grouped alerts, and queues their deliveries (webhooks,
e-mail) in the database, where a retrying sender picks them up. See ``docs/alerts.md``.
"""

SEVERITIES = ("low", "medium", "high")
SEVERITY_RANK = {"none": 0, "low": 1, "medium": 2, "high": 3, "off": 99}


def at_least(severity: str, minimum: str) -> bool:
    """True when ``severity`` reaches ``minimum`` ("off" is never reached)."""
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK.get(minimum, 99)
