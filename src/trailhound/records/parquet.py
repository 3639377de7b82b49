"""Parquet files (Amazon Security Lake's OCSF, or CloudTrail's own fields in columns), read row group by row
group with pyarrow.

Recognised by content: a Parquet file starts (and ends) with the magic `PAR1`. Parquet's pages are
compressed, so the needle prefilter cannot search the stored bytes: each row is mapped to its CloudTrail
record first, and only then held against the prefilter (`keep`), so memory follows the row group and the
records that hit, never the file. Only the columns the mapping reads are decoded.

pyarrow is imported here only, when a Parquet file is met: a scan of JSON never loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, BinaryIO

import orjson

from . import ocsf
from .formats import Document, collect_item

MAGIC = b"PAR1"
BATCH_ROWS = 4096  # rows decoded at once: a few MB of Python objects at most
_NATIVE = ("eventName", "eventSource")


def read_parquet(handle: BinaryIO, doc: Document, keep: Callable[[bytes], bool] | None = None) -> None:
    """Every row of a Parquet file into `doc` as a CloudTrail record (the ones `keep` accepts, when given).

    `handle` must be seekable: a Parquet file's index sits in its footer."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        doc.note("a Parquet file: reading it needs pyarrow (pip install 'trailhound[lake]')")
        return
    try:
        parquet = pq.ParquetFile(handle)
    except (pa.ArrowException, OSError, ValueError) as exc:
        doc.note(f"not a readable Parquet file ({_reason(exc)}); nothing in it could be read")
        return
    names = parquet.schema_arrow.names
    columns = _columns(names)
    if columns is None:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        doc.note(f"a Parquet file of another schema (columns: {shown}): neither OCSF (class_uid) "
                 "nor CloudTrail (eventName, eventSource)")
        return
    group = 0
    try:
        for group in range(parquet.num_row_groups):
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=columns):
                for row in batch.to_pylist():
                    _take(row, doc, keep)
    except (pa.ArrowException, OSError, ValueError) as exc:
        doc.note(f"broken Parquet in row group {group + 1} of {parquet.num_row_groups} ({_reason(exc)}); "
                 f"read the {len(doc.records)} record(s) before it")


def _columns(names: list[str]) -> list[str] | None:
    """The columns to decode: the mapping's (OCSF) or all (CloudTrail fields as columns); None for neither."""
    if "class_uid" in names:  # OCSF: without an `api` column, of another class (DNS, flows): skipped quietly
        return [c for c in ocsf.COLUMNS if c in names]
    if all(c in names for c in _NATIVE):
        return names
    return None


def _take(row: dict[str, Any], doc: Document, keep: Callable[[bytes], bool] | None) -> None:
    if ocsf.is_cloudtrail(row):
        record = ocsf.to_cloudtrail(row)
    elif ocsf.is_ocsf(row):
        doc.skipped += 1  # an OCSF event of another class (a DNS query, a flow): not CloudTrail
        return
    else:  # CloudTrail's own fields as columns: times come back as datetimes
        record = {k: ocsf.time_text(v) if isinstance(v, datetime) else v for k, v in row.items()}
    if keep is not None and not keep(orjson.dumps(record, default=str)):  # the prefilter, on the record
        doc.unparsed += 1
        return
    collect_item(record, doc)


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
