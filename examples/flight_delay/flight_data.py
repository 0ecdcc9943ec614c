"""A synthetic, realistic-looking flight data set for the flight-delay example.

Each row is one scheduled US domestic flight: carrier, origin and destination airports,
month, weekday, scheduled departure hour, great-circle distance, the weather at the
origin (a category plus wind speed and visibility) and how busy the origin airport is
in that hour. The label ``delayed`` (arrival 15+ minutes late, as the US DOT counts it)
is drawn from a logistic model in which delays grow with bad weather (storms, snow,
fog), with the hour (delays pile up through the day), in winter and summer peaks, on
Fridays and Sundays, at congested hub airports, and vary by carrier; unobserved causes
add noise, so no model can be perfect.

The intercept of that model is solved for so that the expected delay rate is
``delay_rate`` (20% by default, about the real US figure). The same ``seed`` always
gives the same rows; only numpy and pandas are used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# IATA code -> (latitude, longitude, hub congestion: log-odds added at a busy hour,
# climate: "north" (snow in winter), "south" (summer thunderstorms), "coast" (fog)).
AIRPORTS = {
    "ATL": (33.64, -84.43, 0.35, "south"),
    "BOS": (42.36, -71.01, 0.20, "north"),
    "DEN": (39.86, -104.67, 0.25, "north"),
    "DFW": (32.90, -97.04, 0.30, "south"),
    "EWR": (40.69, -74.17, 0.45, "north"),
    "JFK": (40.64, -73.78, 0.40, "north"),
    "LAX": (33.94, -118.41, 0.25, "coast"),
    "MIA": (25.80, -80.29, 0.15, "south"),
    "ORD": (41.98, -87.90, 0.45, "north"),
    "PHX": (33.43, -112.01, 0.00, "south"),
    "SEA": (47.45, -122.31, 0.05, "coast"),
    "SFO": (37.62, -122.38, 0.30, "coast"),
}
# Airports' share of departures (busier airports are origins more often).
TRAFFIC = {
    "ATL": 0.13,
    "BOS": 0.06,
    "DEN": 0.10,
    "DFW": 0.11,
    "EWR": 0.06,
    "JFK": 0.07,
    "LAX": 0.10,
    "MIA": 0.06,
    "ORD": 0.11,
    "PHX": 0.07,
    "SEA": 0.06,
    "SFO": 0.07,
}
# carrier -> (share of flights, log-odds of running late compared with the average).
CARRIERS = {
    "AA": (0.20, 0.15),
    "AS": (0.06, -0.35),
    "B6": (0.07, 0.45),
    "DL": (0.22, -0.30),
    "F9": (0.04, 0.55),
    "NK": (0.05, 0.40),
    "UA": (0.17, 0.10),
    "WN": (0.19, 0.05),
}
WEATHER = ["clear", "cloudy", "rain", "fog", "snow", "thunderstorm"]
# weather -> log-odds added to the delay model.
WEATHER_EFFECT = {
    "clear": 0.0,
    "cloudy": 0.1,
    "rain": 0.9,
    "fog": 1.3,
    "snow": 2.1,
    "thunderstorm": 2.3,
}
COLUMNS = [
    "carrier",
    "origin",
    "dest",
    "month",
    "weekday",
    "dep_hour",
    "distance",
    "weather",
    "wind_kt",
    "visibility_mi",
    "origin_departures_hour",
    "delayed",
]


def great_circle_miles(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance(s) in statute miles between points given in degrees."""
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2)
    )
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 3958.8 * np.arcsin(np.sqrt(h))


def _weather(rng: np.random.Generator, climate: np.ndarray, month: np.ndarray) -> np.ndarray:
    """One weather category per flight, by the origin's climate and the season."""
    winter = np.isin(month, (12, 1, 2))
    summer = np.isin(month, (6, 7, 8))
    # Base probabilities of WEATHER, then seasonal and climate adjustments.
    p = np.tile([0.55, 0.25, 0.12, 0.04, 0.0, 0.04], (len(month), 1))
    north, south, coast = climate == "north", climate == "south", climate == "coast"
    p[winter & north, 4] += 0.18  # snow
    p[(month == 3) & north, 4] += 0.06
    p[summer & south, 5] += 0.14  # thunderstorms
    p[summer & north, 5] += 0.05
    p[coast, 3] += 0.08  # fog
    p[coast & summer, 3] += 0.06
    p /= p.sum(axis=1, keepdims=True)
    picks = (rng.random((len(month), 1)) > p.cumsum(axis=1)).sum(axis=1)
    return np.array(WEATHER)[np.minimum(picks, len(WEATHER) - 1)]


