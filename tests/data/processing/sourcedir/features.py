"""The helper module of process.py, shipped next to it in the source folder."""

import pandas as pd


def income_by_education(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows and the share earning 50000+ per education level, most common first."""
    rich = frame["income"].str.strip() == "50000+."
    table = (
        frame.assign(rich=rich)
        .groupby(frame["education"].str.strip())
        .agg(rows=("rich", "size"), share_50k=("rich", "mean"))
    )
    return table.sort_values(["rows", "share_50k"], ascending=False)
