"""Synthetic card transactions for the fraud-detection example: about 1% fraud.

Each row is one card payment: amount, merchant category, hour of day, distance from
the cardholder's home, whether the card was present, whether the merchant is abroad,
velocity features (payments on the card in the last hour and day), the ratio of the
amount to the cardholder's usual amount, and the account's age. Legitimate spending
follows everyday patterns (groceries and fuel near home, in the daytime, card
present). The label ``is_fraud`` is drawn from a logistic model in which fraud is more
likely for card-not-present payments far from home, at night, in bursts, for unusually
large amounts, at electronics, jewellery and digital-goods merchants and abroad, and on
young accounts; unobserved causes add noise.

The model's intercept is solved for so that the expected fraud rate is ``fraud_rate``
(1% by default). The same ``seed`` always gives the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# category -> (share of payments, median amount in $, amount spread (log sd),
#              share with the card present, fraud log-odds added)
CATEGORIES = {
    "grocery": (0.24, 45.0, 0.6, 0.95, -0.8),
    "fuel": (0.12, 50.0, 0.4, 0.90, -0.2),
    "restaurant": (0.17, 35.0, 0.6, 0.90, -0.6),
    "online_retail": (0.16, 60.0, 0.9, 0.00, 0.3),
    "electronics": (0.06, 220.0, 0.9, 0.40, 1.0),
    "travel": (0.07, 350.0, 0.8, 0.10, 0.4),
    "jewelry": (0.02, 400.0, 1.0, 0.60, 1.2),
    "digital_goods": (0.08, 15.0, 0.8, 0.00, 0.9),
    "pharmacy": (0.08, 25.0, 0.6, 0.95, -0.7),
}
COLUMNS = [
    "amount",
    "merchant_category",
    "hour",
    "distance_from_home_km",
    "card_present",
    "foreign_merchant",
    "txn_last_1h",
    "txn_last_24h",
    "amount_to_avg_ratio",
    "account_age_days",
    "is_fraud",
]


def _intercept_for(rate: float, log_odds: np.ndarray) -> float:
    """The constant that makes the mean of sigmoid(log_odds + constant) equal ``rate``."""
    low, high = -30.0, 30.0
    for _ in range(60):
        middle = (low + high) / 2
        if (1 / (1 + np.exp(-(log_odds + middle)))).mean() < rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def generate_transactions(
    rows: int = 40_000, seed: int = 11, fraud_rate: float = 0.01
) -> pd.DataFrame:
    """``rows`` synthetic card payments (columns :data:`COLUMNS`), about ``fraud_rate``
    of them fraudulent.

    Parameters
    ----------
    rows:
        How many payments.
    seed:
        The random seed: the same seed gives the same data frame.
    fraud_rate:
        The expected share of fraud (0 < fraud_rate < 1).

    Returns
    -------
    pandas.DataFrame
        One payment per row; ``is_fraud``, ``card_present`` and ``foreign_merchant``
        are 0 or 1.

    Raises
    ------
    ValueError
        ``rows`` is not positive or ``fraud_rate`` is not strictly between 0 and 1.
    """
    if rows <= 0:
        raise ValueError(f"rows must be a positive number of payments, got {rows}")
    if not 0 < fraud_rate < 1:
        raise ValueError(f"fraud_rate must be strictly between 0 and 1, got {fraud_rate}")
    rng = np.random.default_rng(seed)
    names = np.array(list(CATEGORIES))
    table = np.array([CATEGORIES[n] for n in names])
    share, median, spread, present, category_effect = table.T
    pick = rng.choice(len(names), rows, p=share / share.sum())

    # The cardholder's usual spending level; this payment's amount around it.
    habit = rng.lognormal(0.0, 0.35, rows)
    amount = np.round(median[pick] * habit * rng.lognormal(0.0, spread[pick]), 2)
    amount = np.maximum(amount, 1.0)
    amount_to_avg = np.round(amount / (median[pick] * habit), 3)

    card_present = (rng.random(rows) < present[pick]).astype(int)
    # Daytime spending, a little in the evening, rarely at night.
    hour = np.where(
        rng.random(rows) < 0.93,
        np.clip(np.round(rng.normal(14.5, 3.8, rows)), 6, 23),
        rng.integers(0, 24, rows),
    ).astype(int)
    distance = np.round(
        np.where(card_present == 1, rng.lognormal(1.3, 0.9, rows), rng.lognormal(2.3, 1.3, rows)),
        1,
    )
    foreign = (rng.random(rows) < 0.03).astype(int)
    txn_1h = rng.poisson(0.25, rows)
    txn_24h = txn_1h + rng.poisson(2.5, rows)
    account_age = np.round(rng.gamma(2.0, 500.0, rows)).astype(int) + 1

    night = (hour <= 4).astype(float)
    log_odds = (
        1.5 * category_effect[pick]
        + 2.6 * np.log(amount_to_avg)
        + 3.0 * (1 - card_present)
        + 1.4 * np.log1p(distance / 20)
        + 3.2 * night
        + 2.2 * txn_1h
        + 3.4 * foreign
        - 0.9 * np.log(account_age / 365)
        + rng.normal(0, 0.3, rows)  # what the data does not show
    )
    log_odds += _intercept_for(fraud_rate, log_odds)
    is_fraud = (rng.random(rows) < 1 / (1 + np.exp(-log_odds))).astype(int)
    return pd.DataFrame(
        {
            "amount": amount,
            "merchant_category": names[pick],
            "hour": hour,
            "distance_from_home_km": distance,
            "card_present": card_present,
            "foreign_merchant": foreign,
            "txn_last_1h": txn_1h,
            "txn_last_24h": txn_24h,
            "amount_to_avg_ratio": amount_to_avg,
            "account_age_days": account_age,
            "is_fraud": is_fraud,
        },
        columns=COLUMNS,
    )
