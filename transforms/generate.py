"""Synthetic landing zone: clickstream, CRM and support files with planted stories.

`generate` writes `<out>/<source>/<YYYY-MM-DD>/<file>` in the shapes of DESIGN.md
("Inputs: the landing zone") for a number of simulated customers:

* ``clickstream/<day>/events-sNN.jsonl``  Segment tracking spec, one file per shard
* ``crm/<day>/activities.csv`` and ``crm/<day>/contacts.csv``  HubSpot-like exports
* ``support/<day>/tickets.jsonl``  Zendesk-like ticket events

With ``compress=True`` every file is written gzip-compressed instead, under its name plus
``.gz``; it decompresses to the very bytes the uncompressed run writes.

The day folder is the UTC day a record *landed*: normally the day of its timestamp, later
for the ~1 % late records; ~1 % of records are resent byte-identically, and with
probability `broken_share` a record is broken in one of `BROKEN_KINDS`. Three stories are
planted (fixtures/README.md tells how they show in the marts): a broken mobile-app
checkout, a checkout incident on days 20-27 of the period, and referral customers
converting about three times as often as the rest; so are a shared kiosk computer and a
role address `info@<company>` that identity stitching must not merge.

How it scales: customers are cut into fixed shards of `customers_per_shard` (10,000) by
index and every customer draws from its own RNGs seeded from ``(seed, customer_index)``,
so the bytes written depend on the arguments only, never on `workers` or scheduling. A
shard holds one customer's records in memory at a time and appends them to open
per-(file, day) handles; CRM and support shards write part files that are concatenated in
shard order at the end. When compressing, a shard gzips its clickstream files as soon as it
finishes, so at most `workers` shards' clickstream lies uncompressed on disk at once, and the
merge writes the CRM and support files through gzip. Unlike the pipeline's transforms this
is a simulation, so it loops per event; the hot path builds the Segment JSON from
pre-encoded text to stay above 100k records a second per worker.

This module is pure Python and never imports dagster.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import multiprocessing
import queue
import random
import shutil
import unicodedata
from bisect import bisect
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "BROKEN_KINDS",
    "CUSTOMERS_PER_SHARD",
    "INCIDENT_DAYS",
    "GenerateSummary",
    "generate",
]

CUSTOMERS_PER_SHARD = 10_000
"""Customers per shard; fixed so that output never depends on the number of workers."""

INCIDENT_DAYS = (20, 27)
"""Day offsets from `start` (inclusive, UTC) of the planted checkout incident."""

DUPLICATE_RATE = 0.01
LATE_RATE = 0.01
OVERSIZED_PER_BROKEN = 1 / 500  # oversized records: broken_share / 500 (1 in 250k at 0.002)
PROGRESS_EVERY = 250

BROKEN_KINDS = (
    "not_json",
    "wrong_field_count",
    "missing_id",
    "missing_timestamp",
    "unparseable_timestamp",
    "timestamp_before_2000",
    "timestamp_in_future",
    "no_identifier",
    "wrong_type",
    "invalid_utf8",
    "empty_line",
    "oversized",
)

# Output kinds: the source folder and (but for clickstream shards) the final file name
_EVENTS, _ACTIVITIES, _CONTACTS, _TICKETS = 0, 1, 2, 3
_KIND_SOURCE = ("clickstream", "crm", "crm", "support")
_KIND_FILE = (None, "activities.csv", "contacts.csv", "tickets.jsonl")
_CSV_HEADERS = {
    _ACTIVITIES: b"activity_id,contact_id,email,activity_type,occurred_at,channel,amount\n",
    _CONTACTS: b"contact_id,email,company,industry,company_size,segment,lifecycle_stage,created_at\n",
}
_BROKEN_BY_KIND = {
    _EVENTS: (
        "not_json",
        "missing_id",
        "missing_timestamp",
        "unparseable_timestamp",
        "timestamp_before_2000",
        "timestamp_in_future",
        "no_identifier",
        "invalid_utf8",
        "empty_line",
    ),
    _TICKETS: (
        "not_json",
        "missing_id",
        "missing_timestamp",
        "unparseable_timestamp",
        "timestamp_before_2000",
        "timestamp_in_future",
        "no_identifier",
        "wrong_type",
        "invalid_utf8",
        "empty_line",
    ),
    _ACTIVITIES: (
        "wrong_field_count",
        "missing_id",
        "missing_timestamp",
        "unparseable_timestamp",
        "timestamp_before_2000",
        "timestamp_in_future",
        "no_identifier",
        "wrong_type",
        "invalid_utf8",
        "empty_line",
    ),
    _CONTACTS: (
        "wrong_field_count",
        "missing_id",
        "missing_timestamp",
        "unparseable_timestamp",
        "timestamp_before_2000",
        "timestamp_in_future",
        "no_identifier",
        "invalid_utf8",
        "empty_line",
    ),
}
_BAD_TIMESTAMPS = ("yesterday at noon", "2025-13-45T25:61:00Z", "31/02/2025 10:00", "n/a")

_SEC, _MIN, _HOUR, _DAY = 1_000, 60_000, 3_600_000, 86_400_000


@dataclass
class GenerateSummary:
    """What one `generate` call wrote.

    `events_by_source` counts the distinct, valid records that landed (late ones included;
    duplicates, broken records and events after the end of the period excluded); a CRM
    contact row counts as a `crm` record.
    """

    customers: int
    days: int
    events_by_source: dict[str, int] = field(default_factory=dict)
    files_written: int = 0
    duplicates: int = 0
    late_events: int = 0
    broken_records: int = 0
    broken_by_kind: dict[str, int] = field(default_factory=dict)
    not_landed: int = 0

    @property
    def events(self) -> int:
        """Valid records landed, all sources."""
        return sum(self.events_by_source.values())

    @property
    def events_per_customer(self) -> float:
        """Mean valid records per customer, all sources (pick customers = target / this)."""
        return self.events / self.customers if self.customers else 0.0

    @property
    def lines_written(self) -> int:
        """Every line written: valid records, duplicates and broken records."""
        return self.events + self.duplicates + self.broken_records

    def add(self, other: GenerateSummary) -> None:
        for source, n in other.events_by_source.items():
            self.events_by_source[source] = self.events_by_source.get(source, 0) + n
        for kind, n in other.broken_by_kind.items():
            self.broken_by_kind[kind] = self.broken_by_kind.get(kind, 0) + n
        self.files_written += other.files_written
        self.duplicates += other.duplicates
        self.late_events += other.late_events
        self.broken_records += other.broken_records
        self.not_landed += other.not_landed


# --------------------------------------------------------------------------------------
# Reference data (constant; the catalog is drawn from the seed)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


_FIRST_NAMES = (
    "Jane",
    "John",
    "Maria",
    "Ahmed",
    "Wei",
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Sofia",
    "Lucas",
    "Mia",
    "Ethan",
    "Aisha",
    "Mateo",
    "Chloe",
    "Arjun",
    "Hannah",
    "Yuki",
    "Lars",
    "Fatima",
    "Diego",
    "Zoë",
    "José",
    "Priya",
    "Tom",
    "Grace",
    "Omar",
    "Elena",
    "Kenji",
    "Sara",
    "Ivan",
    "Nina",
    "Leo",
    "Amara",
    "Finn",
    "Julia",
    "Ravi",
    "Anna",
    "Felix",
)
_LAST_NAMES = (
    "Doe",
    "Smith",
    "Garcia",
    "Khan",
    "Chen",
    "Müller",
    "Rossi",
    "Nguyen",
    "Kowalski",
    "Silva",
    "Brown",
    "Johansson",
    "Okafor",
    "Tanaka",
    "Dubois",
    "Patel",
    "Novak",
    "Murphy",
    "Cohen",
    "Larsen",
    "Haddad",
    "Fischer",
    "Santos",
    "Kim",
    "Ivanova",
    "Walker",
    "Moreau",
    "Singh",
    "López",
    "Baker",
)
_MAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "hotmail.com", "proton.me")
_COMPANY_STEMS = (
    "Northwind",
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Oceanic",
    "Monarch",
    "Blue Sun",
    "Aperture",
    "Pied Piper",
    "Gekko",
    "Dunder",
    "Prestige",
)
_COMPANY_SUFFIXES = (
    "Traders",
    "Industries",
    "Logistics",
    "Health",
    "Labs",
    "Foods",
    "Capital",
    "Systems",
)
_INDUSTRIES = (
    "Retail",
    "Manufacturing",
    "Healthcare",
    "Financial Services",
    "Education",
    "Logistics",
    "Software",
    "Hospitality",
    "Public Sector",
    "Media",
)
_COMPANIES = tuple(
    (
        f"{stem} {suffix}" + (", Inc." if (i * 7 + j) % 5 == 0 else ""),
        _INDUSTRIES[(i * 3 + j) % len(_INDUSTRIES)],
        f"{stem.lower().replace(' ', '')}-{suffix.lower()}.example",
    )
    for i, stem in enumerate(_COMPANY_STEMS)
    for j, suffix in enumerate(_COMPANY_SUFFIXES)
)
_ROLE_COMPANIES = _COMPANIES[::7]  # the companies whose contacts share info@<domain>

_CATEGORIES = (
    # slug, price low, price high, search queries
    ("laptops", 499, 2499, ("gaming laptop", "ultrabook", "laptop 16gb ram")),
    ("monitors", 129, 899, ("4k monitor", "ultrawide monitor", "usb-c monitor")),
    ("keyboards", 29, 199, ("mechanical keyboard", "wireless keyboard")),
    ("headphones", 39, 399, ("noise cancelling headphones", "wireless earbuds")),
    ("office-chairs", 149, 1199, ("ergonomic chair", "mesh office chair")),
    ("desks", 199, 999, ("standing desk", "corner desk")),
    ("printers", 89, 599, ("laser printer", "all in one printer")),
    ("networking", 49, 499, ("wifi router", "mesh wifi", "network switch")),
    ("accessories", 9, 79, ("usb-c hub", "laptop stand", "webcam")),
    ("software", 49, 999, ("office suite license", "antivirus business")),
)
_CONSUMER_CATEGORY_WEIGHTS = (1, 2, 3, 4, 1, 1, 1, 2, 5, 1)
_BUSINESS_CATEGORY_WEIGHTS = (4, 3, 2, 1, 3, 2, 2, 2, 2, 3)
_BRANDS = ("Nimbus", "Orion", "Vertex", "Kestrel", "Lumen", "Arcadia")
_MODEL_WORDS = {
    "laptops": "Book",
    "monitors": "View",
    "keyboards": "Keys",
    "headphones": "Sound",
    "office-chairs": "Seat",
    "desks": "Desk",
    "printers": "Print",
    "networking": "Link",
    "accessories": "Dock",
    "software": "Suite",
}
_BLOG_SLUGS = (
    "best-laptops-2025",
    "home-office-setup",
    "how-to-choose-a-monitor",
    "ergonomics-101",
    "hybrid-work-guide",
    "it-procurement-checklist",
    "mesh-wifi-explained",
    "standing-desk-myths",
    "headphones-for-calls",
    "small-business-it-budget",
)
_HELP_TOPICS = (
    "shipping",
    "returns",
    "warranty",
    "payment-methods",
    "order-status",
    "app-troubleshooting",
    "invoices",
    "account-security",
)
_TIMEZONES = (
    # suffix, offset minutes, weight
    ("Z", 0, 2),
    ("+00:00", 0, 1),
    ("+01:00", 60, 4),
    ("+02:00", 120, 2),
    ("-05:00", -300, 4),
    ("-08:00", -480, 2),
    ("-03:00", -180, 1),
    ("+05:30", 330, 1),
    ("+09:00", 540, 1),
)
_LOCALES = ("en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "en-IN", "ja-JP", "pt-BR")

_CHANNELS = (
    "paid_search",
    "organic_search",
    "paid_social",
    "organic_social",
    "email",
    "sms",
    "display",
    "referral",
    "direct",
)
_CHANNEL_WEIGHTS = {
    "consumer": (0.17, 0.16, 0.22, 0.09, 0.05, 0.05, 0.06, 0.10, 0.13),
    "smb": (0.20, 0.24, 0.07, 0.05, 0.07, 0.01, 0.05, 0.13, 0.21),
    "enterprise": (0.12, 0.27, 0.03, 0.04, 0.06, 0.00, 0.05, 0.16, 0.29),
}
_CAMPAIGNS = {
    "paid_search": (("google", "bing"), ("brand_search", "laptops_generic", "spring_sale_search")),
    "paid_social": (
        ("facebook", "instagram", "tiktok"),
        ("spring_sale_video", "retargeting_carousel", "creator_ugc"),
    ),
    "email": (("newsletter",), ("newsletter_weekly", "product_launch", "spring_sale_email")),
    "sms": (("attentive",), ("flash_sale", "back_in_stock")),
    "display": (("google_display", "criteo"), ("prospecting_banners", "retargeting_banners")),
}
_MEDIUM = {
    "paid_search": "cpc",
    "paid_social": "paid_social",
    "email": "email",
    "sms": "sms",
    "display": "display",
}
_SOCIAL_REFERRERS = {
    "facebook": "https://m.facebook.com/",
    "instagram": "https://l.instagram.com/",
    "tiktok": "https://www.tiktok.com/",
}
_ORGANIC_SOCIAL_REFERRERS = (
    "https://t.co/",
    "https://www.facebook.com/",
    "https://l.facebook.com/",
)
_REFERRAL_SITES = (
    "https://www.techradar.example/best-laptops-2025",
    "https://www.reddit.com/r/homeoffice/",
    "https://partner-blog.example.org/setup-review",
    "https://www.wirecutter.example/reviews/monitors",
    "https://news.ycombinator.com/item?id=4242",
    "https://forum.pcbuilders.example/t/which-desk",
)
_DISPLAY_REFERRERS = (
    "https://news.example.net/",
    "https://weather.example.org/",
    "https://recipes.example.com/",
)

_PERSONAS = ("consumer", "smb", "enterprise")
_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
)  # HubSpot
_PERSONA_WEIGHTS = (0.62, 0.26, 0.12)

# Support text. The app-crash lines are the story of the broken mobile checkout.
_APP_CRASH_TEXT = (
    "The app crashed when I tried to pay.",
    "The app crashed when I tried to pay, twice. Really frustrating.",
    "Checkout in the app freezes on the payment screen and then closes.",
    "Your app keeps crashing at checkout, I could not place my order.",
    "I tried to pay in the app three times and it failed every time. Terrible experience.",
    "App crashed at the payment step and now I am not sure if I was charged. Very annoying.",
)
_APP_CRASH_FOLLOWUP = (
    "Still broken. Very disappointed.",
    "This is ridiculous, the app crashed again.",
    "I gave up and I am not happy about it.",
)
_PAYMENT_FAIL_TEXT = (
    "My card was declined at checkout but it works everywhere else.",
    "Payment keeps failing on your website, what is going on?",
    "I got an error after entering my card details and the order did not go through.",
)
_WEB_CHECKOUT_TEXT = (
    "Is there a problem with card payments? The checkout did not finish.",
    "The checkout page timed out, can you check if my order exists?",
)
_PRESALE_TEXT = (
    "Do you offer volume discounts for 20 laptops?",
    "Can I get an invoice with our VAT number?",
    "Which monitor works best with a MacBook?",
    "Is the standing desk available in white?",
    "Can we pay by bank transfer for a business order?",
    "Do you have next day delivery to our office?",
)
_ORDER_ISSUE_TEXT = (
    "Where is my order? It has been a week and no update.",
    "The package arrived damaged, the screen is cracked.",
    "I received the wrong item, please help.",
    "How do I return the headphones? They do not fit well.",
    "The invoice shows the wrong company name.",
)
_ORDER_QUESTION_TEXT = (
    "How do I set up the warranty registration?",
    "Can I add a second user to our account?",
    "Thanks, the delivery was fast. How do I update my address for the next order?",
)
_AGENT_REPLIES = (
    "Thanks for reaching out. I have looked into this and will get back to you shortly.",
    "Sorry for the trouble. Could you send us your order number?",
    "Happy to help! I have updated your request.",
)
_AGENT_APP_REPLY = (
    "Sorry about that. Our engineers are looking into a problem with the app checkout. "
    "Could you try the website for now?"
)
_GOOD_RATING_TEXT = (
    "Quick and helpful, thank you!",
    "Great support, problem solved.",
    "Very friendly agent.",
)
_BAD_RATING_TEXT = (
    "Nobody solved my problem.",
    "Slow and unhelpful.",
    "Still broken, awful experience.",
)
_REVIEWS_GOOD = (
    "Love it, works great.",
    "Excellent build quality and fast delivery.",
    "Does exactly what I needed, would buy again.",
    "Great value for the price.",
)
_REVIEWS_BAD = ("Stopped working after a week.", "Disappointing, feels cheap.")

_PAGE_NAMES = {
    "home": "Home",
    "category": "Category",
    "product": "Product",
    "reviews": "Product Reviews",
    "pricing": "Pricing",
    "compare": "Compare",
    "search": "Search Results",
    "cart": "Cart",
    "checkout": "Checkout",
    "account": "Account",
    "help": "Help",
    "blog": "Blog",
}
_PAGE_TITLES = {k: f"{v} | Shop" for k, v in _PAGE_NAMES.items()}
_APP_SCREENS = frozenset(
    ("home", "category", "product", "reviews", "search", "cart", "checkout", "account", "help")
)
_WALK = {
    "home": (
        ("category", 4),
        ("search", 2),
        ("product", 2),
        ("blog", 1),
        ("pricing", 0.5),
        ("help", 0.3),
    ),
    "category": (("product", 6), ("category", 1), ("search", 1)),
    "search": (("product", 6), ("search", 1), ("category", 1)),
    "product": (
        ("product", 3),
        ("reviews", 2),
        ("category", 1.5),
        ("compare", 1),
        ("pricing", 0.5),
        ("search", 1),
    ),
    "reviews": (("product", 3), ("compare", 1)),
    "compare": (("product", 3), ("pricing", 1)),
    "pricing": (("compare", 1), ("product", 1), ("help", 0.5)),
    "blog": (("blog", 1), ("product", 2), ("category", 1), ("home", 0.5)),
    "help": (("help", 1), ("home", 1), ("account", 0.5)),
    "account": (("help", 1), ("home", 1)),
    "cart": (("product", 1), ("category", 1)),
    "checkout": (("home", 1),),
}
_WALK_CUM: dict[str, tuple[tuple[str, ...], list[float]]] = {}
for _state, _options in _WALK.items():
    _acc, _cum = 0.0, []
    for _, _w in _options:
        _acc += _w
        _cum.append(_acc)
    _WALK_CUM[_state] = (tuple(name for name, _ in _options), [c / _acc for c in _cum])

# Pre-encoded JSON fragments (the clickstream is assembled from text for speed).
_LIB_WEB = '{"name":"analytics.js","version":"2.11.1"}'
_LIB_IOS = '{"name":"analytics-ios","version":"4.1.8"}'
_LIB_ANDROID = '{"name":"analytics-android","version":"4.11.3"}'
_LIB_SERVER = '{"name":"analytics-python","version":"2.3.3"}'
_APP_CTX = '{"name":"Shop","version":"5.3.0","build":"530","namespace":"com.example.shop"}'
_USER_AGENTS = {
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Safari/605.1.15",
    ),
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0 Mobile Safari/537.36",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1",
    ),
}
_SITE = "https://shop.example.com"
_ORGANIC_SEARCH_REFERRER = "https://www.google.com/"

_encode_json = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False
).encode


def _cum_weights(weights) -> list[float]:
    total, acc, out = float(sum(weights)), 0.0, []
    for w in weights:
        acc += w
        out.append(acc / total)
    return out


_PERSONA_CUM = _cum_weights(_PERSONA_WEIGHTS)
_CHANNEL_CUM = {p: _cum_weights(w) for p, w in _CHANNEL_WEIGHTS.items()}
_TZ_CUM = _cum_weights([w for _, _, w in _TIMEZONES])
# Local hour of day a session starts: quiet at night, peaks at lunch and in the evening.
_HOUR_WEIGHTS = (1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 4, 4, 4, 5, 5, 4, 4, 4, 4, 5, 6, 7, 6, 4, 2)
_HOUR_CUM = _cum_weights(_HOUR_WEIGHTS)
_WORK_HOUR_CUM = _cum_weights([0] * 8 + [3, 5, 5, 4, 3, 4, 5, 5, 4, 3, 1] + [0] * 5)


def _pick(rng_random, seq, cum):
    return seq[bisect(cum, rng_random())]


class _Catalog:
    """Products drawn once per seed; identical in every worker."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"catalog:{seed}")
        self.by_category: list[list[dict]] = []
        n = 0
        for slug, low, high, _queries in _CATEGORIES:
            products = []
            for k in range(20):
                n += 1
                price = round(low + (high - low) * rng.random() ** 1.6, 0) - 0.01
                brand = _BRANDS[rng.randrange(len(_BRANDS))]
                product = {
                    "sku": f"SKU-{n:05d}",
                    "name": f"{brand} {_MODEL_WORDS[slug]} {k + 1}",
                    "brand": brand,
                    "category": slug,
                    "price": max(price, 4.99),
                }
                product["json"] = _encode_json(
                    {
                        "product_id": product["sku"],
                        "sku": product["sku"],
                        "name": product["name"],
                        "brand": brand,
                        "category": slug,
                        "price": product["price"],
                        "currency": "USD",
                    }
                )
                products.append(product)
            self.by_category.append(products)
        self.consumer_cum = _cum_weights(_CONSUMER_CATEGORY_WEIGHTS)
        self.business_cum = _cum_weights(_BUSINESS_CATEGORY_WEIGHTS)


