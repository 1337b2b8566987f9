"""Does a key repeat within one run? If not, dlt's merge may skip its de-duplicating window.

dlt's merge ranks every staged row with ``ROW_NUMBER() OVER (PARTITION BY <key>)`` unless the
table declares its staged data de-duplicated; that window is about half of the load step of a
large event drop (docs/loaders.md). Event files rarely repeat an event within one run
(at-least-once delivery re-sends it in a later file, usually a later run, which the merge's
delete handles), so the loader checks each run and declares the data de-duplicated only when no
key repeated.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingestion.filesystem import scratch

# 8 bytes a key: 16M keys = 128 MiB. Past it the run is treated as repeating (the safe path).
DEFAULT_MAX_KEYS = 16_000_000
# Sorted runs are merged up to this size; larger ones stay separate (bounds the merge copies).
MAX_MERGED_KEYS = 4_000_000


class RunKeys:
    """The 64-bit hashes of the keys one run has yielded, to tell whether any key repeated.

    Exact where it matters: equal keys have equal hashes, so "no repeat" is certain. Two keys
    sharing a hash (about once in 10^5 runs of 10M keys) read as a repeat, which only costs the
    slower de-duplicating merge. Once a repeat is seen the hashes are dropped.
    """

    def __init__(self, key_columns: list[str], max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self.key_columns = key_columns
        self.max_keys = max_keys
        self.repeated = False
        self._sorted_runs: list[np.ndarray] = []

    def add(self, rows: pa.Table | pa.RecordBatch) -> bool:
        """Take one batch of rows; True once any key of this run (may have) repeated."""
        if self.repeated or rows.num_rows == 0:
            return self.repeated
        batch = np.sort(self._hashes(rows))  # sorted, then compared to its neighbours
        if (
            bool(np.any(batch[1:] == batch[:-1]))
            or sum(run.size for run in self._sorted_runs) + batch.size > self.max_keys
            or any(_shares_any(run, batch) for run in self._sorted_runs)
        ):
            self._give_up()
            return True
        self._sorted_runs.append(batch)
        self._merge_small_runs()
        return False

    def _hashes(self, rows: pa.Table | pa.RecordBatch) -> np.ndarray:
        keys = pa.table({f"k{i}": rows.column(name) for i, name in enumerate(self.key_columns)})
        args = ", ".join(f"k{i}" for i in range(len(self.key_columns)))
        with scratch.cursor() as con:
            con.register("batch_keys", keys)
            result = con.execute(f"select hash({args}) as h from batch_keys").fetchnumpy()
        return np.asarray(result["h"], dtype=np.uint64)

    def _merge_small_runs(self) -> None:
        runs = self._sorted_runs
        while len(runs) > 1 and runs[-2].size <= 2 * runs[-1].size:
            if runs[-2].size + runs[-1].size > MAX_MERGED_KEYS:
                break
            last = runs.pop()
            # two sorted runs: a stable sort of their concatenation is a linear merge
            runs[-1] = np.sort(np.concatenate((runs[-1], last)), kind="stable")

    def _give_up(self) -> None:
        self.repeated = True
        self._sorted_runs = []


def _shares_any(sorted_run: np.ndarray, sorted_batch: np.ndarray) -> bool:
    """Whether two sorted arrays have any value in common."""
    if not sorted_run.size or sorted_batch[-1] < sorted_run[0] or sorted_batch[0] > sorted_run[-1]:
        return False
    at = np.searchsorted(sorted_run, sorted_batch)
    inside = at < sorted_run.size
    return bool(np.any(sorted_run[at[inside]] == sorted_batch[inside]))
