"""The notebook-activity IPython extension on a real InteractiveShell and a real kernel."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import polars as pl
import pytest
from IPython.core.interactiveshell import InteractiveShell

from learnpulse.collectors import EventSink, SinkConfig, StoreDestination
from learnpulse.collectors.notebook import NotebookActivity, NotebookConfig
from learnpulse.events import validate_event
from learnpulse.store import EventStore

FAST = SinkConfig(gather_s=0.02, retry_s=0.1, exit_timeout_s=5.0)


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
    yield shell
    shell.events.callbacks["pre_run_cell"].clear()
    shell.events.callbacks["post_run_cell"].clear()


def _events(url: str) -> pl.DataFrame:
    with EventStore(url) as store:
        return store.query()


def _run(shell: InteractiveShell, cells: list[str]) -> None:
    for cell in cells:
        shell.run_cell(cell, store_history=True)


CELLS = ["x = 1", "1 / 0", "import time; time.sleep(0.05)", "undefined_name", "x + 1"]


def test_cells_and_session_are_recorded_without_code(shell, tmp_path):
    url = f"sqlite:///{tmp_path / 'nb.db'}"
    sink = EventSink(StoreDestination(url), tmp_path / "spool", FAST)
    activity = NotebookActivity(shell, sink, NotebookConfig())
    activity.start()
    _run(shell, CELLS)
    activity.stop()
    assert sink.flush(10)
    sink.close()
    events = _events(url)
    assert events["kind"].to_list() == [
        "session_start",
        *["cell_executed"] * 2,
        "cell_error",
        *["cell_executed"] * 2,
        "cell_error",
        "cell_executed",
        "session_end",
    ]
    counts = dict(events["kind"].value_counts().iter_rows())
    assert counts == {"session_start": 1, "cell_executed": 5, "cell_error": 2, "session_end": 1}
    assert events["session_id"].n_unique() == 1
    executed = events.filter(pl.col("kind") == "cell_executed").sort("ts")
    payloads = [json.loads(p) for p in executed["payload"]]
    assert [p["success"] for p in payloads] == [True, False, True, False, True]
    assert executed["duration_ms"][2] >= 50  # the cell that slept
    errors = events.filter(pl.col("kind") == "cell_error").sort("ts")
    types = [json.loads(p)["error_type"] for p in errors["payload"]]
    assert types == ["ZeroDivisionError", "NameError"]
    stored_text = " ".join(events["payload"].drop_nulls())
    assert "1 / 0" not in stored_text and "undefined_name" not in stored_text
    assert "division by zero" not in stored_text


def test_code_and_messages_are_recorded_only_when_configured(shell, tmp_path):
    url = f"sqlite:///{tmp_path / 'nb.db'}"
    sink = EventSink(StoreDestination(url), tmp_path / "spool", FAST)
    config = NotebookConfig(record_code=True, record_error_message=True)
    activity = NotebookActivity(shell, sink, config)
    activity.start()
    _run(shell, ["1 / 0"])
    activity.stop()
    sink.close()
    error = _events(url).filter(pl.col("kind") == "cell_error").row(0, named=True)
    payload = json.loads(error["payload"])
    assert payload["code"] == "1 / 0" and "division by zero" in payload["error_message"]


def test_an_unreachable_store_loses_and_duplicates_nothing(shell, tmp_path, switchable_store):
    switchable_store.block()
    sink = EventSink(StoreDestination(switchable_store.url), tmp_path / "spool", FAST)
    activity = NotebookActivity(shell, sink, NotebookConfig())
    activity.start()
    _run(shell, CELLS)
    assert sink.flush(10)
    assert activity.failures == 0
    assert sink.stats()["pending_in_spool"] == 8  # session_start + 5 runs + 2 errors
    switchable_store.unblock()
    _run(shell, CELLS[:2])
    activity.stop()
    assert sink.flush(10, include_spool=True)
    sink.close()
    events = _events(switchable_store.url)
    assert events.height == 8 + 3 + 1 == events["id"].n_unique()


def test_a_broken_sink_never_raises_into_the_notebook(shell):
    class Broken:
        def put(self, event):
            raise OSError("disk full")

    activity = NotebookActivity(shell, Broken(), NotebookConfig())  # type: ignore[arg-type]
    activity.start()
    result = shell.run_cell("y = 41 + 1")
    activity.stop()
    assert result.success and shell.user_ns["y"] == 42
    assert activity.failures >= 3


class _ListSink:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def put(self, event: dict) -> None:
        self.events.append(event)


def test_a_cell_running_another_cell_records_both(shell):
    sink = _ListSink()
    activity = NotebookActivity(shell, sink, NotebookConfig())  # type: ignore[arg-type]
    activity.start()
    shell.run_cell("get_ipython().run_cell('inner = 1')\nimport time; time.sleep(0.05)")
    shell.run_cell("1 / 0")
    activity.stop()
    executed = [e for e in sink.events if e["kind"] == "cell_executed"]
    assert len(executed) == 3  # the outer cell was lost: the inner one took its start time
    inner, outer, failed = executed
    assert outer["duration_ms"] >= 50 > inner["duration_ms"]
    assert (outer["payload"]["success"], failed["payload"]["success"]) == (True, False)
    assert [e["payload"]["error_type"] for e in sink.events if e["kind"] == "cell_error"] == [
        "ZeroDivisionError"
    ]


def test_an_aborted_cell_without_a_result_is_recorded_as_failed(shell):
    """ipykernel ends an interrupted top-level-await cell with post_run_cell(None) while the
    CancelledError propagates."""
    sink = _ListSink()
    activity = NotebookActivity(shell, sink, NotebookConfig())  # type: ignore[arg-type]
    activity.start()
    info = shell.run_cell("pass").info
    activity.pre_run_cell(info)
    try:
        raise asyncio.CancelledError
    except asyncio.CancelledError:
        activity.post_run_cell(None)
    activity.stop()
    assert activity.failures == 0
    kinds = [(e["kind"], (e.get("payload") or {}).get("error_type")) for e in sink.events]
    assert ("cell_error", "CancelledError") in kinds
    assert [k for k, _ in kinds].count("cell_executed") == 2


def test_long_non_ascii_code_and_odd_messages_are_cut_to_fit_not_lost(shell):
    """Cut by characters only, 7,000 accented characters of code and message made a payload
    over the 64 KiB limit (6 bytes each in JSON) and the events were refused."""
    sink = _ListSink()
    config = NotebookConfig(record_code=True, record_error_message=True)
    activity = NotebookActivity(shell, sink, config)  # type: ignore[arg-type]
    activity.start()
    shell.run_cell("s = '" + "é" * 7000 + "'\nraise ValueError(s)")
    shell.run_cell("s = '" + "\U0001f600" * 7000 + "'")
    shell.run_cell("raise ValueError('\\ud800 alone')")  # an unpaired surrogate

    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no message")

    result = shell.run_cell("pass")
    result.error_in_exec = Unprintable()
    activity.pre_run_cell(result.info)
    activity.post_run_cell(result)
    activity.stop()
    assert activity.failures == 0
    kinds = [e["kind"] for e in sink.events]
    assert kinds.count("cell_executed") == 5 and kinds.count("cell_error") == 3
    errors = [e["payload"] for e in sink.events if e["kind"] == "cell_error"]
    assert errors[0]["error_message"].startswith("éé") and errors[0]["code"].startswith("s = 'é")
    assert errors[1]["error_message"] == "? alone"
    assert errors[2]["error_message"] == "<unprintable Unprintable>"
    for event in sink.events:
        validate_event(event)


def test_overhead_per_cell_is_small(shell, tmp_path):
    sink = EventSink(StoreDestination(f"sqlite:///{tmp_path / 'o.db'}"), tmp_path / "s", FAST)
    activity = NotebookActivity(shell, sink, NotebookConfig())
    result = shell.run_cell("pass")
    n = 300
    started = time.perf_counter()
    for _ in range(n):
        activity.pre_run_cell(result.info)
        activity.post_run_cell(result)
    per_cell_ms = (time.perf_counter() - started) / n * 1000
    assert sink.flush(10) and sink.stats()["received"] == n
    sink.close()
    print(f"notebook collector overhead: {per_cell_ms * 1000:.0f} us per cell")
    assert per_cell_ms < 2.0


@pytest.mark.slow
def test_a_real_kernel_with_load_ext_records_and_delivers_at_exit(tmp_path):
    from jupyter_client.manager import start_new_kernel

    url = f"sqlite:///{tmp_path / 'kernel.db'}"
    env = {
        "LEARNPULSE_DB_URL": url,
        "LEARNPULSE_SPOOL_DIR": str(tmp_path / "spool"),
        "LEARNPULSE_LEARNER_ID": "kernel-learner",
        "PATH": str(__import__("pathlib").Path(sys.executable).parent),
    }
    manager, client = start_new_kernel(kernel_name="python3", env=env)
    try:
        client.execute_interactive("%load_ext learnpulse", timeout=60)
        for cell in ("a = 2", "a / 0", "a * 3"):
            client.execute_interactive(cell, timeout=30)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)
    events = _events(url)
    counts = dict(events["kind"].value_counts().iter_rows())
    assert counts["cell_error"] == 1
    assert counts["cell_executed"] == 3  # the %load_ext cell itself is not timed
    assert counts["session_start"] == counts["session_end"] == 1
    assert events["learner_id"].unique().to_list() == ["kernel-learner"]
    assert events["course_id"].unique().to_list() == ["demo-python-101"]
