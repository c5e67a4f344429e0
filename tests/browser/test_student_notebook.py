"""The student tutorial in JupyterLab 4 and in Notebook 7, in Chromium: run it, answer
exercises wrong then right, take a hint, read the tutor's answers (a magic's and the chat
window's), and find it all in the store.

Both front ends run in the same server as the same learner, whose history the kernel replays:
each answers its own exercise (a solved exercise's attempts are practice and leave mastery
as it was).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from learnpulse.store import EventStore
from learnpulse.widgets.chat import SUGGESTIONS_CLASS
from tests.browser.conftest import VIEWPORT, screenshot

#: Milliseconds a front end gets to start a kernel and run the tutorial's first cells.
RUN_TIMEOUT_MS = 120_000
#: Milliseconds a widget gets to show the kernel's answer to a click.
ANSWER_TIMEOUT_MS = 30_000
NOTEBOOK = "notebooks/student-tutorial.ipynb"


@dataclass(frozen=True)
class FrontEnd:
    """Where a front end opens the tutorial, and how it says that the kernel is idle."""

    name: str
    path: str
    idle_selector: str


FRONT_ENDS = {
    "jupyterlab": FrontEnd(
        "JupyterLab 4",
        f"lab/tree/{NOTEBOOK}",
        ".jp-StatusBar-TextItem:has-text('| Idle')",
    ),
    "notebook7": FrontEnd(
        "Notebook 7",
        f"notebooks/{NOTEBOOK}",
        ".jp-Notebook-ExecutionIndicator[data-status='idle']",
    ),
}


@dataclass
class Tutorial:
    """The tutorial open in one front end, its cells run since ``started``.

    ``opening_errors`` are the page's errors before the first cell ran: the front end's own
    (Notebook 7.6 raises one while loading its settings, learnpulse or not).
    """

    page: object
    started: datetime
    front_end: FrontEnd
    opening_errors: int

    def errors_since_opening(self) -> list[str]:
        return self.page.errors[self.opening_errors :]


def run_all_cells(page) -> None:
    """Run > Run All Cells, from the menu bar, as a student would."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


