"""A second labelled world, written apart from `vigilante/simulate.py` and `models/`.

`make bench-detect` replays it beside the simulator's streams: the detector is measured on a
world whose author never read the simulator or the detector (it was written from how people
spend, to check that the detector is not tuned to one simulator). Its design choices differ:
spenders who never spend outside their waking window, bills debited at 06-07 h by billers,
categories in Portuguese or English per spender, trips with a flight and a hotel, annual
subscription renewals, late dinners, new-category anomalies in exotic categories.

A household/company with N spenders (accounts). Each spender has:
  * an activity window (early bird / regular / late), never spending outside it (except billers);
  * a set of everyday categories (each named in Portuguese or English, fixed per spender);
  * 1-5 favourite merchants per category, each with its own price level (lognormal noise per
    expense)
    and preferred hours, Zipf-like loyalty;
  * weekly rhythm (weekday multipliers per category plus a personal weekend factor);
  * monthly bills (rent / utilities / phone / internet / subscriptions) on fixed days.

Labels: ``label`` = anomaly kind or None; ``hard`` = hard-negative kind or None (never both).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from vigilante.simulate import KINDS as SIMULATOR_KINDS

TZ = timezone(timedelta(hours=-3))  # America/Sao_Paulo (no DST since 2019)
START = datetime(2026, 6, 1, tzinfo=TZ)  # a Monday

# The anomaly kinds are the benchmark's shared vocabulary (its per-kind table), not a design.
KINDS = list(SIMULATOR_KINDS)
HARD = [
    "rent",
    "bill",
    "big_purchase",
    "new_merchant_normal",
    "trip",
    "late_dinner",
    "annual_renewal",
]

# concept -> (PT name, EN name, median BRL, per-expense sigma, weekly rate range, preferred hours,
#             weekday weights Mon..Sun)
CONCEPTS = {
    "groceries": (
        "mercado",
        "groceries",
        160,
        0.55,
        (0.8, 2.5),
        (8, 22),
        [0.8, 0.8, 0.9, 0.9, 1.0, 1.6, 1.2],
    ),
    "meals": (
        "alimentação",
        "restaurants",
        55,
        0.45,
        (2.0, 7.0),
        None,
        [1, 1, 1, 1.1, 1.4, 1.3, 1.0],
    ),
    "transport": (
        "transporte",
        "transport",
        24,
        0.45,
        (1.0, 8.0),
        (7, 23.5),
        [1.3, 1.3, 1.3, 1.3, 1.4, 0.6, 0.5],
    ),
    "fuel": ("combustível", "fuel", 210, 0.25, (0.4, 1.3), (7, 21), [1.1, 1, 1, 1, 1.2, 1.0, 0.7]),
    "pharmacy": ("farmácia", "pharmacy", 55, 0.6, (0.2, 0.8), (8, 22), [1] * 7),
    "entertainment": (
        "lazer",
        "entertainment",
        75,
        0.5,
        (0.2, 1.0),
        (14, 24),
        [0.5, 0.5, 0.6, 0.8, 1.5, 2.0, 1.6],
    ),
    "clothing": (
        "vestuário",
        "clothing",
        190,
        0.5,
        (0.1, 0.4),
        (10, 22),
        [0.7, 0.7, 0.8, 0.9, 1.1, 1.8, 1.2],
    ),
    "electronics": ("eletrônicos", "electronics", 260, 0.7, (0.03, 0.15), (10, 22), [1] * 7),
    "health": (
        "saúde",
        "health",
        220,
        0.45,
        (0.05, 0.3),
        (8, 19),
        [1.2, 1.2, 1.2, 1.2, 1.1, 0.4, 0.1],
    ),
    "bakery": ("padaria", "bakery", 19, 0.45, (1.0, 5.0), (6, 11), [1, 1, 1, 1, 1, 1.3, 1.4]),
    "pets": ("pet shop", "pets", 130, 0.5, (0.1, 0.5), (9, 20), [1] * 7),
    "home": ("casa", "home", 120, 0.7, (0.1, 0.5), (9, 21), [0.8, 0.8, 0.8, 0.8, 1, 1.7, 1.3]),
    "beauty": ("beleza", "beauty", 90, 0.45, (0.1, 0.5), (9, 20), [1] * 7),
}
MERCHANTS = {
    "groceries": [
        "Carrefour",
        "Pão de Açúcar",
        "Assaí Atacadista",
        "Dia Supermercado",
        "Extra",
        "Hortifruti",
        "Oba Hortifruti",
        "St Marche",
        "Mambo",
        "Sonda",
        "Atacadão",
        "Zona Sul",
    ],
    "meals": [
        "Restaurante Sabor Caseiro",
        "Outback",
        "Madero",
        "Bistrô da Vila",
        "Coco Bambu",
        "Spoleto",
        "Habib's",
        "iFood *Restaurante",
        "Cantina Italiana",
        "Sushi Yama",
        "Frango Assado",
        "Boteco do Zé",
        "Lanchonete Central",
        "Rei do Kilo",
        "Burger King",
        "McDonald's",
        "Pizzaria Bella",
    ],
    "transport": [
        "Uber *Trip",
        "99 *Corrida",
        "Metrô SP",
        "Bilhete Único",
        "Estapar",
        "Sem Parar",
        "Zul Digital",
    ],
    "fuel": ["Posto Shell", "Posto Ipiranga", "Posto BR", "Auto Posto Avenida", "Posto Ale"],
    "pharmacy": ["Drogasil", "Droga Raia", "Pague Menos", "Drogaria São Paulo", "Farmácia Popular"],
    "entertainment": [
        "Cinemark",
        "Ingresso.com",
        "Sympla",
        "Steam",
        "Livraria Cultura",
        "Boliche Strike",
        "Teatro Renault",
    ],
    "clothing": ["Renner", "C&A", "Riachuelo", "Zara", "Hering", "Centauro", "Netshoes"],
    "electronics": [
        "Kabum",
        "Fast Shop",
        "Magazine Luiza",
        "Amazon BR",
        "Mercado Livre",
        "Casas Bahia",
    ],
    "health": [
        "Laboratório Fleury",
        "Clínica Sorriso",
        "Dr. Consulta",
        "Fisioterapia Movimento",
        "Smart Fit",
    ],
    "bakery": [
        "Padaria Real",
        "Padaria Bella Paulista",
        "Starbucks",
        "Café do Ponto",
        "Padaria Santa Tereza",
        "Casa do Pão de Queijo",
    ],
    "pets": ["Petz", "Cobasi", "Pet Center Marginal", "Clínica Vet Amigo"],
    "home": ["Leroy Merlin", "Tok&Stok", "Camicado", "Telhanorte", "Etna", "Casa & Vídeo"],
    "beauty": ["Salão Bela Vista", "Barbearia Dom", "O Boticário", "Natura", "Sephora"],
}
# Meal merchants: (hours) lunch vs dinner vs delivery
MEAL_HOURS = {"lunch": (11.3, 14.8), "dinner": (19.0, 23.8), "any": (11.0, 23.5)}

BILLS = [  # (concept, PT, EN, merchant, median, jitter, by_biller)
    ("utilities", "contas", "utilities", "Enel SP", 240, 0.18, True),
    ("utilities", "contas", "utilities", "Sabesp", 110, 0.12, True),
    ("utilities", "contas", "utilities", "Comgás", 85, 0.15, True),
    ("phone", "telefone", "phone", "Claro Celular", 79.90, 0.0, True),
    ("phone", "telefone", "phone", "Vivo Fibra", 129.90, 0.0, True),
    ("subscriptions", "assinaturas", "subscriptions", "Netflix", 55.90, 0.0, False),
    ("subscriptions", "assinaturas", "subscriptions", "Spotify", 21.90, 0.0, False),
    ("subscriptions", "assinaturas", "subscriptions", "Disney+", 43.90, 0.0, False),
    ("subscriptions", "assinaturas", "subscriptions", "YouTube Premium", 24.90, 0.0, False),
    ("subscriptions", "assinaturas", "subscriptions", "Apple iCloud", 14.90, 0.0, False),
    ("subscriptions", "assinaturas", "subscriptions", "Globoplay", 24.90, 0.0, False),
]
ANNUAL = [
    ("Microsoft 365", 44.99),
    ("Amazon Prime", 19.90),
    ("Duolingo Plus", 29.90),
    ("NordVPN", 39.90),
    ("Adobe Creative Cloud", 124.00),
    ("Kaspersky", 24.90),
]
PLACES = ["do Porto", "Mar e Terra", "Sabores", "Boa Vista", "da Praia"]
RENT_MERCHANTS = ["QuintoAndar", "Imobiliária Lopes", "Lello Condomínios", "Aluguel Apto 42"]
NEW_CATEGORIES = [
    ("joalheria", "jewelry", "Vivara", 2400),
    ("apostas", "betting", "Bet365", 900),
    ("jogos", "gaming", "PlayStation Store", 600),
    ("eletrônicos", "electronics", "iPlace", 5200),
    ("viagem", "travel", "Decolar.com", 3300),
    ("arte", "art", "Galeria Arte Nova", 3800),
    ("instrumentos musicais", "musical instruments", "Made in Brazil", 2200),
    ("cripto", "crypto", "Binance", 2500),
    ("educação", "education", "Curso Online Pro", 1500),
    ("náutica", "boating", "Marina Guarujá", 4200),
]
CARD_TEST_MERCHANTS = [
    "PG *DIGITALSTORE",
    "MP *LOJAVIRTUAL88",
    "PAYPAL *GAMESKEY",
    "EBANX *TOPUP",
    "SHOPI*XK29",
    "STRIPE *DONATE-HOPE",
    "PIX*COMPRAS77",
    "WWW.GIFTCARDS4U.COM",
]
NAMES = [
    "ana",
    "bruno",
    "carla",
    "diego",
    "eduarda",
    "felipe",
    "gabi",
    "henrique",
    "isabela",
    "joao",
    "karen",
    "lucas",
    "mariana",
    "nicolas",
    "olivia",
    "paulo",
    "quitéria",
    "rafael",
    "sofia",
    "tiago",
    "ursula",
    "vitor",
    "wesley",
    "xuxa",
    "yara",
    "zeca",
    "alice",
    "bernardo",
    "cecilia",
    "davi",
    "elisa",
    "fabio",
    "giovana",
    "heitor",
    "iara",
    "jorge",
    "larissa",
    "marcos",
    "natalia",
    "otavio",
    "priscila",
    "renato",
    "sabrina",
    "tomas",
    "valentina",
    "william",
    "yuri",
    "zilda",
    "amanda",
    "breno",
    "camila",
    "daniel",
    "erica",
    "fernando",
    "gustavo",
    "helena",
    "igor",
    "julia",
    "leo",
    "monica",
]


@dataclass
class Merchant:
    name: str
    level: float  # median amount
    sigma: float
    hours: tuple | None


@dataclass
class Spender:
    account: str
    window: tuple  # (start_h, end_h), end may exceed 24
    style: str
    lang: dict  # concept -> name
    cats: dict  # concept -> (weekly rate, [Merchant], weights)
    weekend: float
    wealth: float
    bills: list = field(default_factory=list)


@dataclass
class Ev:
    t: datetime
    account: str
    category: str
    merchant: str
    amount: float
    label: str | None = None
    hard: str | None = None
    incident: int | None = None

    def payload(self):
        return {
            "amount": round(self.amount, 2),
            "category": self.category,
            "merchant": self.merchant,
            "account": self.account,
            "occurred_at": self.t.isoformat(timespec="seconds"),
        }


def r2(x):
    return max(0.5, round(x, 2))


class World:
    def __init__(
        self,
        seed,
        spenders=40,
        days=60,
        rate=0.03,
        mix=None,
        warmup=7,
        late_share=0.3,
        early_share=0.25,
        activity=1.0,
        hard_rate=1.0,
    ):
        self.rng = random.Random(seed)
        self.days = days
        self.rate = rate
        self.mix = mix or {k: 1.0 for k in KINDS}
        self.warmup = warmup
        self.activity = activity
        self.hard_rate = hard_rate
        self.late_share, self.early_share = late_share, early_share
        self.spenders = [self._spender(i) for i in range(spenders)]
        self.events: list[Ev] = []
        self.incident = 0

    # ---------------------------------------------------------------- spenders
    def _spender(self, i):
        rng = self.rng
        u = rng.random()
        if u < self.late_share:
            style, window = "late", (rng.uniform(9.5, 11.0), rng.uniform(24.5, 25.0))
        elif u < self.late_share + self.early_share:
            style, window = "early", (rng.uniform(5.5, 6.8), rng.uniform(20.0, 22.0))
        else:
            style, window = "regular", (rng.uniform(7.0, 9.0), rng.uniform(22.0, 23.8))
        p_pt = rng.choice([0.9, 0.7, 0.5, 0.2])
        lang = {c: (v[0] if rng.random() < p_pt else v[1]) for c, v in CONCEPTS.items()}
        for c, pt, en in [
            ("subscriptions", "assinaturas", "subscriptions"),
            ("utilities", "contas", "utilities"),
            ("phone", "telefone", "phone"),
            ("rent", "aluguel", "rent"),
            ("travel", "viagem", "travel"),
            ("hotels", "hospedagem", "hotels"),
        ]:
            lang[c] = pt if rng.random() < p_pt else en
        wealth = math.exp(rng.gauss(0, 0.35))
        core = ["groceries", "meals", "transport"]
        optional = [c for c in CONCEPTS if c not in core]
        chosen = core + rng.sample(optional, rng.randint(2, 6))
        if rng.random() < 0.3:
            chosen.remove("transport")  # drives instead
            if "fuel" not in chosen:
                chosen.append("fuel")
        act = math.exp(rng.gauss(0, 0.45)) * self.activity
        cats = {}
        for c in chosen:
            pt, en, med, sig, (lo, hi), hours, wk = CONCEPTS[c]
            rate = rng.uniform(lo, hi) * act
            nm = rng.randint(1, 5)
            names = rng.sample(MERCHANTS[c], min(nm, len(MERCHANTS[c])))
            ms = []
            for n in names:
                h = hours
                if c == "meals":
                    h = MEAL_HOURS[rng.choice(["lunch", "lunch", "dinner", "any"])]
                lvl = med * wealth * math.exp(rng.gauss(0, 0.3))
                if c == "meals" and h == MEAL_HOURS["dinner"]:
                    lvl *= 1.8
                ms.append(Merchant(n, lvl, sig * rng.uniform(0.7, 1.1), h))
            weights = [1 / (k + 1) ** 1.1 for k in range(len(ms))]
            cats[c] = (rate, ms, weights)
        sp = Spender(
            f"{'cartão' if p_pt > 0.5 else 'card'}-{NAMES[i % len(NAMES)]}"
            + ("" if i < len(NAMES) else str(i)),
            window,
            style,
            lang,
            cats,
            rng.uniform(0.7, 1.5),
            wealth,
        )
        # monthly bills
        if rng.random() < 0.45:
            sp.bills.append(
                (
                    "rent",
                    lang["rent"],
                    rng.choice(RENT_MERCHANTS),
                    round(rng.uniform(1500, 5500) / 10) * 10,
                    0.0,
                    True,
                    rng.randint(1, 10),
                )
            )
        for b in rng.sample(BILLS, rng.randint(1, 5)):
            concept, pt, en, m, med, jit, biller = b
            name = lang.get(concept, pt if p_pt > 0.5 else en)
            sp.bills.append(
                (concept, name, m, med * (wealth if jit else 1.0), jit, biller, rng.randint(1, 28))
            )
        return sp

    # ---------------------------------------------------------------- helpers
    def _hour(self, sp, pref):
        a, b = sp.window
        if pref is not None and self.rng.random() < 0.92:
            lo, hi = max(a, pref[0]), min(b, pref[1])
            if hi - lo >= 0.5:
                return self.rng.uniform(lo, hi)
        return self.rng.uniform(a + 0.05, b - 0.05)

    def _at(self, day, hour):
        return START + timedelta(days=day, seconds=int(hour * 3600) + self.rng.randint(0, 59))

    def _pick(self, sp, concept):
        rate, ms, w = sp.cats[concept]
        return self.rng.choices(ms, w)[0]

    def _amount(self, m: Merchant):
        return r2(m.level * math.exp(self.rng.gauss(0, m.sigma)))

    def _known(self, sp, day, k, concepts=None):
        """(concept, Merchant) pairs of the spender's normal flow seen >= k times before ``day``."""
        cut = START + timedelta(days=day)
        out = []
        for c, (_rate, ms, _w) in sp.cats.items():
            if concepts and c not in concepts:
                continue
            for m in ms:
                n = sum(
                    1
                    for e in self.events
                    if e.account == sp.account
                    and e.merchant == m.name
                    and e.hard is None
                    and e.label is None
                    and e.t < cut
                )
                if n >= k:
                    out.append((c, m))
        return out

    def add(self, ev):
        self.events.append(ev)
        return ev

    # ---------------------------------------------------------------- normal flow
    def normal(self):
        rng = self.rng
        self.trip_days = {}
        for sp in self.spenders:
            # yearly trip (hard negative) ~ 20 % of spenders
            trip = set()
            if rng.random() < 0.2 * self.hard_rate and self.days > 20:
                d0 = rng.randint(self.warmup, self.days - 7)
                trip = set(range(d0, d0 + rng.randint(3, 6)))
                self.trip_days[sp.account] = trip
            for day in range(self.days):
                wd = (START + timedelta(days=day)).weekday()
                for c, (rate, _ms, _w) in sp.cats.items():
                    wk = CONCEPTS[c][6][wd] * (sp.weekend if wd >= 5 else 1.0)
                    lam = rate / 7 * wk
                    if day in trip:
                        lam = 0.0  # away: the trip's own expenses replace the everyday ones
                    for _ in range(self._poisson(lam)):
                        m = self._pick(sp, c)
                        t = self._at(day, self._hour(sp, m.hours))
                        self.add(Ev(t, sp.account, sp.lang[c], m.name, self._amount(m)))
                # monthly bills
                date = START + timedelta(days=day)
                for concept, cat, m, amt, jit, biller, dom in sp.bills:
                    if date.day == dom:
                        if biller:
                            hour = rng.uniform(6.0, 7.0)
                        else:
                            hour = rng.uniform(max(6.0, sp.window[0]), min(sp.window[1], 12.0))
                        value = amt * math.exp(rng.gauss(0, jit)) if jit else amt
                        self.add(
                            Ev(
                                self._at(day, hour),
                                sp.account,
                                cat,
                                m,
                                r2(value),
                                hard="rent" if concept == "rent" else "bill",
                            )
                        )
            if trip:
                self._trip(sp, sorted(trip))

    def _poisson(self, lam):
        L, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= self.rng.random()
            if p < L:
                return k
            k += 1

    # ---------------------------------------------------------------- hard negatives
    def _trip(self, sp, days):
        rng = self.rng
        city = rng.choice(["RJ", "Salvador", "Florianópolis", "Recife", "Lisboa", "Buenos Aires"])
        air = rng.choice(
            ["LATAM Airlines", "GOL Linhas Aéreas", "Azul Linhas Aéreas", "TAP Air Portugal"]
        )
        self.add(
            Ev(
                self._at(days[0], self._hour(sp, (7, 12))),
                sp.account,
                sp.lang["travel"],
                air,
                r2(rng.uniform(700, 2600) * sp.wealth),
                hard="trip",
            )
        )
        hotels = ["Atlântico", "Mar Azul", "Central Plaza", "Ibis", "Pousada do Sol"]
        hotel = f"Hotel {rng.choice(hotels)} {city}"
        for d in days:
            for _ in range(rng.randint(2, 4)):
                kind = rng.choice(["meals", "meals", "transport", "entertainment"])
                name = {
                    "meals": f"{rng.choice(['Restaurante', 'Bar', 'Café', 'Churrascaria'])} "
                    f"{rng.choice(PLACES)} "
                    f"{city}",
                    "transport": f"Uber *Trip {city}",
                    "entertainment": f"Passeio {city}",
                }[kind]
                med = {"meals": 85, "transport": 30, "entertainment": 150}[kind] * sp.wealth
                cat = sp.lang[kind] if kind in sp.lang else CONCEPTS[kind][0]
                pref = {"meals": (12, 23), "transport": (8, 23), "entertainment": (9, 18)}[kind]
                self.add(
                    Ev(
                        self._at(d, self._hour(sp, pref)),
                        sp.account,
                        cat,
                        name,
                        r2(med * math.exp(rng.gauss(0, 0.4))),
                        hard="trip",
                    )
                )
        self.add(
            Ev(
                self._at(days[-1], self._hour(sp, (9, 12))),
                sp.account,
                sp.lang["hotels"],
                hotel,
                r2(rng.uniform(250, 650) * len(days) * sp.wealth),
                hard="trip",
            )
        )

    def hard_negatives(self):
        rng = self.rng
        for sp in self.spenders:
            d_lo = self.warmup
            # big legit purchase at a known store
            if rng.random() < 0.3 * self.hard_rate:
                day = rng.randint(d_lo, self.days - 1)
                pool = self._known(
                    sp, day, 2, ("home", "electronics", "clothing", "groceries", "pets")
                )
                if not pool:
                    continue
                c, m = rng.choice(pool)
                self.add(
                    Ev(
                        self._at(day, self._hour(sp, m.hours)),
                        sp.account,
                        sp.lang[c],
                        m.name,
                        r2(m.level * rng.uniform(3, 6)),
                        hard="big_purchase",
                    )
                )
            # legit new merchants at normal amounts
            for _ in range(self._poisson(2.0 * self.hard_rate)):
                c = rng.choice(
                    [
                        c
                        for c in ("meals", "bakery", "groceries", "pharmacy", "meals")
                        if c in sp.cats
                    ]
                    or list(sp.cats)
                )
                known = {m.name for m in sp.cats[c][1]}
                name = rng.choice(
                    [n for n in MERCHANTS[c] if n not in known]
                    or [
                        f"{rng.choice(['Padaria', 'Empório', 'Café', 'Mercadinho'])} "
                        f"Nova Esperança {rng.randint(1, 99)}"
                    ]
                )
                if rng.random() < 0.5:
                    kind = rng.choice(["Padaria", "Empório", "Café", "Restaurante", "Mercadinho"])
                    place = rng.choice(
                        ["Nova Esperança", "São Jorge", "Primavera", "do Bairro", "Aurora"]
                    )
                    name = f"{kind} {place}"
                ref = sp.cats[c][1][0]
                day = rng.randint(d_lo, self.days - 1)
                self.add(
                    Ev(
                        self._at(day, self._hour(sp, ref.hours)),
                        sp.account,
                        sp.lang[c],
                        name,
                        r2(ref.level * math.exp(rng.gauss(0, 0.3))),
                        hard="new_merchant_normal",
                    )
                )
            # late dinner for evening-active spenders
            if sp.window[1] >= 24.3 and "meals" in sp.cats:
                for _ in range(rng.randint(1, 2)):
                    m = self._pick(sp, "meals")
                    day = rng.randint(d_lo, self.days - 1)
                    hour = rng.uniform(23.0, sp.window[1] - 0.1)
                    self.add(
                        Ev(
                            self._at(day, hour),
                            sp.account,
                            sp.lang["meals"],
                            m.name,
                            r2(m.level * rng.uniform(1.5, 3.0)),
                            hard="late_dinner",
                        )
                    )
            # annual subscription renewal (12 x monthly)
            if rng.random() < 0.2 * self.hard_rate:
                subs = [b for b in sp.bills if b[0] == "subscriptions"]
                day = (
                    rng.randint(max(d_lo, 32), self.days - 1)
                    if self.days > 35
                    else rng.randint(d_lo, self.days - 1)
                )
                date = START + timedelta(days=day)
                if subs and rng.random() < 0.5:
                    b = rng.choice(subs)
                    # switch to the annual plan: the monthly charges after this date stop
                    self.events = [
                        e
                        for e in self.events
                        if not (e.account == sp.account and e.merchant == b[2] and e.t >= date)
                    ]
                    name, monthly, cat = b[2], b[3], b[1]
                else:
                    name, monthly = rng.choice(ANNUAL)
                    cat = sp.lang["subscriptions"]
                self.add(
                    Ev(
                        self._at(day, rng.uniform(max(6.0, sp.window[0]), 12.0)),
                        sp.account,
                        cat,
                        name,
                        r2(12 * monthly),
                        hard="annual_renewal",
                    )
                )

    # ---------------------------------------------------------------- anomalies
    def anomalies(self):
        rng = self.rng
        n_normal = len(self.events)
        target = self.rate * n_normal / (1 - self.rate)
        used = {}
        for e in self.events:
            used.setdefault(e.account, set()).add(e.category)
        merchants_of = {}
        for e in self.events:
            merchants_of.setdefault(e.account, set()).add(e.merchant)
        normal_by = {}
        for e in self.events:
            if e.label is None and e.hard is None:
                normal_by.setdefault(e.account, []).append(e)
        # mix = share of anomalous *expenses*; each kind gets its quota, filled incident by incident
        total_w = sum(self.mix.values())
        quota = {k: max(2, round(target * w / total_w)) for k, w in self.mix.items()}
        got = {k: 0 for k in self.mix}
        order = [k for k in self.mix]
        while any(got[k] < quota[k] for k in order):
            kind = rng.choice([k for k in order if got[k] < quota[k]])
            sp = rng.choice(self.spenders)
            trip = self.trip_days.get(sp.account, set())
            day = rng.randint(self.warmup, self.days - 1)
            while day in trip:
                day = rng.randint(self.warmup, self.days - 1)
            self.incident += 1
            inc = self.incident
            new = []
            if kind == "spike":  # 5-15x the usual at a merchant with >= 3 earlier expenses
                pool = self._known(sp, day, 3)
                if not pool:
                    continue
                c, m = rng.choice(pool)
                new.append(
                    Ev(
                        self._at(day, self._hour(sp, m.hours)),
                        sp.account,
                        sp.lang[c],
                        m.name,
                        r2(m.level * rng.uniform(5, 15)),
                    )
                )
            elif kind == "new_category":
                options = [
                    x
                    for x in NEW_CATEGORIES
                    if x[0] not in used[sp.account] and x[1] not in used[sp.account]
                ]
                pt, en, merch, med = rng.choice(options)
                cat = pt if rng.random() < 0.5 else en
                new.append(
                    Ev(
                        self._at(day, self._hour(sp, (10, 22))),
                        sp.account,
                        cat,
                        merch,
                        r2(med * math.exp(rng.gauss(0, 0.4))),
                    )
                )
            elif kind == "card_testing":
                merch = rng.choice(CARD_TEST_MERCHANTS) + f"{rng.randint(10, 99)}"
                cat = rng.choice(
                    [
                        sp.lang["entertainment"],
                        sp.lang["electronics"],
                        "outros",
                        "online",
                        "serviços",
                    ]
                )
                t = START + timedelta(days=day, seconds=rng.randint(0, 86399))
                for _ in range(rng.randint(3, 8)):
                    new.append(
                        Ev(
                            t,
                            sp.account,
                            cat,
                            merch,
                            rng.choice(
                                [1.0, 1.99, 2.0, 2.5, 3.0, 4.99, 5.0, round(rng.uniform(1, 5), 2)]
                            ),
                        )
                    )
                    t += timedelta(seconds=rng.randint(15, 240))
                if rng.random() < 0.65:
                    t += timedelta(seconds=rng.randint(120, 1200))
                    new.append(Ev(t, sp.account, cat, merch, r2(rng.uniform(200, 2500))))
            elif kind == "night":  # a usual kind of expense, at an hour the spender is never active
                pool = self._known(sp, day, 3)
                if not pool:
                    continue
                c, m = rng.choice(pool)
                hour = rng.uniform(2.0, 4.5)
                name = (
                    m.name
                    if rng.random() < 0.6
                    else rng.choice(
                        [n for n in MERCHANTS[c] if n not in merchants_of[sp.account]] or [m.name]
                    )
                )
                new.append(
                    Ev(
                        self._at(day, hour),
                        sp.account,
                        sp.lang[c],
                        name,
                        r2(m.level * rng.uniform(0.8, 2.0)),
                    )
                )
            elif kind == "duplicate":
                pool = [e for e in normal_by[sp.account] if (e.t - START).days >= self.warmup]
                if not pool:
                    continue
                src = rng.choice(pool)
                amt = src.amount
                if rng.random() < 0.4:
                    amt = round(amt * (1 + rng.choice([-1, 1]) * rng.uniform(0.002, 0.01)), 2)
                    if amt == src.amount:
                        amt = round(amt + 0.01, 2)
                new.append(
                    Ev(
                        src.t + timedelta(seconds=rng.randint(60, 600)),
                        sp.account,
                        src.category,
                        src.merchant,
                        amt,
                    )
                )
            elif kind == "split":
                limit = rng.choice([500, 1000, 2000])
                pool = [c for c in ("electronics", "clothing", "home") if c in sp.cats]
                if pool and rng.random() < 0.5:
                    c = rng.choice(pool)
                    merch, cat = self._pick(sp, c).name, sp.lang[c]
                else:
                    c = rng.choice(["electronics", "clothing", "home"])
                    merch = rng.choice(
                        [n for n in MERCHANTS[c] if n not in merchants_of[sp.account]]
                        or MERCHANTS[c]
                    )
                    cat = sp.lang[c]
                t = self._at(day, self._hour(sp, (10, 21)))
                for _ in range(rng.randint(2, 4)):
                    new.append(
                        Ev(t, sp.account, cat, merch, round(limit * rng.uniform(0.93, 0.999), 2))
                    )
                    t += timedelta(seconds=rng.randint(180, 1200))
            elif kind == "new_merchant_amount":
                c = rng.choice(list(sp.cats))
                merch = rng.choice(
                    [n for n in MERCHANTS[c] if n not in merchants_of[sp.account]]
                    or [f"{MERCHANTS[c][0]} Outlet"]
                )
                mine = sorted(e.amount for e in normal_by[sp.account])
                p99 = mine[int(0.99 * (len(mine) - 1))]
                amt = max(
                    CONCEPTS[c][2] * sp.wealth * rng.uniform(10, 30), p99 * rng.uniform(1.5, 3)
                )
                new.append(
                    Ev(
                        self._at(day, self._hour(sp, CONCEPTS[c][5])),
                        sp.account,
                        sp.lang[c],
                        merch,
                        r2(amt),
                    )
                )
            for e in new:
                e.label, e.incident = kind, inc
                self.add(e)
            got[kind] += len(new)

    def build(self):
        self.normal()
        self.hard_negatives()
        self.anomalies()
        self.events.sort(key=lambda e: e.t)
        return self.events


