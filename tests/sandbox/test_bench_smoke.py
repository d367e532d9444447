"""The sandbox benchmark still runs (tiny size; the real figures come from `make bench`)."""

from __future__ import annotations

import re

from tests.bench.bench_sandbox import measure
from tests.bench.common import print_table


async def test_the_sandbox_benchmark_runs_end_to_end(capsys: object) -> None:
    rows = await measure(calls=20)
    assert [r.name.split(":")[0] for r in rows] == ["sandbox"] * 4
    assert all(re.search(r"\d", r.value) for r in rows)
    print_table(rows)
