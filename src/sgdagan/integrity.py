"""Is an output whole? The pipeline's files checked the way their readers would read them, so that
a truncated, emptied or deleted result is rebuilt by the next run rather than read, or silently
skipped because everything downstream of it looks up to date."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Iterable

import yaml


def is_whole(path: str | Path) -> bool:
    """Whether the file at `path` exists and reads back completely as the format its suffix names."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.read_metadata(path)  # the footer: a truncated file has none
        elif path.suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                return archive.testzip() is None  # every member's CRC
        elif path.suffix in (".json", ".ipynb"):
            json.loads(path.read_text())
        elif path.suffix == ".yaml":
            yaml.safe_load(path.read_text())
        elif path.suffix == ".csv":
            return path.read_bytes().endswith(b"\n")  # written whole, with a final newline
    except Exception:  # noqa: BLE001  (any failure to read it back means it is not whole)
        return False
    return True


def damaged(paths: Iterable[str], count_missing: bool) -> list[str]:
    """Of `paths`, those that exist but are not whole, and (with `count_missing`) those missing."""
    return [path for path in paths if (Path(path).exists() or count_missing) and not is_whole(path)]
