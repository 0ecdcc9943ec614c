"""A FrameworkProcessor entry point: a summary of the census data per education level,
computed by the helper module that ships in the same source folder."""

import argparse
import os

import pandas as pd
from features import income_by_education

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--min-rows", type=int, default=1)
    args = parser.parse_args()
    frame = pd.read_csv("/opt/ml/processing/input/census/census-income.csv")
    table = income_by_education(frame)
    table = table[table["rows"] >= args.min_rows]
    out = os.path.join("/opt/ml/processing/summary", "income_by_education.csv")
    table.to_csv(out)
    print(f"wrote {len(table)} education levels to {out}")
