"""Stream realistic expenses to the API and print each verdict: ``python demo.py``.

Every expense carries its own Idempotency-Key, so the retries after a network error or a 5xx
never store it twice. With an empty account, 30 days of history are sent first so that the
detector knows the spenders' habits (``--history-days 0`` skips it). Ctrl-C prints a summary.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from vigilante import i18n
from vigilante.client import (
    ApiError,
    ApiUnreachable,
    AuthError,
    Conflict,
    InvalidInput,
    ServerError,
    VigilanteClient,
    batches,
    read_demo_credentials,
)
from vigilante.config import get_settings
from vigilante.simulate import Simulator

WAIT_WHEN_DOWN_S = 5.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    settings = get_settings()
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0].replace("``", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,  # (the README lists them too)
    )
    p.add_argument("--url", default=settings.api_url, help="API address (VIGILANTE_API_URL)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between expenses")
    p.add_argument("--count", type=int, default=None, help="stop after this many (None: never)")
    # Each spender's day is compressed into minutes (every expense is stamped "now"); with many
    # spenders, one spender's expenses stay minutes apart, as a real person's would be.
    p.add_argument("--accounts", type=int, default=150, help="how many spenders (cards)")
    p.add_argument("--anomaly-rate", type=float, default=0.03, help="share of injected anomalies")
    p.add_argument("--seed", type=int, default=None, help="repeatable stream (None: random)")
    p.add_argument("--history-days", type=int, default=30, help="backfill for an empty account")
    p.add_argument(
        "--username",
        default=os.environ.get("VIGILANTE_DEMO_USERNAME"),
        help="log in as (VIGILANTE_DEMO_USERNAME; a free name becomes a new account; None: the "
        "account `make run` created), with --password (VIGILANTE_DEMO_PASSWORD)",
    )
    # (no help text: the formatter would print a password taken from the environment)
    p.add_argument("--password", default=os.environ.get("VIGILANTE_DEMO_PASSWORD"))
    p.add_argument("--lang", default=settings.lang, choices=i18n.LANGS, help="VIGILANTE_LANG")
    args = p.parse_args(argv)
    if args.interval < 0 or (args.count is not None and args.count < 0):
        p.error("--interval and --count must not be negative")
    if not 0 <= args.anomaly_rate < 1:
        p.error("--anomaly-rate must be in [0, 1)")
    return args


@dataclass
class Tally:
    sent: int = 0
    flagged: int = 0
    injected: int = 0
    caught: int = 0
    retries: int = 0
    backfilled: int = 0
    started: float = field(default_factory=time.monotonic)

    def summary(self, lang: str) -> str:
        minutes = (time.monotonic() - self.started) / 60
        if lang == "en":
            return (
                f"{self.sent} expenses sent in {minutes:.1f} min, {self.flagged} flagged; "
                f"{self.caught} of {self.injected} injected anomalies caught; "
                f"{self.retries} retries; {self.backfilled} history expenses backfilled."
            )
        return (
            f"{self.sent} despesas enviadas em {minutes:.1f} min, {self.flagged} sinalizadas; "
            f"{self.caught} de {self.injected} anomalias injetadas pegas; "
            f"{self.retries} novas tentativas; {self.backfilled} despesas de histórico."
        )


def say(text: str) -> None:
    print(text, flush=True)


def line(expense: dict, lang: str, tz: str) -> str:
    """``14:02:11  cartão-1234-0  Padaria Real  R$ 18,90  0.12`` (+ flag and first reason)."""
    at = datetime.fromisoformat(expense["occurred_at"].replace("Z", "+00:00"))
    clock = i18n.when(at, lang, tz)[-5:]
    account, merchant = expense.get("account") or "-", expense.get("merchant") or "-"
    amount = i18n.money(expense["amount"], lang, expense["currency"])
    text = f"{clock}  {account:<16.16} {merchant:<26.26} {amount:>13}  {expense['score']:.2f}"
    if expense["is_anomaly"]:
        reason = expense["reasons"][0]["message"] if expense["reasons"] else ""
        text += f"  ⚠ {i18n.severity(expense['severity'], lang).upper()}  {reason}"
    return text


def problem(exc: ApiError, url: str, lang: str) -> str:
    """What went wrong, in the demo's language (the client's own messages are English)."""
    if isinstance(exc, ApiUnreachable):
        return i18n.t("demo_unreachable", lang, url=url)
    if isinstance(exc, InvalidInput):
        fields = i18n.field_errors(exc.errors, lang)
        return "; ".join(f"{i18n.t(f, lang) if f in i18n.STRINGS else f}: {m}"
                         for f, m in fields.items())  # fmt: skip
    if exc.status:  # the API's own words after the status: "403 sign-up is disabled ..."
        return i18n.t("demo_status", lang, answer=exc.message)
    return exc.message


def retrying(action, tally: Tally, lang: str, url: str = ""):
    """Run ``action`` until the API answers; the client already retried with backoff."""
    while True:
        try:
            return action()
        except (ApiUnreachable, ServerError) as exc:
            if exc.status is not None and exc.status < 500:
                raise  # a 403 or 413 says the same next time: no point in waiting for it
            tally.retries += 1
            say(i18n.t("demo_retrying", lang, problem=problem(exc, url, lang)))
            time.sleep(WAIT_WHEN_DOWN_S)


def log_in(client: VigilanteClient, args, tally: Tally) -> None:
    lang, url = args.lang, client.base_url
    if not retrying(client.auth_required, tally, lang, url):
        return
    username, password = args.username, args.password
    if not (username and password):
        found = read_demo_credentials()
        if found is None:
            raise SystemExit(i18n.t("demo_needs_login", lang))
        username, password = found
    try:
        retrying(lambda: client.login(username, password), tally, lang, url)
    except AuthError:
        # Wrong password, or no such account: a free name becomes a new account (said below).
        try:
            retrying(lambda: client.signup(username, password), tally, lang, url)
        except Conflict:
            raise SystemExit(i18n.t("demo_wrong_password", lang, user=username)) from None
        except ApiError as exc:
            why = problem(exc, url, lang)
            raise SystemExit(i18n.t("demo_no_login", lang, user=username, problem=why)) from None
        say(i18n.t("demo_created", lang, user=username))
        retrying(lambda: client.login(username, password), tally, lang, url)
    say(f"→ {url} ({username})")


def backfill(client: VigilanteClient, sim: Simulator, days: int, tally: Tally, lang: str) -> None:
    url = client.base_url
    if days <= 0 or retrying(lambda: client.events(limit=1), tally, lang, url):
        return
    history = sim.history(days)
    for chunk in batches((item.payload for item in history), 2000):
        key = uuid.uuid4().hex
        retrying(lambda c=chunk, k=key: client.post_events(c, idempotency_key=k), tally, lang, url)
        tally.backfilled += len(chunk)
    say(
        f"{tally.backfilled} expenses of history ({days} days) sent first"
        if lang == "en"
        else f"{tally.backfilled} despesas de histórico ({days} dias) enviadas antes"
    )


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    tally = Tally()
    signal.signal(signal.SIGTERM, _interrupt)  # stopped by `make run`: summary all the same
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started in background

    def on_retry(attempt: int, error: ApiError, delay: float) -> None:
        tally.retries += 1
        why = problem(error, client.base_url, args.lang)
        say(i18n.t("demo_retry_in", args.lang, problem=why, attempt=attempt, delay=f"{delay:.1f}"))

    client = VigilanteClient(
        args.url, lang=args.lang, retries=5, backoff=0.5, max_backoff=8, on_retry=on_retry
    )
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    sim = Simulator(seed=seed, accounts=args.accounts, anomaly_rate=args.anomaly_rate)
    try:
        log_in(client, args, tally)
        backfill(client, sim, args.history_days, tally, args.lang)
        for item in sim.stream(realtime=True):
            if args.count is not None and tally.sent >= args.count:
                break
            key = uuid.uuid4().hex  # one per expense, reused by every retry of it
            stored = retrying(
                lambda p=item.payload, k=key: client.post_event(p, idempotency_key=k),
                tally,
                args.lang,
                client.base_url,
            )
            tally.sent += 1
            tally.flagged += stored["is_anomaly"]
            tally.injected += item.label is not None
            tally.caught += item.label is not None and stored["is_anomaly"]
            say(line(stored, args.lang, settings.timezone))
            if args.interval:
                time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    except ApiError as exc:  # an answer no retry changes: said, then the summary
        say(i18n.t("demo_stopped", args.lang, problem=problem(exc, client.base_url, args.lang)))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, then `make run` stopping us
            signal.signal(sig, signal.SIG_IGN)
        client.close()
    say(tally.summary(args.lang))
    return 0


if __name__ == "__main__":
    sys.exit(main())
