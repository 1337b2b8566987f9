"""Late and changed data on demand: late commits, updates, soft and hard deletes, a rewritten file.

`advance` already brings a few of each kind a day; these functions make them happen now, at a
chosen share and age, so a test can check that the warehouse
follows. Every change is stamped on the simulated clock: just after the newest `updated_at` of
its table (late commits: `age_seconds` before it). Hard deletes are logged in
`$DEMO_DIR/deletions.json` for the ground truth (the shop database itself keeps no trace).
"""

from demo.changes.deletions import hard_delete, load_deletions
from demo.changes.rewrite import rewrite_event_file
from demo.changes.updates import commit_late, soft_delete, update

__all__ = [
    "commit_late",
    "hard_delete",
    "load_deletions",
    "rewrite_event_file",
    "soft_delete",
    "update",
]
