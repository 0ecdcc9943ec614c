"""Flight delay, the preprocessing step: run by a SageMaker Processing job in the
scikit-learn container (``SKLearnProcessor``), or by hand.

Reads every CSV in the input folder (``/opt/ml/processing/input``: the raw flights,
header included), one-hot encodes the categories, puts the label first, splits the rows
into train / validation / test (stratified on the label, so each split has the same
delay rate), and writes, each into its own output folder:

- ``train/train.csv`` and ``validation/validation.csv``: label first, no header — what the
  built-in XGBoost algorithm reads;
- ``test/test.csv``: the features only (what batch transform scores);
- ``labels/test_labels.csv``: ``flight`` (the row number in the raw data) and
  ``delayed`` of the test rows, to evaluate the test predictions against.

    python preprocessing.py --validation-fraction 0.15 --test-fraction 0.15 --seed 7 \\
        [--input-dir DIR --output-dir DIR]

The folders default to the processing job's: ``/opt/ml/processing/<name>``. The job
uploads each output folder to S3 after this script exits successfully.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

LABEL = "delayed"
CATEGORICAL = ["carrier", "origin", "dest", "weather"]
PROCESSING = Path("/opt/ml/processing")


def read_flights(folder: Path) -> pd.DataFrame:
    """Every ``*.csv`` directly in ``folder`` (in name order), as one frame."""
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise SystemExit(f"no CSV file in {folder}: give the raw flights as the job's input")
    frames = [pd.read_csv(path) for path in files]
    return pd.concat(frames, ignore_index=True)


def split(
    flights: pd.DataFrame, validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """One-hot features and labels of the train, validation and test rows."""
    features = pd.get_dummies(flights.drop(columns=LABEL), columns=CATEGORICAL, dtype=int)
    labels = flights[LABEL]
    held_out = validation_fraction + test_fraction
    x_train, x_rest, y_train, y_rest = train_test_split(
        features, labels, test_size=held_out, stratify=labels, random_state=seed
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=test_fraction / held_out, stratify=y_rest, random_state=seed
    )
    return {
        "train": (x_train, y_train),
        "validation": (x_val, y_val),
        "test": (x_test, y_test),
    }


def write(splits: dict[str, tuple[pd.DataFrame, pd.Series]], output: Path) -> None:
    for name in ("train", "validation"):
        x, y = splits[name]
        folder = output / name
        folder.mkdir(parents=True, exist_ok=True)
        pd.concat([y, x], axis=1).to_csv(folder / f"{name}.csv", header=False, index=False)
    x_test, y_test = splits["test"]
    (output / "test").mkdir(parents=True, exist_ok=True)
    x_test.to_csv(output / "test" / "test.csv", header=False, index=False)
    (output / "labels").mkdir(parents=True, exist_ok=True)
    y_test.rename_axis("flight").to_csv(output / "labels" / "test_labels.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--input-dir", type=Path, default=PROCESSING / "input")
    parser.add_argument("--output-dir", type=Path, default=PROCESSING)
    args = parser.parse_args()
    fractions = (args.validation_fraction, args.test_fraction)
    if min(fractions) <= 0 or sum(fractions) >= 1:
        parser.error("the validation and test fractions must be positive and sum below 1")

    flights = read_flights(args.input_dir)
    print(f"read {len(flights):,} flights, {flights[LABEL].mean():.1%} delayed")
    splits = split(flights, args.validation_fraction, args.test_fraction, args.seed)
    write(splits, args.output_dir)
    x_train = splits["train"][0]
    print(f"{x_train.shape[1]} feature columns: {', '.join(x_train.columns)}")
    for name, (x, y) in splits.items():
        print(f"{name}: {len(x):,} rows, {y.mean():.1%} delayed")


if __name__ == "__main__":
    main()
