"""The pre-rendering kernel manager: Voila's ``/voila/render/`` serves a listed notebook from a
kernel that ran it before the request, then renders a replacement; other notebooks run on
request as usual."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest

from learnpulse.cli import PREHEATING_KERNEL_MANAGER
from learnpulse_server.preheat import PreheatingKernelManager
from tests.extension.conftest import as_user

POOLED, ON_REQUEST, MISSING = "dashboards/pooled.ipynb", "other.ipynb", "dashboards/gone.ipynb"
#: Seconds a handed-out kernel may run with no browser connected (short, for the test).
ABANDONED_AFTER_S = 1.0
#: Seconds a pool gets to render its spare kernel (kernel start + one cell).
RENDER_TIMEOUT_S = 60


def _notebook() -> nbformat.NotebookNode:
    # Prints when and in which kernel process it ran.
    cell = nbformat.v4.new_code_cell(
        'import os, time\nprint(f"ran-at={time.time()} pid={os.getpid()}")'
    )
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return notebook


@pytest.fixture
def jp_server_config(jp_server_config, jp_root_dir, jp_environ, monkeypatch):
    # pytest-jupyter points Jupyter's data paths at empty folders; Voila needs its templates.
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
    for path in (POOLED, ON_REQUEST):
        (jp_root_dir / path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(_notebook(), jp_root_dir / path)
    jp_server_config["ServerApp"]["jpserver_extensions"]["voila"] = True
    jp_server_config["ServerApp"]["kernel_manager_class"] = PREHEATING_KERNEL_MANAGER
    jp_server_config["PreheatingKernelManager"] = {
        "preheat_notebooks": [POOLED, MISSING],
        "fill_delay": 0.2,
        "abandoned_after_s": ABANDONED_AFTER_S,
    }
    return jp_server_config


async def _spare(manager: PreheatingKernelManager, path: str) -> tuple[str, float]:
    """The kernel id of the pool's spare for ``path`` once it has run, and when it ran."""
    (pending,) = manager._pools[path]
    spare = await asyncio.wait_for(pending, RENDER_TIMEOUT_S)
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while "ran-at=" not in "".join(spare["renderer"].rendered_cache):
        assert time.monotonic() < deadline, "the spare kernel never ran its notebook"
        await asyncio.sleep(0.1)
    return spare["kernel_id"], _ran_at("".join(spare["renderer"].rendered_cache))


def _ran_at(html: str) -> float:
    return float(re.search(r"ran-at=([0-9.]+)", html).group(1))


async def _render(jp_fetch, path: str) -> str:
    response = await jp_fetch("voila", "render", *path.split("/"), request_timeout=RENDER_TIMEOUT_S)
    return response.body.decode()


async def test_a_listed_notebook_is_served_rendered_before_the_request(jp_fetch, jp_serverapp):
    manager = jp_serverapp.kernel_manager
    assert isinstance(manager, PreheatingKernelManager)
    kernel_id, ran_at = await _spare(manager, POOLED)
    requested_at = time.time()
    html = await _render(jp_fetch, POOLED)
    assert kernel_id in html  # the page talks to the spare kernel
    assert _ran_at(html) == ran_at < requested_at
    # The visitor's kernel runs on, until it has had no browser for ABANDONED_AFTER_S (this
    # test's visitor never connects; checked at once, as ABANDONED_AFTER_S is short); the
    # spare is never stopped that way.
    assert manager.handed_out() == {kernel_id}
    # A replacement is rendered for the next visitor, in a new kernel.
    replacement, _ = await _spare(manager, POOLED)
    assert replacement != kernel_id
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while kernel_id in manager:
        assert time.monotonic() < deadline, "the abandoned kernel was never stopped"
        await asyncio.sleep(0.2)
    assert replacement in manager and manager.handed_out() == set()


async def test_other_notebooks_run_on_request(jp_fetch, jp_serverapp):
    manager = jp_serverapp.kernel_manager
    spare, _ = await _spare(manager, POOLED)
    requested_at = time.time()
    html = await _render(jp_fetch, ON_REQUEST)
    assert _ran_at(html) > requested_at
    assert spare not in html
    assert manager.get_pool_size(ON_REQUEST) == 0 and manager.get_pool_size(POOLED) == 1


async def test_a_listed_notebook_that_does_not_exist_is_skipped(jp_serverapp, caplog):
    manager = jp_serverapp.kernel_manager
    await _spare(manager, POOLED)
    assert MISSING not in manager._pools
    assert manager.start_preheating() == [POOLED]  # names only what it could start
    assert f"not pre-rendering {MISSING}: no such notebook" in caplog.text


async def test_a_handed_out_kernel_runs_while_a_browser_is_connected(
    jp_fetch, kernel_channels, jp_serverapp
):
    manager = jp_serverapp.kernel_manager
    kernel_id, _ = await _spare(manager, POOLED)
    await _render(jp_fetch, POOLED)
    async with kernel_channels(kernel_id):
        await asyncio.sleep(3 * ABANDONED_AFTER_S)
        assert kernel_id in manager and manager.kernel_model(kernel_id)["connections"] == 1
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while kernel_id in manager:  # the tab closed: stopped ABANDONED_AFTER_S later
        assert time.monotonic() < deadline, "the kernel was never stopped after its page closed"
        await asyncio.sleep(0.2)


async def test_a_spare_stopped_by_hand_is_replaced(jp_fetch, jp_serverapp):
    manager = jp_serverapp.kernel_manager
    spare, _ = await _spare(manager, POOLED)
    await jp_fetch("api", "kernels", spare, method="DELETE")
    assert spare not in manager
    replacement, _ = await _spare(manager, POOLED)
    assert replacement != spare and replacement in manager


async def test_a_student_is_never_handed_the_page_rendered_for_the_owner(jp_fetch, jp_serverapp):
    """On a class-token server the pooled page ran as the owner (an instructor): a student
    opening the instructor dashboard got the whole class. They now get a page rendered for
    them, and the spare waits for the owner."""
    manager = jp_serverapp.kernel_manager
    spare, ran_at = await _spare(manager, POOLED)
    requested_at = time.time()
    response = await jp_fetch(
        "voila", "render", *POOLED.split("/"), headers=as_user("ada"),
        request_timeout=RENDER_TIMEOUT_S,
    )  # fmt: skip
    html = response.body.decode()
    assert spare not in html and _ran_at(html) > requested_at
    assert manager.handed_out() == set() and manager.get_pool_size(POOLED) == 1
    owners_page = await _render(jp_fetch, POOLED)
    assert spare in owners_page and _ran_at(owners_page) == ran_at
