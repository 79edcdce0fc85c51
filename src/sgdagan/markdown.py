"""Numbers and tables as Markdown for reports/README.md; round_sig also rounds the sample grids."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def round_sig(x: float, digits: int = 2) -> int:
    """Round a positive number to `digits` significant digits, as an int (1234 -> 1200)."""
    if x <= 0:
        raise ValueError(f"round_sig: expected a positive number, got {x}")
    exponent = math.floor(math.log10(x)) - digits + 1
    return int(round(x / 10.0**exponent) * 10**exponent) if exponent > 0 else int(round(x))


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table; floats to `digits` significant digits, NaN as '–'."""
    def fmt(v) -> str:
        if isinstance(v, (bool, np.bool_)):
            return str(bool(v))
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                return "–"
            if abs(v) >= 10 ** digits:  # sample sizes: an integer, `digits` significant
                return str(round_sig(abs(v), digits) * (1 if v > 0 else -1))
            return f"{v:.{digits}g}"
        return str(v)

    header = "| " + " | ".join(str(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def with_ci(table: pd.DataFrame, name: str, digits: int = 3) -> pd.Series:
    """Format `name` with its `name_lo`/`name_hi` columns as 'x [lo, hi]'."""
    def f(v):
        return "–" if not np.isfinite(v) else f"{v:.{digits}g}"
    return pd.Series([f"{f(a)} [{f(b)}, {f(c)}]" for a, b, c in
                      zip(table[name], table[f"{name}_lo"], table[f"{name}_hi"])], index=table.index)
