"""Census preprocessing in a processing job: read the raw CSV, clean it, split it into
train and test sets, encode the features and write features and labels as headerless CSVs.
The input, output paths and argument are those of the public SageMaker notebook."""

import argparse
import os

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, StandardScaler

INPUT = "/opt/ml/processing/input"
TRAIN = "/opt/ml/processing/train"
TEST = "/opt/ml/processing/test"
COLUMNS = [
    "age",
    "education",
    "major industry code",
    "class of worker",
    "num persons worked for employer",
    "capital gains",
    "capital losses",
    "dividends from stocks",
    "income",
]
LABELS = {" - 50000.": 0, " 50000+.": 1}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-test-split-ratio", type=float, default=0.3)
    args, _ = parser.parse_known_args()
    print(f"Received arguments {args}")

    source = os.path.join(INPUT, "census-income.csv")
    print(f"Reading input data from {source}")
    frame = pd.read_csv(source)[COLUMNS].dropna().drop_duplicates()
    frame["income"] = frame["income"].map(LABELS)
    negative, positive = np.bincount(frame["income"])
    print(
        f"Data after cleaning: {frame.shape}, {positive} positive examples, "
        f"{negative} negative examples"
    )

    ratio = args.train_test_split_ratio
    print(f"Splitting data into train and test sets with ratio {ratio}")
    x_train, x_test, y_train, y_test = train_test_split(
        frame.drop(columns="income"), frame["income"], test_size=ratio, random_state=0
    )
    encode = make_column_transformer(
        (
            KBinsDiscretizer(encode="onehot-dense", n_bins=10, strategy="uniform"),
            ["age", "num persons worked for employer"],
        ),
        (StandardScaler(), ["capital gains", "capital losses", "dividends from stocks"]),
        (
            OneHotEncoder(sparse_output=False, handle_unknown="ignore"),
            ["education", "major industry code", "class of worker"],
        ),
    )
    print("Running preprocessing and feature engineering transformations")
    train_features = encode.fit_transform(x_train)
    test_features = encode.transform(x_test)
    print(f"Train data shape after preprocessing: {train_features.shape}")
    print(f"Test data shape after preprocessing: {test_features.shape}")

    for folder, features, labels, name in (
        (TRAIN, train_features, y_train, "train"),
        (TEST, test_features, y_test, "test"),
    ):
        features_path = os.path.join(folder, f"{name}_features.csv")
        labels_path = os.path.join(folder, f"{name}_labels.csv")
        print(f"Saving {name} features to {features_path}")
        pd.DataFrame(features).to_csv(features_path, header=False, index=False)
        print(f"Saving {name} labels to {labels_path}")
        labels.to_csv(labels_path, header=False, index=False)


if __name__ == "__main__":
    main()