# --------------------------------------------------------------------------------------
# Time formatting


class _Clock:
    """Formats epoch milliseconds; caches the text of epoch days and hours (bounded by the period)."""

    def __init__(self) -> None:
        self._dates: dict[int, str] = {}
        self._hours: dict[int, str] = {}

    def date_str(self, epoch_day: int) -> str:
        s = self._dates.get(epoch_day)
        if s is None:
            s = (date(1970, 1, 1) + timedelta(days=epoch_day)).isoformat()
            self._dates[epoch_day] = s
        return s

    def iso(self, t: int, offset_min: int, suffix: str) -> str:
        """ISO 8601 with milliseconds and the given offset suffix (`Z`, `+01:00` ...)."""
        hour, rem = divmod(t + offset_min * _MIN, _HOUR)
        prefix = self._hours.get(hour)
        if prefix is None:
            d, h = divmod(hour, 24)
            prefix = self._hours[hour] = f"{self.date_str(d)}T{h:02d}:"
        sec, ms = divmod(rem, _SEC)
        return f"{prefix}{_MMSS[sec]}.{_MILLIS[ms]}{suffix}"

    def iso_z(self, t: int) -> str:
        """ISO 8601 in UTC, whole seconds, `Z` (Zendesk style)."""
        d, rem = divmod(t, _DAY)
        h, rem = divmod(rem, _HOUR)
        return f"{self.date_str(d)}T{_HH[h]}:{_MMSS[rem // _SEC]}Z"

    def sql(self, t: int) -> str:
        """`%Y-%m-%d %H:%M:%S` in UTC (the CRM export format)."""
        d, rem = divmod(t, _DAY)
        h, rem = divmod(rem, _HOUR)
        return f"{self.date_str(d)} {_HH[h]}:{_MMSS[rem // _SEC]}"