CONFIGS = {
    "A": dict(seed=101, spenders=40, days=60, rate=0.03, warmup=7),
    "B": dict(
        seed=202,
        spenders=25,
        days=75,
        rate=0.02,
        warmup=10,
        late_share=0.4,
        hard_rate=1.5,
        mix={
            "spike": 2.0,
            "night": 2.0,
            "new_merchant_amount": 1.5,
            "duplicate": 1.5,
            "new_category": 1.0,
            "split": 0.5,
            "card_testing": 0.3,
        },
    ),
    "C": dict(
        seed=303,
        spenders=60,
        days=45,
        rate=0.025,
        warmup=5,
        late_share=0.25,
        early_share=0.35,
        activity=0.6,
        mix={
            "card_testing": 1.0,
            "split": 1.5,
            "new_category": 2.0,
            "duplicate": 1.0,
            "spike": 1.0,
            "night": 1.0,
            "new_merchant_amount": 1.0,
        },
    ),
}


def generate(name, seed=None):
    cfg = dict(CONFIGS[name])
    if seed is not None:
        cfg["seed"] = seed
    return World(**cfg).build()


def history(name: str, seed: int) -> list:
    """One configuration's stream as the benchmark's labelled expenses. Monthly bills are
    ordinary expenses there (as in the simulator), not legitimate surprises."""
    from vigilante.simulate import SimulatedExpense

    return [
        SimulatedExpense(e.payload(), e.label, None if e.hard == "bill" else e.hard, e.incident)
        for e in generate(name, seed)
    ]


if __name__ == "__main__":
    from collections import Counter

    for name in CONFIGS:
        evs = generate(name)
        print(
            name,
            len(evs),
            "anom",
            sum(e.label is not None for e in evs),
            Counter(e.label for e in evs if e.label),
            Counter(e.hard for e in evs if e.hard),
        )
