"""The student tutorial in JupyterLab 4, in Chromium: run it, answer an exercise wrong then
right, take a hint, read the tutor's answer, and find it all in the store."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import polars as pl
import pytest

from learnpulse.store import EventStore
from tests.browser.conftest import screenshot

#: Milliseconds JupyterLab gets to start a kernel and run the tutorial's first cells.
RUN_TIMEOUT_MS = 120_000
EXERCISE = "ex-lists-01"


def run_all_cells(page) -> None:
    """Run > Run All Cells, from the menu bar, as a student would."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


@pytest.fixture(scope="module")
def tutorial(browser, jupyter_server):
    """The tutorial open in JupyterLab with its cells run; yields (page, start time)."""
    from tests.browser.conftest import VIEWPORT

    context = browser.new_context(viewport={"width": VIEWPORT["width"], "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    started = datetime.now(timezone.utc)
    notebook = "lab/tree/notebooks/student-tutorial.ipynb"
    page.goto(f"{jupyter_server.url}{notebook}?token={jupyter_server.token}", wait_until="commit")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator, .jp-KernelStatus", timeout=RUN_TIMEOUT_MS
    )
    # Run All before the kernel is connected runs nothing: wait for the status bar's "Idle".
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle")).first.wait_for(
        timeout=RUN_TIMEOUT_MS
    )
    page.locator(".jp-Notebook .jp-Cell").first.click()
    run_all_cells(page)
    # the cells have run once the last question to the tutor is in the store (the page only
    # draws the cells in view, so it cannot tell)
    with EventStore(jupyter_server.db_url) as store:
        asked = _wait_for_events(
            store, started, None, 1, kind="tutor_message", timeout=RUN_TIMEOUT_MS / 1000,
            text="break and continue",
        )  # fmt: skip
    if asked.is_empty():
        screenshot(page, "jupyterlab-not-run")
        pytest.fail("the tutorial's cells did not run; see artifacts/jupyterlab-not-run.png")
    # JupyterLab draws only the cells in view: back to the top, where the first exercise is
    page.locator(".jp-WindowedPanel-outer").first.evaluate("element => element.scrollTop = 0")
    page.wait_for_selector("input[placeholder='Your answer']", timeout=RUN_TIMEOUT_MS)
    yield page, started
    context.close()


def exercise_widget(page):
    return (
        page.locator(".widget-vbox", has=page.locator("input[placeholder='Your answer']"))
        .filter(has_text="Last index")
        .first
    )


def answer(widget, value: str) -> None:
    box = widget.locator("input[placeholder='Your answer']")
    box.fill(value)
    box.press("Enter")  # the box sends its value on Enter (continuous_update=False)
    widget.get_by_role("button", name="Check").click()


def test_wrong_answer_hint_then_right_answer(tutorial, jupyter_server):
    page, started = tutorial
    widget = exercise_widget(page)
    widget.scroll_into_view_if_needed()
    answer(widget, "4")
    widget.get_by_text("4 is the length of the list", exact=False).wait_for(timeout=30_000)
    first_mastery = widget.get_by_text("Mastery —", exact=False).inner_text()
    widget.get_by_role("button", name="Hint").click()
    widget.get_by_text("Python counts positions from 0", exact=False).wait_for(timeout=30_000)
    answer(widget, "3")
    widget.locator("text=✔").first.wait_for(timeout=30_000)
    deadline = time.monotonic() + 30
    while widget.get_by_text("Mastery —", exact=False).inner_text() == first_mastery:
        assert time.monotonic() < deadline, "the mastery line did not change"
        time.sleep(0.2)
    screenshot(page, "jupyterlab-exercise")

    with EventStore(jupyter_server.db_url) as store:
        events = _wait_for_events(store, started, EXERCISE, 3)
    attempts = events.filter(pl.col("kind") == "attempt").sort("ts")
    assert attempts.get_column("correct").to_list() == [False, True]
    assert events.filter(pl.col("kind") == "hint").height == 1
    assert page.errors == []


def test_the_tutor_answers_in_the_notebook(tutorial, jupyter_server):
    page, started = tutorial
    question = "why does my total stop after the first number?"
    cell = page.locator(".jp-CodeCell", has_text=f"%tutor {question}")
    cell.scroll_into_view_if_needed(timeout=RUN_TIMEOUT_MS)
    output = cell.locator(".jp-Cell-outputArea")
    deadline = time.monotonic() + 30
    while len(output.inner_text().split()) <= 10:  # the answer is drawn after the cell
        assert time.monotonic() < deadline, f"no tutor answer shown: {output.inner_text()!r}"
        time.sleep(0.3)
    screenshot(page, "jupyterlab-tutor")
    with EventStore(jupyter_server.db_url) as store:
        logged = _wait_for_events(store, started, None, 2, kind="tutor_message")
    texts = " ".join(logged.get_column("payload").cast(pl.String).to_list())
    assert question in texts


def _wait_for_events(store, since, item, at_least, kind=None, timeout=30.0, text=None):
    """The events since ``since`` (on ``item``, of ``kind``, with ``text`` in the payload)
    once there are ``at_least``."""
    deadline = time.monotonic() + timeout
    while True:
        frame = store.query(kinds=[kind] if kind else None, since=since)
        if item is not None:
            frame = frame.filter(pl.col("item_id") == item)
        if text is not None:
            frame = frame.filter(pl.col("payload").cast(pl.String).str.contains(text))
        if frame.height >= at_least or time.monotonic() > deadline:
            return frame
        time.sleep(0.3)