_HH = tuple(f"{h:02d}" for h in range(24))
_MMSS = tuple(f"{s // 60:02d}:{s % 60:02d}" for s in range(3600))
_MILLIS = tuple(f"{ms:03d}" for ms in range(1000))


# --------------------------------------------------------------------------------------
# One customer


class _Device:
    """One browser, app install or shared computer, with its pre-encoded Segment context."""

    __slots__ = ("anon", "uid", "ids", "app", "type", "tail", "app_ctx")

    def __init__(self, anon: str, dtype: str, locale: str, ua: str = "") -> None:
        self.anon = anon
        self.uid: str | None = None
        self.type = dtype
        self.app = dtype in ("ios", "android")
        if dtype == "ios":
            device = '{"type":"ios","manufacturer":"Apple","model":"iPhone15,3"}'
            os_, lib = '{"name":"iOS","version":"18.3"}', _LIB_IOS
        else:
            device = '{"type":"android","manufacturer":"Google","model":"Pixel 8"}'
            os_, lib = '{"name":"Android","version":"15"}', _LIB_ANDROID
        self.app_ctx = (
            f'{{"app":{_APP_CTX},"device":{device},"os":{os_},"library":{lib},'
            f'"locale":"{locale}","network":{{"wifi":true}}}}'
        )
        # a web context is '{"page":{...}' + tail
        self.tail = f',"device":{{"type":"{dtype}"}},"library":{_LIB_WEB},"userAgent":"{ua}","locale":"{locale}"}}'
        # analytics.js sends "userId":null before identify; the mobile SDKs leave it out
        self.ids = (
            f'"anonymousId":"{anon}"' if self.app else f'"anonymousId":"{anon}","userId":null'
        )

    def login(self, user_id: str) -> None:
        self.uid = user_id
        self.ids = f'"anonymousId":"{self.anon}","userId":"{user_id}"'


class _Shared:
    """Everything a shard needs that is the same for every customer."""

    def __init__(self, seed: int, start: date, days: int, broken_share: float) -> None:
        self.seed = seed
        self.start_ms = (
            int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()) * 1000
        )
        self.days = days
        self.end_ms = self.start_ms + days * _DAY
        self.incident_lo = self.start_ms + INCIDENT_DAYS[0] * _DAY
        self.incident_hi = self.start_ms + (INCIDENT_DAYS[1] + 1) * _DAY
        self.broken_share = broken_share
        self.catalog = _Catalog(seed)
        self.clock = _Clock()
        self.seed_base = (seed & 0xFFFF_FFFF) << 48


def _track_head(name: str) -> str:
    return f'"type":"track","event":"{name}"'


_T_PRODUCT_VIEWED = _track_head("Product Viewed")
_T_LIST_VIEWED = _track_head("Product List Viewed")
_T_PROMO = _track_head("Promotion Clicked")
_T_CLICKED = _track_head("Product Clicked")
_T_SEARCHED = _track_head("Products Searched")
_T_ADDED = _track_head("Product Added")
_T_REMOVED = _track_head("Product Removed")
_T_CART = _track_head("Cart Viewed")
_T_COUPON = _track_head("Coupon Applied")
_T_CHECKOUT = _track_head("Checkout Started")
_T_STEP = _track_head("Checkout Step Viewed")
_T_PAYMENT = _track_head("Payment Info Entered")
_T_ORDER = _track_head("Order Completed")
_T_REVIEWED = _track_head("Product Reviewed")
_T_SHARED = _track_head("Product Shared")
_T_SIGNED_UP = _track_head("Signed Up")
_T_SIGNED_IN = _track_head("Signed In")
_PAGE_HEADS = {k: f'"type":"page","name":"{v}"' for k, v in _PAGE_NAMES.items()}
_SCREEN_HEADS = {k: f'"type":"screen","name":"{v}"' for k, v in _PAGE_NAMES.items()}
_PROMO_PROPS = '{"promotion_id":"spring_sale","creative":"hero_banner","name":"Spring Sale","position":"home_top"}'