def _intercept_for(rate: float, log_odds: np.ndarray) -> float:
    """The constant that makes the mean of sigmoid(log_odds + constant) equal ``rate``."""
    low, high = -20.0, 20.0
    for _ in range(60):
        middle = (low + high) / 2
        if (1 / (1 + np.exp(-(log_odds + middle)))).mean() < rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def generate_flights(rows: int = 30_000, seed: int = 7, delay_rate: float = 0.20) -> pd.DataFrame:
    """``rows`` synthetic flights (columns :data:`COLUMNS`), about ``delay_rate`` delayed.

    Parameters
    ----------
    rows:
        How many flights.
    seed:
        The random seed: the same seed gives the same data frame.
    delay_rate:
        The expected share of delayed flights (0 < delay_rate < 1).

    Returns
    -------
    pandas.DataFrame
        One flight per row; ``delayed`` is 0 or 1, ``distance`` whole miles.

    Raises
    ------
    ValueError
        ``rows`` is not positive or ``delay_rate`` is not strictly between 0 and 1.
    """
    if rows <= 0:
        raise ValueError(f"rows must be a positive number of flights, got {rows}")
    if not 0 < delay_rate < 1:
        raise ValueError(f"delay_rate must be strictly between 0 and 1, got {delay_rate}")
    rng = np.random.default_rng(seed)
    codes = np.array(sorted(AIRPORTS))
    traffic = np.array([TRAFFIC[c] for c in codes])
    origin = rng.choice(codes, rows, p=traffic / traffic.sum())
    # A destination other than the origin, again weighted by traffic.
    dest = rng.choice(codes, rows, p=traffic / traffic.sum())
    while (same := origin == dest).any():
        dest[same] = rng.choice(codes, same.sum(), p=traffic / traffic.sum())
    names = np.array(sorted(CARRIERS))
    shares = np.array([CARRIERS[c][0] for c in names])
    carrier = rng.choice(names, rows, p=shares / shares.sum())
    # More flying in summer and around the holidays.
    month_weights = np.array([7, 7, 8.5, 8.5, 8.5, 9.5, 10, 10, 8, 8, 7.5, 8.5])
    month = rng.choice(np.arange(1, 13), rows, p=month_weights / month_weights.sum())
    weekday = rng.choice(np.arange(1, 8), rows, p=np.array([15, 14, 14, 15, 15, 12, 15]) / 100)
    # Departure banks: a morning peak, a midday lull, an evening peak.
    hour = np.where(
        rng.random(rows) < 0.45, rng.normal(8.5, 2.0, rows), rng.normal(16.5, 3.0, rows)
    )
    dep_hour = np.clip(np.round(hour), 5, 23).astype(int)

    lat = {c: AIRPORTS[c][0] for c in codes}
    lon = {c: AIRPORTS[c][1] for c in codes}
    distance = (
        great_circle_miles(
            [lat[c] for c in origin],
            [lon[c] for c in origin],
            [lat[c] for c in dest],
            [lon[c] for c in dest],
        )
        .round()
        .astype(int)
    )

    climate = np.array([AIRPORTS[c][3] for c in origin])
    weather = _weather(rng, climate, month)
    stormy = np.isin(weather, ("rain", "snow", "thunderstorm"))
    wind_kt = np.round(
        rng.gamma(2.0, 4.5, rows) + np.where(stormy, rng.gamma(2.0, 5.0, rows), 0), 1
    )
    visibility = np.where(
        weather == "fog",
        rng.uniform(0.2, 2.5, rows),
        np.where(stormy, rng.uniform(1.5, 8.0, rows), rng.uniform(6.0, 10.0, rows)),
    ).round(1)

    # Scheduled departures in that hour at the origin: hubs are busiest in the banks.
    hub = np.array([AIRPORTS[c][2] for c in origin])
    bank = np.exp(-((dep_hour - 8) ** 2) / 6) + np.exp(-((dep_hour - 17) ** 2) / 8)
    departures = rng.poisson(12 + 90 * hub * (0.4 + bank) + 8 * bank)

    log_odds = (
        np.array([WEATHER_EFFECT[w] for w in weather])
        + 0.05 * np.maximum(wind_kt - 15, 0)
        + 0.14 * (dep_hour - 12)  # knock-on delays build up through the day
        + np.select(
            [np.isin(month, (12, 1, 2)), np.isin(month, (6, 7, 8)), np.isin(month, (9, 10))],
            [0.35, 0.40, -0.30],
            0.0,
        )
        + np.where(np.isin(weekday, (5, 7)), 0.25, 0.0)
        + np.where(weekday == 6, -0.20, 0.0)
        + np.array([CARRIERS[c][1] for c in carrier])
        + 0.02 * (departures - 40)  # congestion at the origin
        + 0.25 * np.array([AIRPORTS[c][2] for c in dest])  # congested arrival airports
        + rng.normal(0, 0.5, rows)  # everything the data does not show
    )
    log_odds += _intercept_for(delay_rate, log_odds)
    delayed = (rng.random(rows) < 1 / (1 + np.exp(-log_odds))).astype(int)
    return pd.DataFrame(
        {
            "carrier": carrier,
            "origin": origin,
            "dest": dest,
            "month": month,
            "weekday": weekday,
            "dep_hour": dep_hour,
            "distance": distance,
            "weather": weather,
            "wind_kt": wind_kt,
            "visibility_mi": visibility,
            "origin_departures_hour": departures,
            "delayed": delayed,
        },
        columns=COLUMNS,
    )
