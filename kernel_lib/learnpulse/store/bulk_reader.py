"""Helper process for large reads: run queries with connectorx, write one Arrow IPC file.

Reads a JSON request ``{"uri", "queries", "out"}`` on stdin. The queries run in parallel
threads (connectorx releases the GIL) and their results are concatenated in the given order.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

import connectorx
import pyarrow as pa
import pyarrow.ipc


def main() -> None:
    request = json.load(sys.stdin)
    with ThreadPoolExecutor(max_workers=len(request["queries"])) as pool:
        tables = list(
            pool.map(
                lambda sql: connectorx.read_sql(request["uri"], sql, return_type="arrow"),
                request["queries"],
            )
        )
    table = pa.concat_tables(tables)
    with pa.OSFile(request["out"], "wb") as sink, pyarrow.ipc.new_file(sink, table.schema) as out:
        out.write_table(table)


if __name__ == "__main__":
    main()