class _Customer:
    """Simulates one customer's life into `records`: (utc ms, seq, output kind, payload).

    A payload is a JSON line (str) for clickstream and support, a tuple of CSV fields for
    CRM. Every decision draws from the customer's own RNG.
    """

    def __init__(self, g: _Shared, idx: int) -> None:
        self.g = g
        self.idx = idx
        self.rng = rng = random.Random(g.seed_base | (idx << 1))
        self.r = r = rng.random
        self.clock = g.clock
        self.iso = g.clock.iso
        self.records: list[tuple[int, int, int, object]] = []
        self.seq = 0
        self.last_t = 0
        h = f"{rng.getrandbits(92):023x}"  # + 8 hex digits of the record number = a UUID shape
        self.mid_base = f"{h[:8]}-{h[8:12]}-4{h[12:15]}-{h[15:19]}-{h[19:23]}"

        # Planted groups: in every block of 500 customers, 20 share one kiosk computer and
        # 20 (business) contacts share the role address info@<company>.
        block = idx // 500
        self.kiosk = idx % 25 == 11
        self.role = idx % 25 == 3

        persona = _pick(r, _PERSONAS, _PERSONA_CUM)
        if self.role and persona == "consumer":
            persona = "smb"
        self.persona = persona
        self.channel = "direct" if self.kiosk else _pick(r, _CHANNELS, _CHANNEL_CUM[persona])
        tz = _pick(r, _TIMEZONES, _TZ_CUM)
        self.tz_suffix, self.tz_offset = tz[0], tz[1]
        locale = _LOCALES[int(r() * len(_LOCALES))]

        self.first = _FIRST_NAMES[int(r() * len(_FIRST_NAMES))]
        self.last = _LAST_NAMES[int(r() * len(_LAST_NAMES))]
        local = f"{_ascii(self.first)}.{_ascii(self.last)}{idx}".lower()
        if persona == "consumer":
            self.company = None
            self.email = f"{local}@{_MAIL_DOMAINS[int(r() * len(_MAIL_DOMAINS))]}"
        elif self.role:
            self.company = _ROLE_COMPANIES[block % len(_ROLE_COMPANIES)]
            self.email = f"info@{self.company[2]}"
        else:
            self.company = _COMPANIES[int(r() * len(_COMPANIES))]
            self.email = f"{local}@{self.company[2]}"
        self.user_id = f"u{100000 + idx}"
        self.contact_id = str(5_000_000 + idx)
        self.requester_id = 360_000_000 + idx
        self.ticket_no = self.activity_no = self.order_no = 0
        self.contact_created = 0
        self.contact_row: list[str] = []
        self.lifecycle = ""
        self.identified = False
        self.last_order: tuple | None = None

        # Devices: a web browser; the app for some; the shared kiosk for the planted group.
        dr = r()
        if persona == "consumer":
            dtype = "mobile" if dr < 0.55 else "desktop" if dr < 0.9 else "tablet"
            app_share = 0.5
        elif persona == "smb":
            dtype = "desktop" if dr < 0.7 else "mobile" if dr < 0.95 else "tablet"
            app_share = 0.15
        else:
            dtype = "desktop" if dr < 0.85 else "mobile"
            app_share = 0.03
        uas = _USER_AGENTS[dtype]
        self.web = _Device(self._uuid(), dtype, locale, uas[int(r() * len(uas))])
        self.app = None
        if r() < app_share:
            self.app = _Device(self._uuid(), "ios" if r() < 0.55 else "android", locale)
        self.kiosk_dev = None
        if self.kiosk:
            h = f"{random.Random(f'kiosk:{g.seed}:{block}').getrandbits(128):032x}"
            self.kiosk_dev = _Device(
                f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}",
                "desktop",
                "en-US",
                _USER_AGENTS["desktop"][0],
            )

        cat_cum = g.catalog.consumer_cum if persona == "consumer" else g.catalog.business_cum
        self.fav = (bisect(cat_cum, r()), bisect(cat_cum, r()))
        # Who identifies (~70 %), who means to buy; referral visitors far more often (story c).
        id_p = (
            0.95
            if self.channel == "referral"
            else {"consumer": 0.55, "smb": 0.72, "enterprise": 0.9}[persona]
        )
        self.will_identify = self.kiosk or self.role or r() < id_p
        intent_p = {"consumer": 0.34, "smb": 0.30, "enterprise": 0.28}[persona]
        if self.channel == "referral":
            intent_p = 0.97
        self.intent = self.will_identify and r() < intent_p

    # ---- small helpers ------------------------------------------------------------

    def _uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"

    def _message_id(self) -> str:
        """A UUID-shaped Segment messageId: the customer's random prefix and the record number."""
        return f"{self.mid_base}{self.seq:08x}"

    def _emit(self, t: int, kind: int, payload: object) -> None:
        self.records.append((t, self.seq, kind, payload))
        self.seq += 1
        if t > self.last_t:
            self.last_t = t

    def _daytime(self, t: int, work: bool = False) -> int:
        """The first moment at or after `t` that falls in a drawn local hour of the day."""
        local = t + self.tz_offset * _MIN
        day0 = local - local % _DAY
        cand = (
            day0
            + bisect(_WORK_HOUR_CUM if work else _HOUR_CUM, self.r()) * _HOUR
            + int(self.r() * _HOUR)
        )
        if cand < local:
            cand += _DAY
        return cand - self.tz_offset * _MIN

    def _after_days(self, t: int, mean_days: float, work: bool = False) -> int:
        gap = min(self.rng.expovariate(1.0 / mean_days), 4 * mean_days)
        return self._daytime(t + int(gap * _DAY), work)

    def _product(self) -> dict:
        r = self.r
        cats = self.g.catalog.by_category
        c = int(r() * len(cats)) if r() < 0.25 else self.fav[int(r() * 2)]
        products = cats[c]
        return products[int(r() * len(products))]

    # ---- clickstream ----------------------------------------------------------------

    def _event(self, t: int, dev: _Device, head: str, ctx: str, props: str) -> None:
        """Appends one Segment call; the hot path, so it is written out by hand."""
        seq = self.seq
        self.records.append(
            (
                t,
                seq,
                _EVENTS,
                f'{{"messageId":"{self.mid_base}{seq:08x}",{head},{dev.ids},'
                f'"timestamp":"{self.iso(t, self.tz_offset, self.tz_suffix)}",'
                f'"context":{ctx},"properties":{props}}}',
            )
        )
        self.seq = seq + 1
        if t > self.last_t:
            self.last_t = t

    def _view(
        self,
        t: int,
        dev: _Device,
        ptype: str,
        arg,
        referrer: str,
        campaign: str = "",
        query: str = "",
    ) -> tuple[str, str]:
        """A page (web) or screen (app) view. Returns the page: (url, context for tracks)."""
        if ptype == "product" or ptype == "reviews":
            inner = f'"sku":"{arg["sku"]}","category":"{arg["category"]}",'
            path = f"/p/{arg['sku']}/reviews" if ptype == "reviews" else f"/p/{arg['sku']}"
        elif ptype == "category":
            inner, path = f'"category":"{arg}",', f"/c/{arg}"
        elif ptype == "search":
            inner, path = f'"query":"{arg}",', "/search"
        elif ptype == "help":
            inner, path = f'"topic":"{arg}",', f"/help/{arg}"
        elif ptype == "blog":
            inner, path = f'"slug":"{arg}",', f"/blog/{arg}"
        elif ptype == "home":
            inner, path = "", "/"
        else:
            inner, path = "", f"/{ptype}"
        if dev.app:
            self._event(t, dev, _SCREEN_HEADS[ptype], dev.app_ctx, "{" + inner[:-1] + "}")
            return "", dev.app_ctx
        search = "?q=" + arg.replace(" ", "+") if ptype == "search" else query
        url = f"{_SITE}{path}{search}"
        title = _PAGE_TITLES[ptype]
        page = (
            f'{{"page":{{"path":"{path}","referrer":"{referrer}","search":"{search}",'
            f'"title":"{title}","url":"{url}"}}'
        )
        ctx = page + dev.tail
        props = f'{{{inner}"path":"{path}","referrer":"{referrer}","search":"{search}","title":"{title}","url":"{url}"}}'
        self._event(
            t, dev, _PAGE_HEADS[ptype], page + campaign + dev.tail if campaign else ctx, props
        )
        return url, ctx

    def _track(self, t: int, dev: _Device, head: str, props: str, page: tuple[str, str]) -> None:
        self._event(t, dev, head, page[1], props)

    def _landing(
        self, t: int, dev: _Device, channel: str, campaign_name: str = ""
    ) -> tuple[str, object, tuple]:
        """The first page of a session that arrives through `channel` (utm, referrer)."""
        r = self.r
        referrer = campaign = query = ""
        if channel in _MEDIUM:
            sources, names = _CAMPAIGNS[channel]
            src = sources[int(r() * len(sources))]
            name = campaign_name or names[int(r() * len(names))]
            medium = _MEDIUM[channel]
            campaign = f',"campaign":{{"source":"{src}","medium":"{medium}","name":"{name}"'
            query = f"?utm_source={src}&utm_medium={medium}&utm_campaign={name}"
            if channel == "paid_search":
                term = _CATEGORIES[self.fav[0]][3][0]
                campaign += f',"term":"{term}"'
                query += "&utm_term=" + term.replace(" ", "+")
                referrer = "https://www.google.com/" if src == "google" else "https://www.bing.com/"
            elif channel == "paid_social":
                content = "video_15s" if r() < 0.5 else "carousel"
                campaign += f',"content":"{content}"'
                query += f"&utm_content={content}"
                referrer = _SOCIAL_REFERRERS[src]
            elif channel == "display":
                referrer = _DISPLAY_REFERRERS[int(r() * len(_DISPLAY_REFERRERS))]
            campaign += "}"
        elif channel == "organic_search":
            referrer = _ORGANIC_SEARCH_REFERRER
        elif channel == "organic_social":
            referrer = _ORGANIC_SOCIAL_REFERRERS[int(r() * len(_ORGANIC_SOCIAL_REFERRERS))]
        elif channel == "referral":
            referrer = _REFERRAL_SITES[int(r() * len(_REFERRAL_SITES))]

        x = r()
        arg = None
        if channel in ("organic_search", "organic_social") and x < 0.45:
            ptype, arg = "blog", _BLOG_SLUGS[int(r() * len(_BLOG_SLUGS))]
        elif channel == "referral" and x < 0.3:
            ptype, arg = "reviews", self._product()
        elif channel == "referral" and x < 0.45:
            ptype = "compare"
        elif (channel == "direct" and x < 0.6) or (channel == "display" and x < 0.5):
            ptype = "home"
        elif self.persona == "enterprise" and x < 0.35:
            ptype = "pricing"
        elif x < 0.7:
            ptype, arg = "product", self._product()
        else:
            ptype, arg = "category", _CATEGORIES[self.fav[0]][0]
        page = self._view(t, dev, ptype, arg, referrer, campaign, query)
        self._after_view(t, dev, ptype, arg, page)
        return ptype, arg, page

    def _after_view(self, t: int, dev: _Device, ptype: str, arg, page: tuple[str, str]) -> None:
        """The track calls that come with a view."""
        if ptype == "product":
            self._track(t + 700, dev, _T_PRODUCT_VIEWED, arg["json"], page)
        elif ptype == "category":
            self._track(
                t + 600, dev, _T_LIST_VIEWED, f'{{"list_id":"{arg}","category":"{arg}"}}', page
            )
        elif ptype == "home" and self.r() < 0.12:
            self._track(t + 9_000, dev, _T_PROMO, _PROMO_PROPS, page)

    def _browse(
        self, t: int, dev: _Device, n_pages: int, state: str, page: tuple, arg=None
    ) -> tuple[int, str, object, tuple]:
        """A random walk over the shop's pages; returns the end time and the last view."""
        r = self.r
        expo = self.rng.expovariate
        for _ in range(n_pages):
            t += 3_000 + int(min(expo(1 / 40_000), 600_000))
            names, cum = _WALK_CUM[state]
            nxt = names[bisect(cum, r())]
            if dev.app and nxt not in _APP_SCREENS:
                nxt = "product"
            if nxt == "product":
                p = self._product()
                if state == "category" or state == "search":
                    self._track(
                        t - 1_500,
                        dev,
                        _T_CLICKED,
                        f'{{"product_id":"{p["sku"]}","sku":"{p["sku"]}","category":"{p["category"]}",'
                        f'"position":{1 + int(r() * 12)}}}',
                        page,
                    )
                arg = p
            elif nxt == "reviews":
                arg = arg if isinstance(arg, dict) else self._product()
            elif nxt == "category":
                arg = _CATEGORIES[self.fav[0] if r() < 0.6 else int(r() * len(_CATEGORIES))][0]
            elif nxt == "search":
                queries = _CATEGORIES[self.fav[int(r() * 2)]][3]
                arg = queries[int(r() * len(queries))]
                self._track(t - 2_000, dev, _T_SEARCHED, f'{{"query":"{arg}"}}', page)
            elif nxt == "help":
                arg = _HELP_TOPICS[int(r() * len(_HELP_TOPICS))]
            elif nxt == "blog":
                arg = _BLOG_SLUGS[int(r() * len(_BLOG_SLUGS))]
            else:
                arg = None
            page = self._view(t, dev, nxt, arg, page[0])
            self._after_view(t, dev, nxt, arg, page)
            state = nxt
        return t, state, arg, page

    def _identify(self, t: int, dev: _Device, signup: bool, page: tuple | None = None) -> int:
        """identify + Signed Up / Signed In on `dev`; the first one also creates the CRM contact."""
        dev.login(self.user_id)
        email = self.email
        if self.r() < 0.1:
            email = email.capitalize()
        traits = {"email": email, "first_name": self.first, "last_name": self.last}
        if self.company is not None:
            traits["company"] = self.company[0]
        if page is None:
            page = ("", dev.app_ctx) if dev.app else self._view(t - 5_000, dev, "account", None, "")
        self._emit(
            t,
            _EVENTS,
            f'{{"messageId":"{self._message_id()}","type":"identify","anonymousId":"{dev.anon}",'
            f'"userId":"{dev.uid}","timestamp":"{self.clock.iso(t, self.tz_offset, self.tz_suffix)}",'
            f'"context":{page[1]},"traits":{_encode_json(traits)}}}',
        )
        method = "email" if self.r() < 0.7 else "google"
        self._track(
            t + 300, dev, _T_SIGNED_UP if signup else _T_SIGNED_IN, f'{{"method":"{method}"}}', page
        )
        if not self.identified:
            self.identified = True
            self._create_contact(t + 60_000 + int(self.r() * 25 * _MIN))
        return t + 1_000

    # ---- CRM ---------------------------------------------------------------------------

    def _crm_email(self) -> str:
        """The email as a CRM export has it: now and then with odd case or whitespace."""
        e = self.email
        x = self.r()
        if x < 0.04:
            return f" {e}"
        if x < 0.08:
            local, _, domain = e.partition("@")
            return f"{local.title()}@{domain.capitalize()}"
        if x < 0.1:
            return e.upper() + " "
        return e

    def _create_contact(self, t: int) -> None:
        self.contact_created = t
        persona = self.persona
        if self.company is None:
            company = industry = size = ""
            stage = "subscriber" if self.r() < 0.5 else "lead"
        else:
            company, industry = self.company[0], self.company[1]
            sizes = (
                ("1-10", "11-50", "51-200", "201-1000")
                if persona == "smb"
                else ("201-1000", "1001-5000", "5001-10000", "10000+")
            )
            size = sizes[int(self.r() * len(sizes))]
            stage = "lead"
        self.contact_row = [
            self.contact_id,
            self._crm_email(),
            company,
            industry,
            size,
            persona,
            stage,
            self.clock.sql(t),
        ]
        self.lifecycle = stage
        self._emit(t, _CONTACTS, _csv_line(self.contact_row))
        self._activity(t + 1_000, "lead_created", "web")

    def _stage(self, t: int, stage: str) -> None:
        """A contacts.csv row that moves the contact on to a later `stage` (same contact_id)."""
        if not self.contact_row or _STAGES.index(stage) <= _STAGES.index(self.lifecycle):
            return
        self.lifecycle = stage
        row = list(self.contact_row)
        row[1] = self._crm_email()
        row[6] = stage
        self._emit(t, _CONTACTS, _csv_line(row))

    def _activity(self, t: int, activity: str, channel: str, amount: float | None = None) -> None:
        self.activity_no += 1
        aid = str((5_000_000 + self.idx) * 1000 + self.activity_no)
        self._emit(
            t,
            _ACTIVITIES,
            _csv_line(
                (
                    aid,
                    self.contact_id,
                    self._crm_email(),
                    activity,
                    self.clock.sql(t),
                    channel,
                    "" if amount is None else f"{amount:.2f}",
                )
            ),
        )

    # ---- support -----------------------------------------------------------------------

    def _ticket(
        self,
        t: int,
        channel: str,
        subject: str,
        body: str,
        tags: list[str],
        mood: int,
        followup: str | None = None,
        agent_reply: str | None = None,
    ) -> None:
        """A Zendesk ticket: created, agent comment, pending, maybe a reply, solved, maybe rated.

        `mood` is 1 for a happy customer, 0 for a neutral one, -1 for an angry one.
        """
        if self.ticket_no >= 9:
            return
        self.ticket_no += 1
        ticket_id = 100_000 + self.idx * 10 + self.ticket_no
        r = self.r
        iso_z = self.clock.iso_z
        requester = {
            "id": self.requester_id,
            "email": self.email if r() > 0.08 else self.email.upper(),
        }
        via = {"channel": channel}
        n = 0

        def event(tt: int, etype: str, **extra) -> None:
            nonlocal n
            n += 1
            ev = {
                "id": ticket_id * 100 + n,
                "ticket_id": ticket_id,
                "type": etype,
                "created_at": iso_z(tt),
                "requester": requester,
                "via": via,
                **extra,
                "tags": tags,
            }
            self._emit(tt, _TICKETS, _encode_json(ev))

        event(
            t,
            "ticket_created",
            subject=subject,
            status="new",
            priority="high" if mood < 0 else "normal",
            comment={"body": body, "public": True, "author": "requester"},
        )
        t += int((0.2 + r() * 6) * _HOUR)
        event(
            t,
            "comment",
            comment={
                "body": agent_reply or _AGENT_REPLIES[int(r() * len(_AGENT_REPLIES))],
                "public": True,
                "author": "agent",
            },
        )
        event(t + 2_000, "status_changed", status="pending", previous_status="open")
        if followup is not None:
            t += int((0.3 + r() * 4) * _HOUR)
            event(t, "comment", comment={"body": followup, "public": True, "author": "requester"})
        t += int((1 + r() * 30) * _HOUR)
        event(t, "status_changed", status="solved", previous_status="pending")
        if r() < (0.85 if mood < 0 else 0.55):
            t += int((0.5 + r() * 20) * _HOUR)
            if mood < 0:
                good, csat = False, 1 + int(r() * 2)
            elif mood > 0:
                good, csat = r() < 0.9, 4 + int(r() * 2)
            else:
                good, csat = r() < 0.6, 2 + int(r() * 4)
            if r() < 0.5:
                text = (_GOOD_RATING_TEXT if good else _BAD_RATING_TEXT)[int(r() * 3)]
                event(
                    t,
                    "satisfaction_rated",
                    satisfaction={"score": "good" if good else "bad", "comment": text},
                )
            else:
                event(t, "satisfaction_rated", csat=csat)

    def _support_channel(self) -> str:
        x = self.r()
        if self.persona == "enterprise":
            return "email" if x < 0.6 else "voice" if x < 0.9 else "web"
        if self.persona == "smb":
            return "chat" if x < 0.5 else "email" if x < 0.8 else "web"
        return (
            "chat"
            if x < 0.35
            else "whatsapp"
            if x < 0.6
            else "email"
            if x < 0.8
            else "web"
            if x < 0.9
            else "voice"
        )

    # ---- buying ------------------------------------------------------------------------

    def _checkout(self, t: int, dev: _Device, page: tuple) -> tuple[int, bool]:
        """Product Added ... Order Completed, or an abandonment. Returns (end time, completed)."""
        r = self.r
        persona = self.persona
        self.order_no += 1
        n = self.order_no
        cart_id = f"cart-{self.idx}-{n}"
        items = []
        for _ in range(1 + int(r() * (2 if persona == "consumer" else 3))):
            p = self._product()
            q = 1 if persona == "consumer" else 1 + int(r() * (4 if persona == "smb" else 10))
            t += 5_000 + int(min(self.rng.expovariate(1 / 30_000), 300_000))
            page = self._view(t, dev, "product", p, page[0])
            self._after_view(t, dev, "product", p, page)
            t += 4_000 + int(r() * 40_000)
            self._track(
                t,
                dev,
                _T_ADDED,
                f'{{"cart_id":"{cart_id}",{p["json"][1:-1]},"quantity":{q}}}',
                page,
            )
            items.append((p, q))
        value = round(sum(p["price"] * q for p, q in items), 2)
        products = ",".join(
            f'{{"product_id":"{p["sku"]}","sku":"{p["sku"]}","price":{p["price"]},"quantity":{q}}}'
            for p, q in items
        )
        t += 3_000 + int(r() * 20_000)
        page = self._view(t, dev, "cart", None, page[0])
        self._track(
            t + 500, dev, _T_CART, f'{{"cart_id":"{cart_id}","products":[{products}]}}', page
        )
        coupon = ""
        if r() < 0.15:
            coupon = ',"coupon":"SPRING10"'
            self._track(
                t + 8_000,
                dev,
                _T_COUPON,
                f'{{"cart_id":"{cart_id}","coupon_id":"SPRING10",'
                f'"coupon_name":"Spring 10% off","discount":{round(value * 0.1, 2)}}}',
                page,
            )
            value = round(value * 0.9, 2)
        t += 10_000 + int(r() * 20_000)
        if dev.uid is None:
            t = self._identify(t, dev, signup=not self.identified, page=page)
        order_id = f"ORD-{(self.idx + 1) * 100 + n}"
        checkout = f'"checkout_id":"chk-{self.idx}-{n}","order_id":"{order_id}"'
        page = self._view(t, dev, "checkout", None, page[0])
        self._track(
            t + 500,
            dev,
            _T_CHECKOUT,
            f'{{{checkout},"value":{value},"currency":"USD","products":[{products}]}}',
            page,
        )
        t += 20_000 + int(r() * 60_000)
        self._track(t, dev, _T_STEP, f'{{{checkout},"step":1,"shipping_method":"standard"}}', page)
        app = dev.app
        # Story a: the app loses half its checkouts (web: ~15 %).
        if r() >= (0.75 if app else 0.96):
            self._after_abandon(t, dev, False)
            return t, False
        t += 30_000 + int(r() * 90_000)
        method = "card" if r() < 0.7 else "paypal"
        self._track(
            t, dev, _T_PAYMENT, f'{{{checkout},"step":2,"payment_method":"{method}"}}', page
        )
        p_complete = 0.70 if app else 0.96
        incident = self.g.incident_lo <= t < self.g.incident_hi
        if incident:  # story b: payment -> order conversion halved
            p_complete *= 0.5
        if r() >= p_complete:
            self._after_abandon(t, dev, incident)
            return t, False
        t += 4_000 + int(r() * 15_000)
        shipping = 0.0 if value > 50 else 4.99
        tax = round(value * 0.08, 2)
        self._track(
            t,
            dev,
            _T_ORDER,
            f'{{{checkout},"revenue":{value},"total":{round(value + shipping + tax, 2)},'
            f'"shipping":{shipping},"tax":{tax},"currency":"USD"{coupon},"products":[{products}]}}',
            page,
        )
        self._stage(t + 5 * _MIN, "customer")
        self.last_order = (order_id, value, items[0][0])
        return t, True

    def _after_abandon(self, t: int, dev: _Device, incident: bool) -> None:
        """Story a: half the app abandoners write to support within a day, angry."""
        r = self.r
        if dev.app:
            if r() < 0.5:
                tt = t + int((0.3 + r() * 20) * _HOUR)
                body = _APP_CRASH_TEXT[int(r() * len(_APP_CRASH_TEXT))]
                follow = (
                    _APP_CRASH_FOLLOWUP[int(r() * len(_APP_CRASH_FOLLOWUP))] if r() < 0.6 else None
                )
                self._ticket(
                    tt,
                    ("chat", "email", "whatsapp")[int(r() * 3)],
                    "App crashed at checkout",
                    body,
                    ["mobile_app", "checkout", "crash", dev.type],
                    -1,
                    follow,
                    _AGENT_APP_REPLY,
                )
        elif incident and r() < 0.15:
            self._ticket(
                t + int((0.3 + r() * 20) * _HOUR),
                self._support_channel(),
                "Payment failed",
                _PAYMENT_FAIL_TEXT[int(r() * len(_PAYMENT_FAIL_TEXT))],
                ["checkout", "payment"],
                -1,
            )
        elif r() < 0.05:
            self._ticket(
                t + int((0.5 + r() * 20) * _HOUR),
                self._support_channel(),
                "Checkout question",
                _WEB_CHECKOUT_TEXT[int(r() * len(_WEB_CHECKOUT_TEXT))],
                ["checkout"],
                0,
            )

    def _buy_online(self, t: int) -> tuple[int, bool]:
        """A buying session (app for most app users, else web); one retry on the web."""
        r = self.r
        dev = self.app if self.app is not None and r() < 0.85 else self.web
        if dev.app or r() < 0.5:
            page = self._view(t, dev, "home", None, "")
        else:
            page = self._view(t, dev, "category", _CATEGORIES[self.fav[0]][0], "")
        t, done = self._checkout(t + 20_000, dev, page)
        if done:
            return t, True
        if r() < (0.35 if dev.app else 0.25):
            t = self._daytime(t + int(r() * 2 * _DAY))
            page = self._view(t, self.web, "cart", None, "")
            return self._checkout(t + 10_000, self.web, page)
        return t, False

    def _buy_in_store(self, t: int) -> tuple[int, bool]:
        t = self._daytime(t, work=True)
        self._activity(t, "store_visit", "store")
        if self.r() < 0.85:
            p = self._product()
            amount = round(p["price"] * (1 + int(self.r() * 2)), 2)
            t += int((5 + self.r() * 40) * _MIN)
            self._activity(t, "store_purchase", "store", amount)
            self._stage(t + 10 * _MIN, "customer")
            self.last_order = (None, amount, p)
            return t, True
        return t, False

    def _sales_cycle(self, t: int, win: bool) -> tuple[int, bool]:
        """Call, meeting, demo, quote; then deal_won or deal_lost."""
        r = self.r
        enterprise = self.persona == "enterprise"
        t = self._after_days(t, 1.5, work=True)
        self._activity(t, "call", "phone")
        self._stage(t + _HOUR, "marketingqualifiedlead")
        if enterprise or r() < 0.5:
            t = self._after_days(t, 3, work=True)
            self._activity(t, "meeting", "in_person" if r() < 0.5 else "phone")
        if enterprise or r() < 0.4:
            t = self._after_days(t, 3, work=True)
            self._activity(t, "demo", "web")
            self._stage(t + _HOUR, "opportunity")
            tt = self._after_days(t, 1.5)  # research on the web between demo and quote
            dev = self.web
            page = self._view(tt, dev, "pricing", None, "")
            self._browse(tt, dev, 2 + int(r() * 4), "pricing", page)
        if not win and r() < 0.4:
            t = self._after_days(t, 6, work=True)
            self._activity(t, "deal_lost", "phone")
            return t, False
        t = self._after_days(t, 3, work=True)
        self._activity(t, "quote_sent", "email")
        if enterprise and r() < 0.3:
            self._ticket(
                self._after_days(t, 1.5, work=True),
                self._support_channel(),
                "Question about the quote",
                _PRESALE_TEXT[int(r() * len(_PRESALE_TEXT))],
                ["presale", "b2b"],
                0,
            )
        t = self._after_days(t, 5 if enterprise else 3, work=True)
        if win:
            amount = (
                round(20_000 + 230_000 * r() ** 2.5, 2)
                if enterprise
                else round(2_000 + 18_000 * r() ** 2, 2)
            )
            self._activity(t, "deal_won", "phone" if r() < 0.6 else "in_person", amount)
            self._stage(t + _HOUR, "customer")
            self.last_order = (None, amount, self._product())
            return t, True
        self._activity(t, "deal_lost", "phone")
        return t, False

    # ---- a life --------------------------------------------------------------------------

    def simulate(self) -> None:
        g = self.g
        r = self.r
        persona = self.persona
        # Arrivals are spread over the period, with a spring campaign bringing more on days 14-24.
        arrival = 14 + r() * 10 if g.days >= 30 and r() < 0.3 else r() * g.days
        t = self._daytime(g.start_ms + int(arrival * _DAY) - 12 * _HOUR)
        if t < g.start_ms:
            t += _DAY

        # Journey 1: awareness, interest, comparison; maybe a purchase.
        if self.will_identify:
            n_sessions = {
                "consumer": 2 + int(r() * 3),
                "smb": 2 + int(r() * 4),
                "enterprise": 3 + int(r() * 5),
            }[persona]
        else:
            n_sessions = 1 + int(r() * 3)
        sign_at = (
            int(r() * n_sessions) if self.will_identify and (not self.intent or r() < 0.5) else -1
        )
        if self.kiosk:
            sign_at = 0
        gap_mean = {"consumer": 1.5, "smb": 2.5, "enterprise": 3.0}[persona]
        pages_mean = {"consumer": 3.0, "smb": 4.0, "enterprise": 4.0}[persona]
        for s in range(n_sessions):
            if s == 0:
                dev = self.kiosk_dev or self.web
                ptype, arg, page = self._landing(t, dev, self.channel)
            else:
                dev = self.app if self.app is not None and r() < 0.6 else self.web
                ptype = "home" if r() < 0.4 else "product"
                arg = self._product() if ptype == "product" else None
                page = self._view(t, dev, ptype, arg, "")
                self._after_view(t, dev, ptype, arg, page)
                if persona != "consumer" and not dev.app and r() < 0.5:
                    ptype = "pricing" if r() < 0.5 else "compare"
            n_pages = min(int(self.rng.expovariate(1 / pages_mean)), 12)
            t, ptype, arg, page = self._browse(t, dev, n_pages, ptype, page, arg)
            if s == sign_at:
                t = self._identify(t + 20_000, dev, signup=True, page=page)
            elif self.identified and dev.uid is None and r() < 0.7:
                t = self._identify(t + 20_000, dev, signup=False, page=page)
            if not self.intent and self.will_identify and not dev.app and r() < 0.12:
                # puts something in the cart and takes it out again
                p = self._product()
                t += 15_000
                props = f'{{"cart_id":"cart-{self.idx}-x{s}",{p["json"][1:-1]},"quantity":1}}'
                self._track(t, dev, _T_ADDED, props, page)
                if r() < 0.6:
                    t += 40_000
                    self._track(t, dev, _T_REMOVED, props, page)
            if persona == "smb" and self.identified and s == n_sessions - 1 and r() < 0.2:
                self._ticket(
                    t + int(r() * 3 * _HOUR),
                    self._support_channel(),
                    "Question before ordering",
                    _PRESALE_TEXT[int(r() * len(_PRESALE_TEXT))],
                    ["presale"],
                    1,
                )
            if s < n_sessions - 1:
                t = self._after_days(t, gap_mean)
        if self.will_identify and not self.identified:
            t = self._identify(self._after_days(t, 1), self.web, signup=True)

        converted = False
        if self.identified:
            if persona == "enterprise" or (persona == "smb" and r() < 0.4):
                t, converted = self._sales_cycle(t, self.intent)
            elif self.intent:
                t = self._after_days(t, gap_mean)
                if persona == "consumer" and r() < 0.1:
                    t, converted = self._buy_in_store(t)
                else:
                    t, converted = self._buy_online(t)
            elif persona == "consumer" and r() < 0.05:  # visits a store, only looks
                self._activity(self._after_days(t, 3, work=True), "store_visit", "store")

        # Later journeys: usage, loyalty, advocacy; or a comeback after a long silence.
        journeys = 0
        while self.identified and journeys < 4:
            if converted:
                if r() >= 0.8:
                    break
                long_gap = r() < 0.2
            else:
                if r() >= 0.15:
                    break
                long_gap = True
            journeys += 1
            if long_gap:  # inactive for more than 30 days
                t = self._after_days(t + (31 + int(r() * 15)) * _DAY, 1)
            else:
                t = self._after_days(t, 6)
            if t >= g.end_ms:
                break
            if converted:
                t, converted = self._post_purchase(t)
            else:
                page = self._view(t, self.web, "home", None, "")
                t, *_ = self._browse(t, self.web, 1 + int(r() * 4), "home", page)
                if self.intent and r() < 0.5:
                    t, converted = self._buy_online(self._after_days(t, 1))
            t = max(t, self.last_t)

        if self.identified:
            self._marketing_email()

    def _post_purchase(self, t: int) -> tuple[int, bool]:
        """Account, help, reviews, sharing, support; maybe a repeat purchase."""
        r = self.r
        persona = self.persona
        order_id, value, product = self.last_order or (None, 0.0, self._product())
        dev = self.app if self.app is not None and r() < 0.5 else self.web
        page = ("", dev.app_ctx) if dev.app else ("", "")
        if dev.uid is None:
            t = self._identify(t, dev, signup=False)
        page = self._view(t, dev, "account", None, page[0])
        t += 20_000 + int(r() * 60_000)
        if r() < 0.5:
            page = self._view(t, dev, "help", _HELP_TOPICS[int(r() * len(_HELP_TOPICS))], page[0])
            t += 20_000 + int(r() * 60_000)
        if r() < 0.15:
            mood = -1 if r() < 0.5 else 0
            text = _ORDER_ISSUE_TEXT if mood < 0 else _ORDER_QUESTION_TEXT
            self._ticket(
                t + int(r() * 5 * _HOUR),
                self._support_channel(),
                "Order help",
                text[int(r() * len(text))],
                ["order"],
                mood,
            )
        if order_id is not None and r() < 0.04:
            # sent by the shop's backend: userId only, no anonymousId, no page
            tr = t + int(r() * 3 * _DAY)
            self._emit(
                tr,
                _EVENTS,
                f'{{"messageId":"{self._message_id()}","type":"track","event":"Order Refunded",'
                f'"userId":"{self.user_id}","timestamp":"{self.clock.iso_z(tr)}",'
                f'"context":{{"library":{_LIB_SERVER}}},'
                f'"properties":{{"order_id":"{order_id}","total":{value},"currency":"USD"}}}}',
            )
        if r() < 0.35:
            page = self._view(t, dev, "reviews", product, page[0])
            good = r() < 0.85
            body = (_REVIEWS_GOOD if good else _REVIEWS_BAD)[int(r() * 2)]
            rating = 4 + int(r() * 2) if good else 1 + int(r() * 2)
            self._track(
                t + 60_000,
                dev,
                _T_REVIEWED,
                f'{{"product_id":"{product["sku"]}","sku":"{product["sku"]}",'
                f'"review_id":"rev-{self.idx}-{self.seq}","review_body":"{body}","rating":{rating}}}',
                page,
            )
            t += 90_000
            if good and r() < 0.45:
                via = ("email", "whatsapp", "twitter", "facebook")[int(r() * 4)]
                self._track(
                    t,
                    dev,
                    _T_SHARED,
                    f'{{"product_id":"{product["sku"]}","sku":"{product["sku"]}",'
                    f'"share_via":"{via}"}}',
                    page,
                )
                self._stage(t + _HOUR, "evangelist")
        if persona == "enterprise":
            if r() < 0.25:
                return self._sales_cycle(t, r() < 0.6)
            return t, False
        if r() < 0.7:  # buys again
            t = self._after_days(t, 4)
            if persona == "consumer" and r() < 0.1:
                return self._buy_in_store(t)
            return self._buy_online(t)
        return t, False

    def _marketing_email(self) -> None:
        """Newsletters from contact creation until ~2 weeks after the last activity."""
        r = self.r
        t = self.contact_created
        stop = min(self.last_t + 14 * _DAY, self.g.end_ms)
        for _ in range(8):
            t = self._after_days(t + 3 * _DAY, 3.5, work=True)
            if t >= stop:
                break
            self._activity(t, "email_sent", "email")
            if r() < 0.45:
                to = t + int(r() * 30 * _HOUR)
                self._activity(to, "email_opened", "email")
                if r() < 0.3:
                    tc = to + int(r() * 10 * _MIN) + 5_000
                    self._activity(tc, "email_clicked", "email")
                    dev = self.web
                    if dev.uid is None:  # the link carries the user's id
                        dev.login(self.user_id)
                    ptype, arg, page = self._landing(tc + 3_000, dev, "email", "newsletter_weekly")
                    self._browse(
                        tc + 3_000, dev, int(self.rng.expovariate(1 / 2)), ptype, page, arg
                    )


