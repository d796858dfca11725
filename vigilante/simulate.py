"""A realistic, labeled stream of expenses: one simulator for the demo, apps, tests, benchmarks.

Each account is a spender with habits of their own: a handful of categories and favourite
merchants, amounts that vary per merchant, active hours, more spending on the days after payday,
a rent day, monthly bills and subscriptions. On top of that come legitimate surprises (the
*hard negatives*: rent, a rare big purchase, a new merchant, a trip) and injected anomalies of
named kinds, each with its ground truth. The label never goes to the API: ``payload`` is exactly
an ``ExpenseIn`` body.

>>> sim = Simulator(seed=1, accounts=3)
>>> events = sim.history(days=7)
>>> sorted(events[0].payload) >= ["account", "amount", "category", "merchant", "occurred_at"]
True
>>> all(e.payload["occurred_at"] <= f.payload["occurred_at"] for e, f in zip(events, events[1:]))
True

Every knob that shapes the stream is a constructor argument, so a benchmark can draw streams
with other spender counts, mixes and rates than the defaults.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

KINDS: tuple[str, ...] = (
    "spike",
    "new_category",
    "card_testing",
    "night",
    "duplicate",
    "split",
    "new_merchant_amount",
)
HARD_NEGATIVES: tuple[str, ...] = ("rent", "big_purchase", "new_merchant", "trip")

# category -> (merchant -> typical amount in R$), spread (log-sd) of amounts at one merchant.
CATEGORIES: dict[str, tuple[dict[str, float], float]] = {
    "mercado": (
        {
            "Carrefour": 180,
            "Pão de Açúcar": 140,
            "Assaí Atacadista": 260,
            "Dia Supermercado": 60,
            "Hortifruti Natural da Terra": 55,
            "Mercadinho São Jorge": 35,
            "Atacadão": 300,
            "Oba Hortifruti": 70,
        },
        0.45,
    ),
    "alimentação": (
        {
            "Padaria Pão de Mel": 18,
            "Restaurante Sabor Caseiro": 42,
            "iFood": 55,
            "Lanchonete do Zé": 25,
            "Casa do Pão de Queijo": 16,
            "McDonald's": 38,
            "Coco Bambu": 160,
            "Starbucks": 24,
            "Rappi": 60,
            "Padaria Real": 22,
        },
        0.35,
    ),
    "transporte": (
        {
            "Uber": 26,
            "99": 22,
            "Posto Shell": 210,
            "Posto Ipiranga": 190,
            "Estapar": 18,
            "Metrô SP": 5.2,
            "Sem Parar": 45,
        },
        0.35,
    ),
    "saúde": (
        {
            "Drogasil": 55,
            "Droga Raia": 48,
            "Pague Menos": 40,
            "Laboratório Fleury": 180,
            "Clínica Sorriso": 250,
        },
        0.5,
    ),
    "lazer": (
        {
            "Cinemark": 70,
            "Ingresso.com": 120,
            "Bar do Alemão": 95,
            "Boteco Seu Jorge": 80,
            "Parque Villa-Lobos Estac.": 20,
        },
        0.4,
    ),
    "vestuário": (
        {"Renner": 160, "C&A": 120, "Riachuelo": 130, "Zara": 280, "Centauro": 240},
        0.45,
    ),
    "casa": (
        {
            "Leroy Merlin": 190,
            "Tok&Stok": 260,
            "Magazine Luiza": 320,
            "Casas Bahia": 300,
            "Camicado": 140,
        },
        0.6,
    ),
    "educação": (
        {"Livraria Cultura": 90, "Udemy": 35, "Kalunga": 60, "Curso Inglês Fluente": 320},
        0.4,
    ),
    "pets": ({"Petz": 110, "Cobasi": 95, "Clínica Vet Amigo": 180}, 0.45),
    "beleza": (
        {"Salão Bella": 90, "Barbearia Dom": 55, "O Boticário": 120, "Natura": 95},
        0.4,
    ),
    "eletrônicos": ({"Fast Shop": 900, "Kabum": 650, "Samsung Store": 1400}, 0.6),
    "viagem": ({"LATAM": 1100, "GOL": 850, "Booking.com": 700, "Airbnb": 900}, 0.5),
    "apostas": ({"Betano": 150, "Bet365": 200, "Blaze": 120}, 0.6),
    "joalheria": ({"Vivara": 1300, "Pandora": 700}, 0.5),
    "cripto": ({"Binance": 900, "Mercado Bitcoin": 700}, 0.6),
    "gift cards": ({"Google Play": 150, "Steam": 120, "PlayStation Store": 250}, 0.4),
}
EVERYDAY = ("mercado", "alimentação", "transporte", "saúde", "lazer", "vestuário")
OCCASIONAL = ("casa", "educação", "pets", "beleza")
NEVER_HABITUAL = ("eletrônicos", "viagem", "apostas", "joalheria", "cripto", "gift cards")
WIDE = ("casa", "vestuário", "mercado", "saúde")  # where a legitimate big purchase happens
BILLS = {  # monthly, similar amount each time
    "contas": {"Enel": 180, "Sabesp": 90, "Vivo Fibra": 120, "Claro": 65, "Comgás": 70},
    "assinaturas": {
        "Netflix": 39.90,
        "Spotify": 21.90,
        "Amazon Prime": 19.90,
        "Smart Fit": 119.90,
        "Globoplay": 24.90,
        "Disney+": 33.90,
    },
}
LANDLORDS = ("Imobiliária Lopes", "Aluguel — João Pereira", "QuintoAndar", "Imobiliária Santos")
NEW_MERCHANTS = {  # legitimate first visits, by category
    "mercado": ("Supermercado Bom Preço", "Empório da Vila", "Sacolão Vitória"),
    "alimentação": ("Padaria Nova Aurora", "Cantina da Nonna", "Açaí da Praça", "Sushi Kenzo"),
    "transporte": ("Posto BR Avenida", "Táxi Comum", "Zona Azul Digital"),
    "saúde": ("Farmácia Popular", "Drogaria São Paulo", "Ótica Visão"),
    "lazer": ("Boliche Strike", "Museu do Ipiranga", "Karaokê Tóquio"),
    "vestuário": ("Hering", "Youcom", "Brechó Chic"),
    "casa": ("Ferragens Central", "Mobly", "Etna"),
    "educação": ("Papelaria Estrela", "Alura", "Livraria da Vila"),
    "pets": ("Pet Shop Au Au", "Agropet Amigo"),
    "beleza": ("Espaço Beleza Zen", "Sephora", "Barbearia Navalha"),
}
TRIP_CITIES = ("Salvador", "Florianópolis", "Rio de Janeiro", "Recife", "Gramado", "Fortaleza")
TEST_MERCHANTS = ("WEB*PAG", "PAYPAL *DIGIT", "MP*LOJA", "EBANX*", "PG*SERV", "APP*STORE ")
NIGHT_MERCHANTS = ("Mercado Livre", "Shopee", "AliExpress", "Amazon", "iFood")
LIMITS = (500, 1000, 2000, 5000)
QUIET_DAYS = 7  # live: simulated days with nobody spending at this hour before someone does


@dataclass
class SimulatedExpense:
    payload: dict  # exactly an ExpenseIn JSON body
    label: str | None  # None = normal; else the anomaly kind
    hard_negative: str | None  # a legitimate surprise ("rent", ...), else None
    incident: int | None  # one id for the events of one incident (a burst, a split)


@dataclass
class Spender:
    account: str
    wealth: float
    rate: float  # expenses per day, before weekday and payday effects
    categories: dict[str, float]  # category -> weight
    merchants: dict[str, dict[str, float]]  # category -> merchant -> weight
    scale: dict[str, float]  # merchant -> personal typical amount (R$)
    start_hour: int
    end_hour: int  # may exceed 24 for night owls (25 = 01:00)
    rent_day: int
    rent: float
    landlord: str
    bills: list[tuple[str, str, int, float, int]]  # (category, merchant, day, amount, hour)
    payday: int
    trip_days: set[date] = field(default_factory=set)
    trip_city: str = ""
    trip_merchants: dict[str, str] = field(default_factory=dict)  # this trip's city
    city_merchants: dict[str, dict[str, str]] = field(default_factory=dict)  # per city
    hour_weights: list[float] = field(default_factory=list)


class Simulator:
    """Labeled expense stream of ``accounts`` spenders; see the module docstring.

    ``anomaly_rate`` is the expected share of anomalous expenses; ``kinds`` (default all of
    :data:`KINDS`) and ``mix`` (relative weight of each kind's incidents) choose which anomalies
    appear; ``hard_negative_rate`` scales how often legitimate surprises happen;
    ``warmup_days`` keeps anomalies out of each spender's first days; ``activity`` scales how
    many expenses a spender makes per day; ``night_owls`` is the share of spenders active
    past midnight.
    """

    def __init__(
        self,
        seed: int = 0,
        accounts: int = 5,
        anomaly_rate: float = 0.03,
        start: datetime | None = None,
        kinds: Sequence[str] | None = None,
        tz: str = "America/Sao_Paulo",
        *,
        mix: Mapping[str, float] | None = None,
        hard_negative_rate: float = 1.0,
        warmup_days: int = 7,
        activity: float = 1.0,
        night_owls: float = 0.15,
    ):
        unknown = set(kinds or ()) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown anomaly kinds: {sorted(unknown)}; known: {KINDS}")
        if not 0 <= anomaly_rate < 1:
            raise ValueError("anomaly_rate must be in [0, 1)")
        self.rng = random.Random(seed)
        self.tz = ZoneInfo(tz)
        self.anomaly_rate = anomaly_rate
        self.kinds = tuple(kinds) if kinds else KINDS
        self.mix = {k: float((mix or {}).get(k, 1.0)) for k in self.kinds}
        self.hard_negative_rate = hard_negative_rate
        self.warmup_days = warmup_days
        self.activity = activity
        self.night_owls = night_owls
        self.start = (start or datetime.now(UTC)).astimezone(self.tz)
        self._incident = 0
        self._day = 0  # days simulated so far, for the warm-up
        self.spenders = [self._spender(i) for i in range(accounts)]

    # -- spenders ---------------------------------------------------------------------------

    def _spender(self, index: int) -> Spender:
        rng = self.rng
        wealth = math.exp(rng.gauss(0, 0.45))
        everyday = rng.sample(EVERYDAY, rng.randint(4, len(EVERYDAY)))
        occasional = rng.sample(OCCASIONAL, rng.randint(0, 3))
        weights = {"mercado": 3, "alimentação": 5, "transporte": 4}
        categories = {c: weights.get(c, 1.5) * rng.uniform(0.5, 1.5) for c in everyday}
        categories.update({c: rng.uniform(0.2, 0.8) for c in occasional})
        merchants, scale = {}, {}
        for cat in categories:
            pool = list(CATEGORIES[cat][0])
            chosen = rng.sample(pool, min(len(pool), rng.randint(2, 4)))
            merchants[cat] = {m: 1 / (rank + 1) for rank, m in enumerate(chosen)}
            for m in chosen:
                scale[m] = CATEGORIES[cat][0][m] * wealth * math.exp(rng.gauss(0, 0.2))
        night_owl = rng.random() < self.night_owls
        start_hour = rng.randint(6, 9) if not night_owl else rng.randint(9, 11)
        end_hour = rng.randint(20, 23) if not night_owl else rng.randint(24, 26)
        bills = []
        for cat, table in BILLS.items():
            for m in rng.sample(list(table), rng.randint(1, 3)):
                amount = table[m] * (wealth if cat == "contas" else 1.0)
                bills.append((cat, m, rng.randint(1, 28), amount, rng.randint(start_hour, 12)))
        spender = Spender(
            account=f"cartão-{rng.randint(1000, 9999)}-{index}",
            wealth=wealth,
            rate=rng.uniform(2.0, 6.0) * self.activity,
            categories=categories,
            merchants=merchants,
            scale=scale,
            start_hour=start_hour,
            end_hour=end_hour,
            rent_day=rng.randint(1, 10),
            rent=round(rng.uniform(900, 2600) * wealth, -1),
            landlord=rng.choice(LANDLORDS),
            bills=bills,
            payday=rng.choice((5, 5, 10, 15)),
        )
        # Lunch and evening peaks inside the spender's waking hours.
        spender.hour_weights = [
            1.0 + 1.5 * math.exp(-((h - 12.5) ** 2) / 2) + 1.2 * math.exp(-((h - 19) ** 2) / 3)
            for h in range(start_hour, end_hour)
        ]
        return spender

    # -- public API --------------------------------------------------------------------------

    def history(self, days: int) -> list[SimulatedExpense]:
        """A time-ordered stream covering ``days`` days that ends at ``start``."""
        end = self.start
        first = (end - timedelta(days=days)).date()
        out: list[tuple[datetime, SimulatedExpense]] = []
        begin = end - timedelta(days=days)
        for offset in range(days + 1):
            for when, item in self._one_day(first + timedelta(days=offset)):
                if begin <= when < end:
                    out.append((when, item))
        out.sort(key=lambda pair: pair[0])
        return [item for _, item in out]

    def stream(
        self, realtime: bool = True, clock: Callable[[], datetime] | None = None
    ) -> Iterator[SimulatedExpense]:
        """Endless expenses after ``start``; ``realtime`` stamps each with the current time.

        A live stream runs far faster than the days it simulates (a day of 40 spenders in
        minutes), so stamped with the clock its expenses would land at any hour, and every
        spender's habits would look broken ("unusual hour" all day). Live, it passes on only
        the expenses simulated for the clock's hour of the day (see :meth:`_live_hour`).
        """
        clock = clock or (lambda: datetime.now(self.tz))
        day = self.start.date()
        quiet_days = 0
        while True:
            batch = [
                p for p in sorted(self._one_day(day), key=lambda p: p[0]) if p[0] >= self.start
            ]
            if not realtime:
                yield from (item for _, item in batch)
                day += timedelta(days=1)
                continue
            chosen: dict[int, set[int]] = {}  # clock hour -> indexes in batch passed on
            sent = 0
            for index, (_, item) in enumerate(batch):
                now = clock().astimezone(self.tz)
                if now.hour not in chosen:
                    chosen[now.hour] = self._live_hour(batch, now.hour, quiet_days >= QUIET_DAYS)
                if index not in chosen[now.hour]:
                    continue
                item.payload["occurred_at"] = now.isoformat(timespec="seconds")
                sent += 1
                yield item
            quiet_days = 0 if sent else quiet_days + 1
            day += timedelta(days=1)

    def _live_hour(self, batch: list, hour: int, quiet: bool) -> set[int]:
        """Which of a simulated day's expenses a live stream passes on at ``hour`` of the clock.

        Those simulated for that hour; their anomalies thinned to the stream's anomaly rate of
        that hour's normal expenses (at 03:00 nearly every simulated expense is a night
        anomaly, and a stream paced by the clock would be nearly all anomalies). After a week
        of simulated days with nobody spending at this hour, the day's normal expenses nearest
        to it instead.
        """
        normal = [i for i, (when, item) in enumerate(batch) if when.hour == hour and not item.label]
        incidents: dict[int | None, list[int]] = {}
        for i, (when, item) in enumerate(batch):
            if when.hour == hour and item.label:
                incidents.setdefault(item.incident, []).append(i)
        anomalous = sum(len(v) for v in incidents.values())
        share = 0.0
        if anomalous:
            share = self.anomaly_rate / (1 - self.anomaly_rate) * len(normal) / anomalous
        keep = set(normal)
        for indexes in incidents.values():  # an incident (a burst, a split) goes whole or not
            if self.rng.random() < share:
                keep.update(indexes)
        if keep or not quiet:
            return keep
        away = {i: min((when.hour - hour) % 24, (hour - when.hour) % 24)
                for i, (when, item) in enumerate(batch) if not item.label}  # fmt: skip
        nearest = min(away.values(), default=None)
        return {i for i, d in away.items() if d == nearest}

    # -- one day of everyone -----------------------------------------------------------------

    def _one_day(self, day: date) -> list[tuple[datetime, SimulatedExpense]]:
        events: list[tuple[datetime, SimulatedExpense]] = []
        for spender in self.spenders:
            events.extend(self._normal_day(spender, day))
        normal = len(events)
        self._day += 1
        if self._day > self.warmup_days and self.anomaly_rate > 0 and self.kinds:
            expected_events = normal * self.anomaly_rate / (1 - self.anomaly_rate)
            weights = [self.mix[k] for k in self.kinds]
            mean_size = sum(w * _MEAN_SIZE[k] for k, w in zip(self.kinds, weights, strict=True))
            mean_size /= sum(weights)
            for _ in range(_poisson(self.rng, expected_events / mean_size)):
                kind = self.rng.choices(self.kinds, weights)[0]
                spender = self.rng.choice(self.spenders)
                todays = [e for e in events if e[1].payload["account"] == spender.account]
                events.extend(self._anomaly(kind, spender, day, todays))
        return events

    def _when(self, day: date, hour: float) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self.tz) + timedelta(hours=hour)

    def _habitual_hour(self, spender: Spender) -> float:
        hour = self.rng.choices(range(spender.start_hour, spender.end_hour), spender.hour_weights)
        return hour[0] + self.rng.random()

    def _expense(
        self,
        spender: Spender,
        when: datetime,
        amount: float,
        category: str,
        merchant: str,
        label: str | None = None,
        hard_negative: str | None = None,
        incident: int | None = None,
        description: str | None = None,
    ) -> tuple[datetime, SimulatedExpense]:
        payload = {
            "amount": round(max(amount, 0.5), 2),
            "category": category,
            "merchant": merchant,
            "account": spender.account,
            "occurred_at": when.isoformat(timespec="seconds"),
        }
        if description:
            payload["description"] = description
        return when, SimulatedExpense(payload, label, hard_negative, incident)

    def _amount(self, spender: Spender, category: str, merchant: str) -> float:
        spread = CATEGORIES[category][1] if category in CATEGORIES else 0.4
        return spender.scale[merchant] * math.exp(self.rng.gauss(0, spread))

    def _pick(self, spender: Spender, category: str | None = None) -> tuple[str, str]:
        rng = self.rng
        if category is None:
            cats = list(spender.categories)
            category = rng.choices(cats, [spender.categories[c] for c in cats])[0]
        table = spender.merchants[category]
        merchant = rng.choices(list(table), list(table.values()))[0]
        return category, merchant

    def _normal_day(self, spender: Spender, day: date) -> list[tuple[datetime, SimulatedExpense]]:
        rng = self.rng
        out = []
        weekend = day.weekday() >= 5
        after_payday = 0 <= (day.day - spender.payday) % 30 < 5
        rate = spender.rate * (1.2 if weekend else 1.0) * (1.3 if after_payday else 1.0)
        hn = self.hard_negative_rate
        if not spender.trip_days and rng.random() < 0.004 * hn:
            length = rng.randint(3, 6)
            spender.trip_days = {day + timedelta(days=i) for i in range(length)}
            spender.trip_city = rng.choice(TRIP_CITIES)
            # Back in a city, back to the places found there last time.
            spender.trip_merchants = spender.city_merchants.setdefault(spender.trip_city, {})
        on_trip = day in spender.trip_days
        if spender.trip_days and day > max(spender.trip_days):
            spender.trip_days = set()
        for _ in range(_poisson(rng, rate)):
            when = self._when(day, self._habitual_hour(spender))
            category, merchant = self._pick(spender)
            amount = self._amount(spender, category, merchant)
            hard = None
            if on_trip and category in ("alimentação", "transporte", "lazer", "mercado"):
                # Away from home: other merchants, a little dearer, the same habits.
                # The local counterpart of a habitual merchant: a similar price every visit,
                # so two habitual merchants never share one counterpart (a fuel station and
                # a metro fare under one name would be neither).
                if merchant not in spender.trip_merchants:
                    taken = set(spender.trip_merchants.values())
                    names = [f"{name} ({spender.trip_city})" for name in NEW_MERCHANTS[category]]
                    free = [name for name in names if name not in taken]
                    spender.trip_merchants[merchant] = (
                        rng.choice(free)
                        if free
                        else f"{rng.choice(NEW_MERCHANTS[category])} {len(taken)} "
                        f"({spender.trip_city})"
                    )
                merchant = spender.trip_merchants[merchant]
                amount *= rng.uniform(1.0, 1.8)
                hard = "trip"
            elif rng.random() < 0.02 * hn and category in NEW_MERCHANTS:
                # A new bakery: first visit at a normal price; some become habits.
                merchant = rng.choice(NEW_MERCHANTS[category])
                if merchant not in spender.scale:
                    typical = self._amount(spender, *self._pick(spender, category))
                    spender.scale[merchant] = typical
                    amount = typical * math.exp(rng.gauss(0, 0.25))
                    hard = "new_merchant"
                    if rng.random() < 0.5:
                        spender.merchants[category][merchant] = 0.5
                else:
                    amount = self._amount(spender, category, merchant)
            out.append(self._expense(spender, when, amount, category, merchant, None, hard))
        if day.day == spender.rent_day:
            when = self._when(day, rng.uniform(8, 11))
            out.append(
                self._expense(
                    spender, when, spender.rent, "moradia", spender.landlord, None, "rent"
                )
            )
        for category, merchant, bill_day, amount, hour in spender.bills:
            if day.day == bill_day:
                amount = amount if category == "assinaturas" else amount * rng.uniform(0.85, 1.15)
                when = self._when(day, hour + rng.random())
                out.append(self._expense(spender, when, amount, category, merchant))
        wide = [c for c in WIDE if c in spender.categories]
        if wide and rng.random() < 0.01 * hn:
            category, merchant = self._pick(spender, rng.choice(wide))
            amount = spender.scale[merchant] * rng.uniform(2.0, 3.5)
            when = self._when(day, self._habitual_hour(spender))
            out.append(
                self._expense(spender, when, amount, category, merchant, None, "big_purchase")
            )
        return out

    # -- anomalies ---------------------------------------------------------------------------

    def _anomaly(self, kind, spender, day, todays) -> list[tuple[datetime, SimulatedExpense]]:
        rng = self.rng
        self._incident += 1
        incident = self._incident
        hour = self._habitual_hour(spender)
        when = self._when(day, hour)

        def one(at, amount, category, merchant):
            return self._expense(spender, at, amount, category, merchant, kind, None, incident)

        if kind == "spike":
            category, merchant = self._pick(spender)
            return [one(when, spender.scale[merchant] * rng.uniform(5, 15), category, merchant)]
        if kind == "new_category":
            unused = [c for c in CATEGORIES if c not in spender.categories]
            category = rng.choice(unused)
            merchant = rng.choice(list(CATEGORIES[category][0]))
            typical = CATEGORIES[category][0][merchant] * spender.wealth
            return [one(when, typical * rng.uniform(1.0, 3.0), category, merchant)]
        if kind == "card_testing":
            merchant = f"{rng.choice(TEST_MERCHANTS)}{rng.randint(1000, 9999)}"
            category = rng.choice(("compras online", "serviços digitais", *spender.categories))
            at = self._when(day, rng.uniform(0, 24))
            out = []
            for _ in range(rng.randint(3, 7)):
                out.append(one(at, rng.uniform(0.5, 9.99), category, merchant))
                at += timedelta(seconds=rng.uniform(20, 240))
            if rng.random() < 0.5:  # the card works: now the real charge
                out.append(one(at, rng.uniform(200, 1500), category, merchant))
            return out
        if kind == "night":
            span = spender.end_hour - spender.start_hour
            gap = 24 - span
            hour = spender.end_hour + 1 + rng.random() * max(gap - 2, 0.5)
            when = self._when(day, hour % 24)
            category, merchant = self._pick(spender)
            if rng.random() < 0.4:
                merchant = rng.choice(NIGHT_MERCHANTS)
                amount = spender.scale[self._pick(spender, category)[1]] * rng.uniform(1, 3)
            else:
                amount = self._amount(spender, category, merchant) * rng.uniform(1, 2)
            return [one(when, amount, category, merchant)]
        if kind == "duplicate":
            originals = [e for e in todays if e[1].label is None and e[1].hard_negative is None]
            if not originals:
                category, merchant = self._pick(spender)
                originals = [
                    self._expense(
                        spender, when, self._amount(spender, category, merchant), category, merchant
                    )
                ]
                first = originals[0]
                first_out = [first]
            else:
                first = rng.choice(originals)
                first_out = []
            at, original = first
            amount = original.payload["amount"]
            if rng.random() < 0.3:  # near duplicate: a few cents apart
                amount += rng.choice((-1, 1)) * rng.randint(1, max(1, int(amount))) / 100
            copy = one(
                at + timedelta(seconds=rng.uniform(30, 600)),
                amount,
                original.payload["category"],
                original.payload["merchant"],
            )
            return first_out + [copy]
        if kind == "split":
            limit = rng.choice(LIMITS)
            parts = rng.randint(2, 4)
            wide = [c for c in spender.categories if c in WIDE] or list(spender.categories)
            category = rng.choice(wide)
            merchant = rng.choice(list(CATEGORIES[category][0]))
            at, out = when, []
            for _ in range(parts):
                out.append(one(at, limit * rng.uniform(0.9, 0.995), category, merchant))
                at += timedelta(minutes=rng.uniform(1, 40))
            return out
        if kind == "new_merchant_amount":
            category, _ = self._pick(spender)
            pool = [m for m in CATEGORIES[category][0] if m not in spender.scale]
            merchant = rng.choice(pool) if pool else f"Loja {rng.randint(100, 999)}"
            # Unusual: well above what the dearest merchant of the category charges them.
            dearest = max(spender.scale[m] for m in spender.merchants[category])
            return [one(when, dearest * rng.uniform(3, 8), category, merchant)]
        raise ValueError(kind)


_MEAN_SIZE = {
    "spike": 1.0,
    "new_category": 1.0,
    "card_testing": 5.5,
    "night": 1.0,
    "duplicate": 1.0,
    "split": 3.0,
    "new_merchant_amount": 1.0,
}


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; lam stays small here (a spender's expenses in one day)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
