"""The seed-style stack, for comparison: ORM session per request, commit + refresh, and
scikit-learn ``score_samples`` on the raw amount of one row. Not used by the product."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import numpy as np
from fastapi import Depends, FastAPI
from sklearn.ensemble import IsolationForest
from sqlalchemy import DateTime, Float, String, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from vigilante.schemas import ExpenseIn

engine = create_engine(
    f"sqlite:///{os.environ['VIGILANTE_DATA_DIR']}/naive.db",
    connect_args={"check_same_thread": False},
)
SessionLocal = sessionmaker(engine)


class Base(DeclarativeBase):
    pass


class Expense(Base):
    __tablename__ = "expenses"
    id: Mapped[int] = mapped_column(primary_key=True)
    amount: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(64))
    merchant: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    score: Mapped[float] = mapped_column(Float)
    is_anomaly: Mapped[bool]


Base.metadata.create_all(engine)
forest = IsolationForest(random_state=0).fit(
    np.random.default_rng(0).lognormal(4, 1, size=(2000, 1))
)
app = FastAPI()


def session():
    with SessionLocal() as s:
        yield s


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/event", status_code=201)
def post_event(body: ExpenseIn, db: Session = Depends(session)):
    score = float(-forest.score_samples([[float(body.amount)]])[0])
    row = Expense(
        amount=float(body.amount),
        category=body.category,
        merchant=body.merchant,
        occurred_at=body.occurred_at or datetime.now(UTC),
        score=score,
        is_anomaly=score > 0.6,
    )
    db.add(row)
    db.commit()
    db.refresh(row)
    return {"id": row.id, "score": row.score, "is_anomaly": row.is_anomaly}