@pytest.fixture(scope="module", params=list(FRONT_ENDS))
def tutorial(request, browser, jupyter_server):
    """The tutorial open in a front end with its cells run."""
    front_end = FRONT_ENDS[request.param]
    context = browser.new_context(viewport={"width": VIEWPORT["width"], "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    started = datetime.now(timezone.utc)
    url = f"{jupyter_server.url}{front_end.path}?token={jupyter_server.token}"
    page.goto(url, wait_until="commit")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=RUN_TIMEOUT_MS)
    # Run All before the kernel is connected runs nothing: wait for the front end's "idle".
    page.locator(front_end.idle_selector).first.wait_for(timeout=RUN_TIMEOUT_MS)
    opening_errors = len(page.errors)
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
        screenshot(page, f"{request.param}-not-run")
        pytest.fail(f"the tutorial's cells did not run in {front_end.name}; see the screenshot")
    # the notebook draws only the cells in view: back to the top, where the exercises are
    page.locator(".jp-WindowedPanel-outer").first.evaluate("element => element.scrollTop = 0")
    page.wait_for_selector("input[placeholder='Your answer']", timeout=RUN_TIMEOUT_MS)
    yield Tutorial(page, started, front_end, opening_errors)
    context.close()


def exercise_widget(page, title: str):
    return page.locator(".widget-vbox", has=page.locator(".widget-button")).filter(
        has_text=title
    ).first  # fmt: skip


def mastery_line(widget) -> str:
    return widget.get_by_text("Mastery —", exact=False).inner_text()


def wait_for_new_mastery(widget, before: str) -> None:
    deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
    while mastery_line(widget) == before:
        assert time.monotonic() < deadline, f"the mastery line did not change: {before!r}"
        time.sleep(0.2)


def check(widget) -> None:
    widget.get_by_role("button", name="Check").click()


def shown(locator, page, name: str) -> None:
    """Wait for ``locator``; if it never shows, leave a screenshot ``name`` of what the page
    showed instead (a CI failure left none to read), then fail."""
    try:
        locator.wait_for(timeout=ANSWER_TIMEOUT_MS)
    except PlaywrightTimeout:
        screenshot(page, name)
        raise


def type_answer(widget, value: str) -> None:
    box = widget.locator("input[placeholder='Your answer']")
    box.fill(value)
    box.press("Enter")  # the box sends its value on Enter (continuous_update=False)


def choose(widget, label: str) -> None:
    # check(), not a click on the label: it fails unless the option ends up chosen (a click
    # while the notebook still moved its cells could land elsewhere, and Check then sent none)
    widget.locator(".widget-radio-box label", has_text=label).locator("input").check()


def attempts_and_hints(server, started, item: str, at_least: int) -> pl.DataFrame:
    with EventStore(server.db_url) as store:
        return _wait_for_events(store, started, item, at_least)


@dataclass(frozen=True)
class ExerciseCase:
    """An exercise of the tutorial answered wrong, hinted, then right, in one front end."""

    front_end: str
    title: str
    item: str
    answer: Callable[[object, str], None]
    wrong: str
    feedback: str
    hint: str
    right: str


EXERCISE_CASES = [
    # ex-lists-01: a number in a text box
    ExerciseCase("jupyterlab", "Last index", "ex-lists-01", type_answer, "4",
                 "4 is the length of the list", "Python counts positions from 0", "3"),
    # ex-lists-02: radio buttons
    ExerciseCase("notebook7", "Negative index", "ex-lists-02", choose, "40",
                 "nums[-1] is the last element", "Negative indexes count from the end", "30"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tutorial", "case"),
    [(case.front_end, case) for case in EXERCISE_CASES],
    indirect=["tutorial"],
    ids=[case.front_end for case in EXERCISE_CASES],
)
def test_wrong_answer_hint_then_right_answer(tutorial, case, jupyter_server):
    page = tutorial.page
    widget = exercise_widget(page, case.title)
    widget.scroll_into_view_if_needed()
    case.answer(widget, case.wrong)
    check(widget)
    shown(widget.get_by_text(case.feedback, exact=False), page, f"{case.front_end}-no-feedback")
    first_mastery = mastery_line(widget)
    widget.get_by_role("button", name="Hint").click()
    widget.get_by_text(case.hint, exact=False).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    case.answer(widget, case.right)
    check(widget)
    shown(widget.locator("text=✔").first, page, f"{case.front_end}-no-tick")
    wait_for_new_mastery(widget, first_mastery)
    screenshot(page, f"{case.front_end}-exercise")

    events = attempts_and_hints(jupyter_server, tutorial.started, case.item, 3)
    attempts = events.filter(pl.col("kind") == "attempt").sort("ts")
    assert attempts.get_column("correct").to_list() == [False, True]
    assert events.filter(pl.col("kind") == "hint").height == 1
    assert tutorial.errors_since_opening() == []


def test_the_tutor_answers_in_the_notebook(tutorial, jupyter_server):
    page = tutorial.page
    question = "why does my total stop after the first number?"
    cell = page.locator(".jp-CodeCell", has_text=f"%tutor {question}")
    output = cell.locator(".jp-Cell-outputArea")
    deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
    while True:  # the answer is drawn after the cell
        # again each time: cells above that render late move this one out of view, and a
        # windowed notebook draws no output there (an empty output failed this test twice)
        cell.scroll_into_view_if_needed(timeout=RUN_TIMEOUT_MS)
        if len(output.inner_text().split()) > 10:
            break
        if time.monotonic() > deadline:
            screenshot(page, f"{tutorial.front_end.name}-no-tutor-answer")
            pytest.fail(f"no tutor answer shown: {output.inner_text()!r}")
        time.sleep(0.3)
    screenshot(page, f"{tutorial.front_end.name}-tutor")
    with EventStore(jupyter_server.db_url) as store:
        logged = _wait_for_events(store, tutorial.started, None, 2, kind="tutor_message")
    texts = " ".join(logged.get_column("payload").cast(pl.String).to_list())
    assert question in texts


def test_the_chat_window_answers_and_follows_up(tutorial, jupyter_server):
    """``%tutor`` alone: type a question, read the answer, click a suggested follow-up."""
    page = tutorial.page
    chat = page.locator(".widget-vbox", has=page.get_by_placeholder("Ask the tutor", exact=False))
    chat.first.scroll_into_view_if_needed(timeout=RUN_TIMEOUT_MS)
    chat = chat.first
    question = f"what is a list comprehension? ({tutorial.front_end.name})"
    box = chat.get_by_placeholder("Ask the tutor", exact=False)
    box.fill(question)
    box.press("Enter")
    chat.get_by_text("You:", exact=False).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    chat.get_by_text("Tutor", exact=True).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
    assert question in chat.inner_text()
    # a suggestion's button, never the Ask button beside the box: before the suggestions were
    # drawn, ".widget-hbox .widget-button" found Ask (whose text then named the follow-up)
    follow_up = chat.locator(f".{SUGGESTIONS_CLASS} .widget-button").first
    follow_up.wait_for(timeout=ANSWER_TIMEOUT_MS)
    suggestion = follow_up.get_attribute("title") or follow_up.inner_text()
    follow_up.click()
    deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
    while chat.get_by_text("Tutor", exact=True).count() < 2:
        assert time.monotonic() < deadline, f"no answer to the follow-up: {chat.inner_text()!r}"
        time.sleep(0.3)
    screenshot(page, f"{tutorial.front_end.name}-chat")

    with EventStore(jupyter_server.db_url) as store:
        asked = _wait_for_events(
            store, tutorial.started, None, 1, kind="tutor_message", text=question
        )
        followed = _wait_for_events(
            store, tutorial.started, None, 1, kind="tutor_message", text=suggestion[:30]
        )
        # it failed once in CI (the follow-up answered on the page, not found stored): say
        # what was stored instead, and what the server and its kernels logged
        stored = store.query(kinds=["tutor_message"], since=tutorial.started)
    texts = stored.get_column("payload").cast(pl.String).to_list()
    server_log = Path(jupyter_server.log.name).read_text(errors="replace")[-3000:]
    assert asked.height >= 1 and followed.height >= 1, (suggestion, texts, server_log)
    assert tutorial.errors_since_opening() == []


def _wait_for_events(store, since, item, at_least, kind=None, timeout=30.0, text=None):
    """The events since ``since`` (on ``item``, of ``kind``, with ``text`` in the payload)
    once there are ``at_least``."""
    deadline = time.monotonic() + timeout
    while True:
        frame = store.query(kinds=[kind] if kind else None, since=since)
        if item is not None:
            frame = frame.filter(pl.col("item_id") == item)
        if text is not None:
            frame = frame.filter(pl.col("payload").cast(pl.String).str.contains(text, literal=True))
        if frame.height >= at_least or time.monotonic() > deadline:
            return frame
        time.sleep(0.3)
