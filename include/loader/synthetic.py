"""Deterministic synthetic sales for one day (standard library only: this ships in the Lambda zip).

The same date always gives the same rows (random.Random seeded from a SHA-256 of the date, never hash(),
which is salted per process). Shapes: a customer base where a few customers buy often, 1-3 cards per
customer, a product catalogue with Zipf-like popularity and a fixed price per product, more sales in
daytime hours, and a small share of the original lab's dirty rows (labelled, so tests can check the job).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import random
from collections.abc import Iterator

HEADER = ("card_id", "customer_id", "price", "product_id", "timestamp")

# Dirty shapes and their share of rows. "dollar_price" is cleansable ("$" is stripped); the others are rejects.
DOLLAR_PRICE_SHARE = 0.02
EMPTY_PRICE_SHARE = 0.015
BAD_TIMESTAMP_SHARE = 0.015
MISSING_CUSTOMER_SHARE = 0.005
DUPLICATE_SHARE = 0.015

# Relative sales per hour of day (UTC): quiet at night, peaks at lunch and early evening.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 10, 11, 10, 9, 9, 9, 10, 11, 10, 8, 6, 4, 2)
BAD_TIMESTAMPS = ("", "not a timestamp", "{d:%d/%m/%Y} 10:15:00", "{d:%Y-%m-%d}T10:15:00Z", "{d:%Y}-13-45 25:61:00")
# Bad spellings that carry the row's time ({t}), for when the fixed ones are used up for a card (see below).
TIMED_BAD_TIMESTAMPS = ("{d:%d/%m/%Y} {t}", "{d:%Y-%m-%d}T{t}Z", "{d:%Y}-13-45 {t}")

PRODUCT_COUNT = 300
CUSTOMER_BASE = 5000
FIRST_CUSTOMER_ID = 100_001
FIRST_PRODUCT_ID = 20_001
FIRST_CARD_ID = 4_000_000_000_000_000


def parse_date(value: object) -> dt.date:
    """A strict YYYY-MM-DD date, else ValueError naming the bad value."""
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError(f"date must be a YYYY-MM-DD string, got {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"date must be a valid YYYY-MM-DD date, got {value!r}") from None


def seed_for(day: dt.date) -> int:
    """A stable 64-bit seed derived from the date string (identical across processes and machines)."""
    return int.from_bytes(hashlib.sha256(f"sales-loader:{day.isoformat()}".encode()).digest()[:8], "big")


class _World:
    """The customers, cards and products shared by every day (fixed seed), so customers repeat across days."""

    def __init__(self) -> None:
        rng = random.Random(20240101)
        self.product_ids = list(range(FIRST_PRODUCT_ID, FIRST_PRODUCT_ID + PRODUCT_COUNT))
        rng.shuffle(self.product_ids)  # popularity rank is unrelated to the id
        # Lognormal prices, median about 25, with cents.
        self.prices = [f"{min(max(rng.lognormvariate(3.2, 0.9), 0.99), 2000):.2f}" for _ in self.product_ids]
        self.product_cum_weights = list(itertools.accumulate(1 / (rank + 1) ** 1.1 for rank in range(PRODUCT_COUNT)))
        self.customer_ids = list(range(FIRST_CUSTOMER_ID, FIRST_CUSTOMER_ID + CUSTOMER_BASE))
        # Pareto weights: a minority of customers makes most purchases.
        self.customer_cum_weights = list(itertools.accumulate(rng.paretovariate(1.2) for _ in self.customer_ids))
        next_card = itertools.count(FIRST_CARD_ID, 7919)
        self.cards = [tuple(next(next_card) for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))) for _ in self.customer_ids]
        # The same values as text, built once: the per-row loop only picks strings (the hot path of 1M rows).
        self.customer_texts = [str(c) for c in self.customer_ids]
        self.card_texts = [tuple(str(card) for card in cards) for cards in self.cards]
        self.product_texts = [str(p) for p in self.product_ids]


_WORLD = _World()


def generate_rows(day: dt.date, rows: int) -> Iterator[tuple[tuple[str, ...], str]]:
    """Yield (row, shape) for `rows` rows of `day`; shape is "clean" or a dirty shape name.

    Duplicates are extra copies of an already emitted clean row (shape "duplicate"); they count towards `rows`.
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise ValueError(f"rows must be a non-negative integer, got {rows!r}")
    rng = random.Random(seed_for(day))
    world = _WORLD
    duplicates = round(rows * DUPLICATE_SHARE) if rows >= 2 else 0
    originals = rows - duplicates
    customers = rng.choices(range(CUSTOMER_BASE), cum_weights=world.customer_cum_weights, k=originals)
    products = rng.choices(range(PRODUCT_COUNT), cum_weights=world.product_cum_weights, k=originals)
    hours = rng.choices(range(24), weights=HOUR_WEIGHTS, k=originals)
    random_draw = rng.random
    seconds = sorted(hour * 3600 + int(random_draw() * 3600) for hour in hours)
    # Which originals get a duplicate copy emitted right after them (only clean rows are duplicated).
    duplicate_of = set(rng.sample(range(originals), duplicates)) if duplicates else set()
    prefix = day.isoformat()
    thresholds = list(
        itertools.accumulate((DOLLAR_PRICE_SHARE, EMPTY_PRICE_SHARE, BAD_TIMESTAMP_SHARE, MISSING_CUSTOMER_SHARE))
    )
    randrange = rng.randrange
    clock = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
    customer_texts, card_texts, product_texts, prices = (
        world.customer_texts, world.card_texts, world.product_texts, world.prices)
    pending_duplicates = 0
    seen_this_second: set[tuple[str, ...]] = set()
    seen_bad_timestamp: set[tuple[str, ...]] = set()
    current_second = -1
    last_clean = None
    for index in range(originals):
        customer, product, second = customers[index], products[index], seconds[index]
        cards = card_texts[customer]
        card = cards[int(random_draw() * len(cards))] if len(cards) > 1 else cards[0]
        customer_id = customer_texts[customer]
        price = prices[product]
        timestamp = f"{prefix} {clock[second]}"
        draw = random_draw()
        shape = "clean"
        if draw < thresholds[0]:
            shape, price = "dollar_price", "$" + price
        elif draw < thresholds[1]:
            shape, price = "empty_price", ""
        elif draw < thresholds[2]:
            shape = "bad_timestamp"
            timestamp = BAD_TIMESTAMPS[randrange(len(BAD_TIMESTAMPS))].format(d=day)
        elif draw < thresholds[3]:
            shape, customer_id = "missing_customer_id", ""
        row = (card, customer_id, price, product_texts[product], timestamp)
        # An accidental copy of an earlier row (same card, product and second) would be rejected as a duplicate
        # while labelled otherwise: move it to the next product. Rows with a good timestamp can only collide
        # within their second (seconds are sorted), so that set stays small; bad timestamps are rare.
        seen = seen_bad_timestamp if shape == "bad_timestamp" else seen_this_second
        if shape != "bad_timestamp" and second != current_second:
            current_second = second
            seen_this_second.clear()
        tried = 0
        while row in seen:
            if shape == "bad_timestamp" and tried % PRODUCT_COUNT == 0:
                # The bad texts are few: on a big day a frequent customer would use up every product for one
                # of them (and the walk over products would never end). Spell it with the row's own time.
                timestamp = TIMED_BAD_TIMESTAMPS[tried // PRODUCT_COUNT % len(TIMED_BAD_TIMESTAMPS)].format(
                    d=day, t=clock[second])
                row = (row[0], row[1], row[2], row[3], timestamp)
                tried += 1
                continue
            tried += 1
            product = (product + 1) % PRODUCT_COUNT
            price = world.prices[product] if shape not in ("dollar_price", "empty_price") else (
                "$" + world.prices[product] if shape == "dollar_price" else "")
            row = (row[0], row[1], price, product_texts[product], timestamp)
        seen.add(row)
        yield row, shape
        if shape == "clean":
            last_clean = row
        if index in duplicate_of:
            if shape == "clean":
                yield row, "duplicate"
            else:
                pending_duplicates += 1  # keep the row count: copy the next clean row instead
        elif pending_duplicates and shape == "clean":
            pending_duplicates -= 1
            yield row, "duplicate"
    # Rare tail case: copies still owed when no clean row followed; copy the last clean row (if any).
    for _ in range(pending_duplicates):
        if last_clean is None:
            raise ValueError(f"cannot make {rows} rows with duplicates: no clean row was drawn")
        yield last_clean, "duplicate"


def generate_csv(day: dt.date, rows: int) -> bytes:
    """The day's CSV (header + rows, \\n line ends) as bytes. Values never contain commas or quotes."""
    lines = [",".join(HEADER)]
    lines.extend(",".join(row) for row, _shape in generate_rows(day, rows))
    return ("\n".join(lines) + "\n").encode()
