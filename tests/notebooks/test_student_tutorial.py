"""The student tutorial runs top to bottom in a real kernel, and its events reach the store."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import polars as pl
import pytest
from nbclient import NotebookClient

from learnpulse.store import EventStore

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "student-tutorial.ipynb"
#: Seconds the kernel's background sink may take to deliver after the kernel stopped.
DELIVERY_WAIT_S = 15.0
CELL_TIMEOUT_S = 120


def outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
        else:
            parts.append(output.data.get("text/plain", ""))
    return "\n".join(parts)


def cell_starting(nb: nbformat.NotebookNode, first_line: str, nth: int = 0):
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(first_line)]
    return found[nth]


def wait_for_events(url: str, kinds: set[str]) -> pl.DataFrame:
    """The learner's events once every kind in ``kinds`` arrived (or the wait is over)."""
    deadline = time.monotonic() + DELIVERY_WAIT_S
    while True:
        with EventStore(url) as store:
            events = store.query(learners="tutorial-student")
        if kinds <= set(events.get_column("kind").to_list()) or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, str]:
    folder = tmp_path_factory.mktemp("tutorial")
    url = f"sqlite:///{folder / 'events.db'}"
    with pytest.MonkeyPatch.context() as env:  # the kernel inherits these
        env.setenv("LEARNPULSE_DB_URL", url)
        env.setenv("LEARNPULSE_LEARNER_ID", "tutorial-student")
        env.setenv("LEARNPULSE_SPOOL_DIR", str(folder / "spool"))
        env.delenv("LEARNPULSE_LLM_URL", raising=False)  # the offline tutor
        nb = nbformat.read(NOTEBOOK, as_version=4)
        client = NotebookClient(
            nb,
            timeout=CELL_TIMEOUT_S,
            kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
        )
        client.execute()
    return nb, url


@pytest.mark.slow
def test_tutorial_runs_top_to_bottom(executed) -> None:
    nb, _ = executed
    errors = [
        (c.source.splitlines()[0], o.ename)
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert errors == [("scores = [12, 7, 15]", "IndexError")]  # the one failing on purpose
    widget_cells = [
        c for c in nb.cells if c.cell_type == "code" and c.source.startswith("%exercise")
    ]
    assert len(widget_cells) >= 4
    for cell in widget_cells:
        (shown,) = cell.outputs
        assert "application/vnd.jupyter.widget-view+json" in shown.data
        assert shown.data["text/plain"].startswith("Exercise ex-")


@pytest.mark.slow
def test_tutorial_feedback_is_specific(executed) -> None:
    nb, _ = executed
    first = outputs_text(cell_starting(nb, "%%check ex-lists-05"))
    assert "raised IndexError: list index out of range" in first
    assert "`return [items[0], items[len(items)]]`" in first
    loop = outputs_text(cell_starting(nb, "%%check ex-loops-04"))
    assert "total([3, 5, 8]) returned 3, expected 16" in loop
    review = outputs_text(cell_starting(nb, "%review total"))  # the return inside the loop
    assert "Line 5** (return-in-loop)" in review and "`for n in numbers:`" in review
    assert outputs_text(cell_starting(nb, "%hint ex-lists-05")).startswith("Hint 1 of 3")
    explained = outputs_text(cell_starting(nb, "%explain"))
    assert "IndexError" in explained and "scores" in explained
    tutor = outputs_text(cell_starting(nb, "%tutor why does my total"))
    assert "Sources:" in tutor and "course:loops" in tutor
    progress = outputs_text(cell_starting(nb, "%progress"))
    assert "Lists and indexing" in progress and "Next: ex-" in progress


@pytest.mark.slow
def test_tutorial_events_arrive_in_the_store(executed) -> None:
    _, url = executed
    events = wait_for_events(url, {"attempt", "hint", "tutor_message"})
    attempts = events.filter(pl.col("kind") == "attempt")
    assert attempts.get_column("item_id").to_list() == [
        "ex-lists-05",
        "ex-lists-05",
        "ex-loops-04",
        "ex-loops-05",
    ]
    assert not any(attempts.get_column("correct").to_list())  # the attempts shown are buggy
    assert attempts.get_column("attempt").to_list() == [1, 2, 1, 1]
    assert attempts.get_column("hints_used").to_list() == [0, 1, 0, 0]
    hints = events.filter(pl.col("kind") == "hint")
    assert hints.get_column("item_id").to_list() == ["ex-lists-05"]
    assert events.filter(pl.col("kind") == "tutor_message").height >= 8  # 4 questions, 2 each
    assert set(events.get_column("course_id").to_list()) == {"demo-python-101"}
