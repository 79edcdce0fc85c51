"""sgdagan.integrity: a result is whole only if it reads back completely as its format."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sgdagan.integrity import damaged, is_whole


def _write(path, kind):
    if kind == "parquet":
        pd.DataFrame({"a": np.arange(1000), "b": np.linspace(0, 1, 1000)}).to_parquet(path)
    elif kind == "npz":
        np.savez(path, sigma=np.eye(8), other=np.ones(500))
    elif kind in ("json", "ipynb"):
        path.write_text(json.dumps({"cells": list(range(200))}))
    elif kind == "yaml":
        path.write_text("train:\n  steps: [" + ", ".join(map(str, range(200))) + "]\n")
    elif kind == "csv":
        pd.DataFrame({"a": range(200)}).to_csv(path, index=False, lineterminator="\n")


@pytest.mark.parametrize("kind", ["parquet", "npz", "json", "ipynb", "yaml", "csv"])
def test_a_written_file_is_whole_and_its_truncation_is_not(tmp_path, kind):
    path = tmp_path / f"result.{kind}"
    _write(path, kind)
    assert is_whole(path)
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size * 2 // 3)
    assert not is_whole(path)
    path.write_bytes(b"")
    assert not is_whole(path)
    assert not is_whole(tmp_path / f"absent.{kind}")


def test_damaged_counts_missing_files_only_when_asked(tmp_path):
    whole, broken, absent = (str(tmp_path / name) for name in ("a.csv", "b.csv", "c.csv"))
    _write(tmp_path / "a.csv", "csv")
    (tmp_path / "b.csv").write_text("a\n1")  # no final newline: cut off mid-line
    assert damaged([whole, broken, absent], count_missing=False) == [broken]
    assert damaged([whole, broken, absent], count_missing=True) == [broken, absent]
