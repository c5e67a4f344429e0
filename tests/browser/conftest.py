"""Browser tests: real servers (see :mod:`tests.browser.servers`) and Debian's Chromium,
driven by Playwright (``executable_path=/usr/bin/chromium``: no browser download).
Screenshots go to ``tests/browser/artifacts/`` (git-ignored)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.servers import JupyterServer, fitted_models, serve_folder, simulated_store

CHROMIUM = Path(os.environ.get("LEARNPULSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
#: Browser window size; tall, so a full dashboard fits one screenshot.
VIEWPORT = {"width": 1400, "height": 3400}


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory):
    """A real Jupyter server with learnpulse, Voila and Panel over a simulated course,
    pre-rendering the instructor dashboard as ``learnpulse demo``'s does."""
    tmp = tmp_path_factory.mktemp("browser")
    server = JupyterServer(
        serve_folder(tmp),
        simulated_store(tmp / "store.db"),
        models_dir=fitted_models(tmp / "models"),
        preheat=True,
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """Chromium for one test module. Not for the session: Playwright's sync API keeps an
    event loop running in this thread until it stops, and pytest-jupyter's in-process
    servers in later test modules cannot start under a running loop."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a screenshot of the page under tests/browser/artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """Replaces pytest-jupyter's per-test loop: Playwright's sync API keeps its own event loop
    running in this thread for the session, which that fixture would try to close."""
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    """Replaces pytest-jupyter's clean-up of its in-process server: these tests run real
    server processes instead (stopped by their own fixtures)."""
    yield
