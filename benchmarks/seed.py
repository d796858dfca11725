"""Seed a database with N expenses for one user, straight through SQLAlchemy Core in bulk.

Scoring a million expenses through the API is what `POST /events` is measured on elsewhere;
here the point is the read side at scale, so rows are generated with plausible values (3 %
anomalies with reasons, a feature row each) and written in large transactions.

    python -m benchmarks.seed --rows 1000000 --data-dir /tmp/vig1m
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, insert, select

from benchmarks.payloads import CATEGORIES, MERCHANTS
from vigilante.config import Settings
from vigilante.db import create_db_engine
from vigilante.migrate import upgrade
from vigilante.security import hash_password
from vigilante.tables import alert_cursors, expenses, users

START_MS = 1_704_067_200_000  # 2024-01-01


def seed(settings: Settings, rows: int, username: str, password: str, chunk: int = 20_000) -> int:
    engine = create_db_engine(settings)
    upgrade(engine)
    with engine.begin() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
        if user_id is None:
            user_id = conn.execute(
                insert(users)
                .values(username=username, password_hash=hash_password(password), created_ms=0)
                .returning(users.c.id)
            ).scalar_one()
    rng = random.Random(1)
    features = np.zeros(11).tobytes()
    # Spread rows over ~3 years so a month holds ~1/36 of them, as a real long history would.
    step_ms = (3 * 365 * 86_400_000) // rows
    reason = [
        {
            "code": "amount_spike",
            "strength": 0.8,
            "params": {
                "cents": 95000,
                "ratio": 8.3,
                "category": "alimentação",
                "usual_cents": 11400,
            },
        }
    ]
    done = 0
    while done < rows:
        batch = []
        for i in range(done, min(rows, done + chunk)):
            anomalous = rng.random() < 0.03
            batch.append(
                {
                    "user_id": user_id,
                    "account": f"card-{rng.randint(1, 40)}",
                    "amount_cents": rng.randint(500, 50_000),
                    "currency": "BRL",
                    "category": rng.choice(CATEGORIES),
                    "merchant": rng.choice(MERCHANTS),
                    "description": None,
                    "occurred_ms": START_MS + i * step_ms,
                    "received_ms": START_MS + i * step_ms,
                    "external_id": None,
                    "score": 0.9 if anomalous else 0.1,
                    "is_anomaly": anomalous,
                    "severity": "high" if anomalous else "low",
                    "reasons": reason if anomalous else [],
                    "model_version": "seed",
                    "features": features,
                    "evidence": 0.0,
                    "feedback": None,
                    "feedback_ms": None,
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(expenses), batch)
        done += len(batch)
    # Seeded rows are old history, not news: the alert worker starts after them, as the
    # migration that introduced alerts did for history stored before it (otherwise it spends
    # the benchmark evaluating a million expenses and filing ~30,000 alerts for old ones).
    with engine.begin() as conn:
        newest = conn.execute(
            select(func.max(expenses.c.id)).where(expenses.c.user_id == user_id)
        ).scalar_one()
        conn.execute(delete(alert_cursors).where(alert_cursors.c.user_id == user_id))
        conn.execute(
            insert(alert_cursors).values(
                user_id=user_id, last_expense_id=newest, lease_until_ms=0, updated_ms=0
            )
        )
    engine.dispose()
    return user_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--username", default="bench")
    parser.add_argument("--password", default=None, help="default: a random one, printed")
    args = parser.parse_args()
    password = args.password or f"bench-{random.SystemRandom().randrange(10**12)}"
    start = time.perf_counter()
    seed(Settings(data_dir=args.data_dir, _env_file=None), args.rows, args.username, password)
    print(
        f"seeded {args.rows:,} rows in {time.perf_counter() - start:.1f}s; "
        f"user {args.username!r} password {password!r}"
    )


if __name__ == "__main__":
    main()
