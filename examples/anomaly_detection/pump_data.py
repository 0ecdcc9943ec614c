"""Synthetic sensor readings of an industrial centrifugal pump, with injected anomalies.

Each row is one reading, a few seconds apart, of eight sensors: shaft speed (``rpm``),
``flow_m3h``, ``suction_bar`` and ``discharge_bar`` pressures, ``motor_current_a``,
``bearing_temp_c``, ``vibration_mm_s`` and ``ambient_temp_c``. The pump runs in one of
three operating regimes (``regime``: 0 standby, 1 nominal, 2 peak), each around its own
speed; within a regime the sensors move together as a pump's do: flow follows the speed
and the valve opening, the head (discharge minus suction pressure) the square of the
speed, the motor current the hydraulic load, the bearing temperature the current and the
ambient temperature, the vibration the speed.

About ``anomaly_rate`` of the rows (1% by default) are anomalies of three kinds
(``anomaly_kind``; ``is_anomaly`` is 1 for them):

- ``spike``: one sensor (vibration, discharge pressure or bearing temperature) jumps
  far above what its regime gives — a knock, a pressure surge, a bearing running hot;
- ``drift``: a sensor that drifted out of calibration: the flow meter reads 35–50% low
  or the suction gauge 0.6–1.0 bar high, while everything else is right;
- ``decoupled``: every sensor reads in its usual range but they no longer agree: a
  blocked impeller (full speed, little flow, yet a high current) — each value on its own
  looks normal, only their combination is wrong.

``power_kw``, the target of the regression, is the motor's electrical power: a noisy
linear function of the true current, flow and head. Sensor faults (spikes, drifts) do
not change the power the pump draws; a decoupled row's power follows its readings.
The same ``seed`` always gives the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = [
    "rpm",
    "flow_m3h",
    "suction_bar",
    "discharge_bar",
    "motor_current_a",
    "bearing_temp_c",
    "vibration_mm_s",
    "ambient_temp_c",
]
REGIMES = ("standby", "nominal", "peak")
# regime -> (share of readings, shaft speed in rpm)
REGIME_SETTINGS = {"standby": (0.25, 1200.0), "nominal": (0.55, 2200.0), "peak": (0.20, 2950.0)}
ANOMALY_KINDS = ("spike", "drift", "decoupled")
COLUMNS = [*FEATURES, "power_kw", "regime", "is_anomaly", "anomaly_kind"]


def _readings(rng: np.random.Generator, regime: np.ndarray) -> dict[str, np.ndarray]:
    """Normal readings for the given regimes (one per row), sensors correlated."""
    rows = regime.size
    share, speed = np.array([REGIME_SETTINGS[name] for name in REGIMES]).T
    rpm = speed[regime] * (1 + rng.normal(0, 0.02, rows))
    valve = np.clip(rng.normal(0.8, 0.08, rows), 0.4, 1.0)  # the share the valve is open
    flow = 0.055 * rpm * valve * (1 + rng.normal(0, 0.02, rows))
    suction = rng.normal(1.5, 0.08, rows)
    head = 1.1 * (rpm / 1000) ** 2 * (1.15 - 0.25 * valve) + rng.normal(0, 0.1, rows)
    discharge = suction + head
    current = 12 + 0.11 * flow + 1.6 * head + rng.normal(0, 0.8, rows)
    ambient = rng.normal(22, 3, rows)
    bearing = ambient + 14 + 0.45 * current + rng.normal(0, 1.0, rows)
    vibration = 0.6 + 0.7 * rpm / 1000 + rng.gamma(4.0, 0.06, rows)
    return {
        "rpm": rpm,
        "flow_m3h": flow,
        "suction_bar": suction,
        "discharge_bar": discharge,
        "motor_current_a": current,
        "bearing_temp_c": bearing,
        "vibration_mm_s": vibration,
        "ambient_temp_c": ambient,
    }


def _power(rng: np.random.Generator, values: dict[str, np.ndarray]) -> np.ndarray:
    """Electrical power (kW) from current, flow and head, plus meter noise."""
    head = values["discharge_bar"] - values["suction_bar"]
    noise = rng.normal(0, 0.6, values["rpm"].size)
    return 0.62 * values["motor_current_a"] + 0.035 * values["flow_m3h"] + 0.9 * head + noise


def generate_readings(
    rows: int = 20_000, seed: int = 7, anomaly_rate: float = 0.01
) -> pd.DataFrame:
    """``rows`` pump readings (columns :data:`COLUMNS`), about ``anomaly_rate`` of them
    injected anomalies.

    Parameters
    ----------
    rows:
        How many readings.
    seed:
        The random seed: the same seed gives the same data frame.
    anomaly_rate:
        The share of anomalies (0 < anomaly_rate < 0.5), split evenly between the kinds
        of :data:`ANOMALY_KINDS`.

    Returns
    -------
    pandas.DataFrame
        One reading per row: the eight sensors of :data:`FEATURES`, ``power_kw``,
        ``regime`` (0, 1 or 2: an index into :data:`REGIMES`), ``is_anomaly`` (0 or 1)
        and ``anomaly_kind`` (``""`` for normal rows).

    Raises
    ------
    ValueError
        ``rows`` is not positive or ``anomaly_rate`` not strictly between 0 and 0.5.
    """
    if rows <= 0:
        raise ValueError(f"rows must be a positive number of readings, got {rows}")
    if not 0 < anomaly_rate < 0.5:
        raise ValueError(f"anomaly_rate must be strictly between 0 and 0.5, got {anomaly_rate}")
    rng = np.random.default_rng(seed)
    shares = np.array([REGIME_SETTINGS[name][0] for name in REGIMES])
    regime = rng.choice(len(REGIMES), rows, p=shares / shares.sum())
    values = _readings(rng, regime)
    power = _power(rng, values)

    count = max(len(ANOMALY_KINDS), int(round(rows * anomaly_rate)))
    chosen = rng.choice(rows, count, replace=False)
    kinds = np.array(ANOMALY_KINDS)[np.arange(count) % len(ANOMALY_KINDS)]
    kind = np.full(rows, "", dtype=object)
    kind[chosen] = kinds

    spikes = chosen[kinds == "spike"]
    sensor = rng.integers(0, 3, spikes.size)
    values["vibration_mm_s"][spikes[sensor == 0]] += rng.uniform(3.0, 6.0, (sensor == 0).sum())
    values["discharge_bar"][spikes[sensor == 1]] += rng.uniform(6.0, 9.0, (sensor == 1).sum())
    values["bearing_temp_c"][spikes[sensor == 2]] += rng.uniform(18, 30, (sensor == 2).sum())

    drifts = chosen[kinds == "drift"]
    meter = rng.random(drifts.size) < 0.5
    values["flow_m3h"][drifts[meter]] *= rng.uniform(0.50, 0.65, meter.sum())
    values["suction_bar"][drifts[~meter]] += rng.uniform(0.6, 1.0, (~meter).sum())

    # A blocked impeller at nominal or peak speed: a standby pump's flow, a high current
    # and a hot bearing (each in the range some regime gives, but never together).
    blocked = chosen[kinds == "decoupled"]
    regime[blocked] = np.where(rng.random(blocked.size) < 0.6, 1, 2)
    fresh = _readings(rng, regime[blocked])
    fresh["flow_m3h"] = rng.uniform(40, 55, blocked.size)
    fresh["motor_current_a"] += rng.uniform(10, 16, blocked.size)
    fresh["bearing_temp_c"] += 0.45 * (fresh["motor_current_a"] - 30) + 4
    for name, column in fresh.items():
        values[name][blocked] = column
    power[blocked] = _power(rng, fresh)

    frame = pd.DataFrame({name: np.round(values[name], 3) for name in FEATURES})
    frame["power_kw"] = np.round(power, 3)
    frame["regime"] = regime
    frame["is_anomaly"] = (kind != "").astype(int)
    frame["anomaly_kind"] = kind.astype(str)
    return frame[COLUMNS]