# --------------------------------------------------------------------------------------
# Writing


def _csv_field(value: str) -> str:
    if "," in value or '"' in value or "\n" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_line(fields) -> str:
    return ",".join(map(_csv_field, fields))


def _oversized_text() -> str:
    sentence = "This is a very long comment that someone pasted by mistake, including a log dump. "
    return sentence * (1_200_000 // len(sentence) + 1)


def _with_invalid_utf8(line: str, at: int) -> str:
    """`line` with bytes that are not UTF-8 inserted at `at` (kept as surrogate escapes)."""
    return line[:at] + b"\xff\xfe\xc3\x28".decode("utf-8", "surrogateescape") + line[at:]


def _break(kind: int, payload: str, broken: str, pick: int) -> str | None:
    """A broken variant of one record, or None for `empty_line` (written before the record)."""
    if broken == "empty_line":
        return None
    if kind in (_EVENTS, _TICKETS):
        if broken == "not_json":
            return payload[: max(10, len(payload) // 2)]  # cut off mid-record
        ev = json.loads(payload)
        id_key, ts_key = ("messageId", "timestamp") if kind == _EVENTS else ("id", "created_at")
        if broken == "missing_id":
            del ev[id_key]
        elif broken == "missing_timestamp":
            del ev[ts_key]
        elif broken == "unparseable_timestamp":
            ev[ts_key] = _BAD_TIMESTAMPS[pick % len(_BAD_TIMESTAMPS)]
        elif broken == "timestamp_before_2000":
            ev[ts_key] = ("1970", "1999", "1900")[pick % 3] + ev[ts_key][4:]
        elif broken == "timestamp_in_future":
            ev[ts_key] = "2099" + ev[ts_key][4:]
        elif broken == "no_identifier":
            if kind == _EVENTS:
                for key in ("anonymousId", "userId", "traits"):
                    ev.pop(key, None)
            else:
                del ev["requester"]
        elif broken == "wrong_type":
            ev["csat"] = ("great", "five", "N/A")[pick % 3]
        elif broken == "oversized":
            if kind == _EVENTS:
                ev["properties"] = dict(ev.get("properties") or {}, note=_oversized_text())
            else:
                ev["comment"] = {"body": _oversized_text(), "public": True, "author": "requester"}
        line = _encode_json(ev)
        if broken == "invalid_utf8":
            pos = line.find('":"', len(line) // 3)
            line = _with_invalid_utf8(line, pos + 3 if pos > 0 else len(line) // 2)
        return line
    row = next(csv.reader([payload]))
    ts_col = 4 if kind == _ACTIVITIES else 7
    if broken == "wrong_field_count":
        row = row[:-1] if pick % 2 else [*row, "extra"]
    elif broken == "missing_id":
        row[0] = ""
    elif broken == "missing_timestamp":
        row[ts_col] = ""
    elif broken == "unparseable_timestamp":
        row[ts_col] = ("03/15/2025 25:61", "yesterday", "2025-02-30 10:00:00")[pick % 3]
    elif broken == "timestamp_before_2000":
        row[ts_col] = ("1970", "1999", "1900")[pick % 3] + row[ts_col][4:]
    elif broken == "timestamp_in_future":
        row[ts_col] = "2099" + row[ts_col][4:]
    elif broken == "no_identifier":  # neither contact_id nor email
        row[0 if kind == _CONTACTS else 1] = ""
        row[2 if kind == _ACTIVITIES else 1] = ""
    elif broken == "wrong_type":
        row[6] = ("twelve", "1.234,50 EUR", "lots")[pick % 3]
    line = _csv_line(row)
    if broken == "invalid_utf8":
        at = line.find("@")
        line = _with_invalid_utf8(line, at if at > 0 else len(line) // 2)
    return line


class _ShardWriter:
    """Appends lines to the per-(kind, landing day) files of one shard; a bounded set stays open."""

    MAX_OPEN = 512

    def __init__(self, out: Path, parts: Path, shard: int, g: _Shared) -> None:
        self.out = out
        self.parts = parts
        self.shard = shard
        self.g = g
        self.handles: OrderedDict[int, BinaryIO] = OrderedDict()
        self.created: set[int] = set()
        self.kind_counts = [0, 0, 0, 0]
        self.summary = GenerateSummary(customers=0, days=g.days)
        self.day_names = [
            (date(1970, 1, 1) + timedelta(days=g.start_ms // _DAY + d)).isoformat()
            for d in range(g.days)
        ]

    def _path(self, key: int) -> Path:
        kind, day = divmod(key, _KEY)
        if kind == _EVENTS:
            return (
                self.out / "clickstream" / self.day_names[day] / f"events-s{self.shard:02d}.jsonl"
            )
        return self.parts / str(kind) / self.day_names[day] / f"s{self.shard:06d}"

    def _write(self, key: int, data: bytes) -> None:
        fh = self.handles.get(key)
        if fh is None:
            path = self._path(key)
            if key not in self.created:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.created.add(key)
            fh = open(path, "ab", buffering=1 << 16)  # noqa: SIM115 - kept open across customers
            self.handles[key] = fh
            if len(self.handles) > self.MAX_OPEN:
                self.handles.popitem(last=False)[1].close()
        else:
            self.handles.move_to_end(key)
        fh.write(data)

    def write_customer(self, records: list, irng: random.Random) -> None:
        """Lands one customer's records, with duplicates, late arrivals and broken records.

        One draw `u` of the imperfection RNG per record decides: u < 1 % duplicate, < 2 %
        late, < 2 % + broken_share broken (the kind from where u falls), else as it is. So
        broken_share changes which records break, never the rest of the output.
        """
        g = self.g
        s = self.summary
        start_ms, end_ms, days = g.start_ms, g.end_ms, g.days
        broken_share = g.broken_share
        late_hi = DUPLICATE_RATE + LATE_RATE
        broken_hi = late_hi + broken_share
        oversized_hi = broken_hi + broken_share * OVERSIZED_PER_BROKEN
        groups: dict[int, list[str]] = {}
        counts = self.kind_counts
        rand = irng.random
        records.sort()
        for t, _seq, kind, payload in records:
            if t >= end_ms or t < start_ms:
                s.not_landed += 1
                continue
            key = kind * _KEY + (t - start_ms) // _DAY
            u = rand()
            if u >= oversized_hi:  # the common case: lands as it is
                group = groups.get(key)
                if group is None:
                    groups[key] = [payload]
                else:
                    group.append(payload)
                counts[kind] += 1
            elif u < DUPLICATE_RATE:  # resent byte-identically: same file or next day's
                counts[kind] += 1
                s.duplicates += 1
                group = groups.setdefault(key, [])
                group.append(payload)
                if u < DUPLICATE_RATE / 2 or key % _KEY + 1 >= days:
                    group.append(payload)
                else:
                    groups.setdefault(key + 1, []).append(payload)
            elif u < late_hi:  # lands 1-3 days after its own day
                land = key % _KEY + 1 + int((u - DUPLICATE_RATE) / LATE_RATE * 3)
                if land >= days:
                    s.not_landed += 1
                    continue
                groups.setdefault(kind * _KEY + land, []).append(payload)
                counts[kind] += 1
                s.late_events += 1
            else:
                if u >= broken_hi:
                    broken, pick = "oversized", 0
                    if kind != _EVENTS and kind != _TICKETS:  # no oversized CSV rows
                        groups.setdefault(key, []).append(payload)
                        counts[kind] += 1
                        continue
                else:
                    options = _BROKEN_BY_KIND[kind]
                    x = (u - late_hi) / broken_share * len(options)
                    broken = options[min(int(x), len(options) - 1)]
                    pick = int(x * 1_000_003)
                line = _break(kind, payload, broken, pick)
                group = groups.setdefault(key, [])
                s.broken_records += 1
                s.broken_by_kind[broken] = s.broken_by_kind.get(broken, 0) + 1
                if line is None:  # an empty line before the intact record
                    group.append("")
                    group.append(payload)
                    counts[kind] += 1
                else:
                    group.append(line)
        for key, lines in groups.items():
            lines.append("")
            self._write(key, "\n".join(lines).encode("utf-8", "surrogateescape"))

    def close(self) -> None:
        for fh in self.handles.values():
            fh.close()
        self.handles.clear()
        c = self.kind_counts
        self.summary.events_by_source = {
            "clickstream": c[_EVENTS],
            "crm": c[_ACTIVITIES] + c[_CONTACTS],
            "support": c[_TICKETS],
        }
        self.summary.files_written = sum(1 for key in self.created if key // _KEY == _EVENTS)

    def gzip_clickstream(self) -> None:
        """Replaces each clickstream file of this shard by `<file>.gz` (after `close`)."""
        for key in sorted(self.created):
            if key // _KEY == _EVENTS:
                _gzip_in_place(self._path(key))


_KEY = 1 << 20  # file key = kind * _KEY + landing day


def _run_shard(args: tuple) -> GenerateSummary:
    out, parts, shard, lo, hi, seed, start, days, broken_share, compress = args
    g = _Shared(seed, start, days, broken_share)
    writer = _ShardWriter(out, parts, shard, g)
    report = _REPORT
    done = 0
    try:
        for idx in range(lo, hi):
            cust = _Customer(g, idx)
            cust.simulate()
            writer.write_customer(cust.records, random.Random(g.seed_base | (idx << 1) | 1))
            done += 1
            if done == PROGRESS_EVERY:
                if report is not None:
                    report(done)
                done = 0
    finally:
        writer.close()
    if compress:
        writer.gzip_clickstream()
    if done and report is not None:
        report(done)
    writer.summary.customers = hi - lo
    return writer.summary


_REPORT: Callable[[int], None] | None = None


def _init_worker(q) -> None:
    global _REPORT
    _REPORT = q.put


def _create(path: Path, compress: bool) -> io.BufferedIOBase:
    """`path` opened for writing; or, if `compress`, `<path>.gz` through gzip at level 1
    (speed over ratio) with mtime 0 (the same bytes every run)."""
    if compress:
        return gzip.GzipFile(path.with_name(path.name + ".gz"), "wb", compresslevel=1, mtime=0)
    return open(path, "wb")  # noqa: SIM115 - the caller closes it


def _gzip_in_place(path: Path) -> None:
    """Replaces `path` by its gzip-compressed copy `<path>.gz`."""
    with open(path, "rb") as src, _create(path, compress=True) as dest:
        shutil.copyfileobj(src, dest, 1 << 20)
    path.unlink()


def _merge(args: tuple) -> int:
    """Concatenates one (kind, day)'s shard part files, in shard order, into the final file
    (through gzip, as `<file>.gz`, when `compress`)."""
    out, parts, kind, day_name, compress = args
    src_dir = parts / str(kind) / day_name
    dest = out / _KIND_SOURCE[kind] / day_name / _KIND_FILE[kind]
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _create(dest, compress) as fh:
        header = _CSV_HEADERS.get(kind)
        if header:
            fh.write(header)
        for part in sorted(src_dir.iterdir()):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)
    shutil.rmtree(src_dir)
    return 1


def _merge_tasks(out: Path, parts: Path, compress: bool) -> list[tuple]:
    tasks = []
    for kind in (_ACTIVITIES, _CONTACTS, _TICKETS):
        kind_dir = parts / str(kind)
        if kind_dir.is_dir():
            tasks.extend((out, parts, kind, d.name, compress) for d in sorted(kind_dir.iterdir()))
    return tasks


_GENERATED = (
    "clickstream/*/events-s*.jsonl",
    "crm/*/activities.csv",
    "crm/*/contacts.csv",
    "support/*/tickets.jsonl",
)


def _clean(out: Path) -> None:
    """Removes the files an earlier run generated, plain or gzipped; hand-written files beside
    them stay."""
    for pattern in _GENERATED:
        for path in [*out.glob(pattern), *out.glob(pattern + ".gz")]:
            path.unlink()
    shutil.rmtree(out / _PARTS, ignore_errors=True)


_PARTS = ".generate-parts"


def generate(
    out_dir: Path,
    customers: int,
    days: int,
    seed: int = 7,
    start: date = date(2025, 3, 1),
    workers: int = 1,
    broken_share: float = 0.002,
    progress: Callable[[int], None] | None = None,
    *,
    customers_per_shard: int = CUSTOMERS_PER_SHARD,
    compress: bool = False,
) -> GenerateSummary:
    """Writes a landing zone for `customers` simulated customers over `days` days from `start`.

    Output: `<out_dir>/<source>/<YYYY-MM-DD>/<file>` (see the module docstring). The same
    arguments give byte-identical files whatever `workers` is. Files that an earlier run
    generated in `out_dir` are replaced; other files there (hand-written ones) stay.
    `progress(n)` is called now and then with the number of customers done so far.
    `customers_per_shard` fixes how customers are cut into shard files (`events-sNN.jsonl`);
    the output depends on it, never on `workers`. `compress=True` writes every file
    gzip-compressed as `<file>.gz`: the same bytes every run, and decompressed the same bytes
    as without. With `workers > 1` the shards run in spawned processes, so a calling script
    needs the usual `if __name__ == "__main__":` guard. Prints nothing.
    """
    if customers < 0 or days < 1:
        raise ValueError("customers must be >= 0 and days >= 1")
    if not 0 <= broken_share <= 0.5:
        raise ValueError("broken_share must be between 0 and 0.5")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clean(out)
    parts = out / _PARTS
    if customers_per_shard < 1:
        raise ValueError("customers_per_shard must be >= 1")
    n_shards = max(1, -(-customers // customers_per_shard))
    tasks = [
        (
            out,
            parts,
            s,
            s * customers_per_shard,
            min(customers, (s + 1) * customers_per_shard),
            seed,
            start,
            days,
            broken_share,
            compress,
        )
        for s in range(n_shards)
    ]
    total = GenerateSummary(
        customers=customers, days=days, events_by_source={"clickstream": 0, "crm": 0, "support": 0}
    )
    done = 0

    def report(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done)

    global _REPORT
    workers = max(1, min(workers, n_shards))
    if workers == 1:
        _REPORT = report
        try:
            results = [_run_shard(task) for task in tasks]
        finally:
            _REPORT = None
        total.files_written += sum(_merge(task) for task in _merge_tasks(out, parts, compress))
    else:
        ctx = multiprocessing.get_context("spawn")
        q = ctx.Queue()
        with ctx.Pool(workers, initializer=_init_worker, initargs=(q,)) as pool:
            pending = pool.map_async(_run_shard, tasks, chunksize=1)
            while not pending.ready() or not q.empty():
                with contextlib.suppress(queue.Empty):
                    report(q.get(timeout=0.1))
            results = pending.get()
            merged = pool.map(_merge, _merge_tasks(out, parts, compress), chunksize=4)
            total.files_written += sum(merged)
            # the workers leave on their own: the pool's exit would terminate() them with
            # SIGTERM, which a process that ignores it passes on (Dagster maps SIGTERM to
            # SIGINT's handler, SIG_IGN in a background job), and the join then waits forever
            pool.close()
            pool.join()
    for result in results:
        total.add(result)
    shutil.rmtree(parts, ignore_errors=True)
    if progress is not None and done != customers:
        progress(customers)
    return total
