"""Meets data without the column it needs: says why in /opt/ml/output/message and fails."""

import pandas as pd

frame = pd.read_csv("/opt/ml/processing/input/census-income.csv")
if "wage per hour" not in frame.columns:
    reason = "census-income.csv has no 'wage per hour' column"
    with open("/opt/ml/output/message", "w") as message:
        message.write(reason)
    raise ValueError(f"cannot compute wages: {reason}")
