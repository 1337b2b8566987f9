"""The progress display of `python -m ingestion`: fed the calls dlt's collector receives."""

from __future__ import annotations

import io
import re

from ingestion.progress import ProgressCollector, end_live_display


class Terminal(io.StringIO):
    """A stream that says it is a terminal, so rich draws its live display."""

    def isatty(self) -> bool:
        return True


def _feed(collector: ProgressCollector) -> None:
    """What dlt reports for one source: extract rows per table, normalize files, load jobs."""
    with collector("Extract crm"):
        collector.update("Resources", 0, 2)
        for _ in range(3):
            collector.update("customers", inc=500)
        collector.update("deals", inc=42)
        collector.update("Resources", 2)
    with collector("Normalize crm in 1764.1"):
        collector.update("Files", 0, 2)
        collector.update("customers", 1500)
        collector.update("deals", 42)
        collector.update("Files", 2)
    with collector("Load crm in 1764.1"):
        collector.update("Jobs", 0, 2)
        collector.update("Jobs")
        collector.update("Jobs", 1, message="WARNING: Some of the jobs failed!", label="Failed")
        collector.update("Jobs")


def test_on_a_terminal_a_live_table_per_source_ends_with_rows_files_and_rate() -> None:
    screen = Terminal()

    _feed(ProgressCollector("crm", live=True, stream=screen))

    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())  # drop cursor moves, colour
    last_frame = text[text.rindex("crm: load") :]
    assert re.search(r"customers\s*│\s*1,500\s*│\s*[\d,]+\s*│\s*1,500", last_frame), last_frame
    assert re.search(r"deals\s*│\s*42\s*│\s*[\d,]+\s*│\s*42", last_frame), last_frame
    assert "files: 2 normalized, 2/2 loaded" in last_frame  # the failed-jobs counter is not a file
    assert "crm: extract" in text  # redrawn while it ran


def test_off_a_terminal_plain_lines_one_per_table_and_step() -> None:
    log = io.StringIO()

    _feed(ProgressCollector("crm", live=False, stream=log))

    lines = log.getvalue().splitlines()
    assert [re.sub(r"\(\S+ rows/s\)", "(R rows/s)", line) for line in lines] == [
        "crm extract customers: 1,500 rows (R rows/s)",
        "crm extract deals: 42 rows (R rows/s)",
        "crm normalize: 2 files",
        "crm load: 2/2 files",
    ]
    assert "\x1b" not in log.getvalue()


def test_a_source_that_stops_before_its_load_leaves_its_table_to_the_next_one() -> None:
    """A failed source's live display ends when the next starts (two would redraw over each
    other, and one never stopped leaves the cursor hidden)."""
    screen = Terminal()
    failed = ProgressCollector("crm", live=True, stream=screen)
    try:
        with failed("Extract crm"):
            failed.update("customers", inc=7)
            raise ConnectionError("the API went away")
    except ConnectionError:
        pass
    first = failed._live
    assert first is not None and first.is_started

    second = ProgressCollector("fx", live=True, stream=screen)
    with second("Extract fx"):
        assert not first.is_started
        second.update("rates", inc=3)
    end_live_display()  # what the process does at exit

    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert re.search(r"customers\s*│\s*7\s*│", text)  # the failed source's last frame
    assert re.search(r"rates\s*│\s*3\s*│", text)
