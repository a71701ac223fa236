#!/usr/bin/env python3
"""Write fixtures/routes/others/: fixtures/routes/full-schema.jsonl as Parquet files of other
writers (DuckDB, polars, pyarrow), in the layouts they choose (dictionaries, several row groups and
pages, data page v2, snappy and zstd), and one file with nulls, empty and null lists, extra columns
and bad rows, and one with a struct column (left to hyparquet). test/parquet-readers.test.ts reads each with moe-prof's reader and with hyparquet.

  python scripts/make-parquet-fixtures.py     (needs duckdb, polars, pyarrow: the bench venv's)

Written with duckdb 2.0.1, polars 2.1.0, pyarrow 26.0.1 (scripts/bench-hist's venv, 2026-12-06).
"""

from __future__ import annotations

import json
import os

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "fixtures", "routes", "full-schema.jsonl")
OUT = os.path.join(ROOT, "fixtures", "routes", "others")
COLS = ["req_id", "token_idx", "layer", "topk_ids", "topk_weights", "phase", "step", "token_id", "router_logits_dtype"]


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    with open(SRC) as f:
        meta = f.readline().strip()
        rows = [json.loads(line) for line in f]
    kv = {"moe_prof.meta": meta}

    # DuckDB: as a user converts a JSONL log (read_json, route rows only), its layout: dictionaries
    # (PLAIN_DICTIONARY), snappy, optional columns, BIGINT lists.
    quoted = meta.replace("'", "''")
    duckdb.connect().execute(
        f"COPY (SELECT {', '.join(COLS)} FROM read_json('{SRC}', format='newline_delimited') WHERE type='route') "
        f"TO '{OUT}/duckdb-snappy.parquet' (FORMAT parquet, COMPRESSION snappy, KV_METADATA {{'moe_prof.meta': '{quoted}'}})"
    )

    df = pl.DataFrame(rows).select(COLS)
    # polars: zstd, RLE_DICTIONARY, row groups of 3 rows
    df.write_parquet(f"{OUT}/polars-zstd.parquet", compression="zstd", row_group_size=3, metadata=kv)

    table = df.to_arrow().replace_schema_metadata(kv)
    # pyarrow: data page v2, pages of a few values, row groups of 4 rows, snappy
    pq.write_table(
        table,
        f"{OUT}/pyarrow-v2-pages.parquet",
        compression="snappy",
        data_page_version="2.0",
        data_page_size=16,
        write_batch_size=2,
        row_group_size=4,
    )

    # Nulls and bad rows, PLAIN values: each must read as hyparquet reads it and be worded by the scan.
    odd = [dict(r) for r in rows]
    odd[1]["phase"] = None  # an optional field left out
    odd[2]["token_id"] = None
    odd[3]["topk_ids"] = [2, None]  # a null element: invalid
    odd[4]["topk_weights"] = None  # a null list: invalid (weights are logged)
    odd[5]["topk_ids"] = []  # an empty list: invalid (top_k 2)
    odd[6]["type"] = "meta"  # a second meta line
    for i, r in enumerate(odd):
        r.setdefault("type", "route")
        r["extra_int"] = i
        r["extra_float"] = i / 4
    schema = pa.schema(
        [
            ("type", pa.string()),
            ("req_id", pa.string()),
            ("token_idx", pa.int64()),
            ("layer", pa.int32()),
            ("topk_ids", pa.list_(pa.int32())),
            ("topk_weights", pa.list_(pa.float32())),
            ("phase", pa.string()),
            ("step", pa.int64()),
            ("token_id", pa.int64()),
            ("router_logits_dtype", pa.string()),
            ("extra_int", pa.int64()),
            ("extra_float", pa.float64()),
        ],
        metadata=kv,
    )
    pq.write_table(
        pa.Table.from_pylist(odd, schema=schema),
        f"{OUT}/pyarrow-nulls-plain.parquet",
        compression="none",
        use_dictionary=False,
    )

    # A struct column: not a layout moe-prof's reader takes (hyparquet reads it, as an object).
    nested = table.append_column("extra", pa.array([{"a": i} for i in range(len(rows))]))
    pq.write_table(nested.replace_schema_metadata(kv), f"{OUT}/pyarrow-struct.parquet", compression="zstd")


if __name__ == "__main__":
    main()
