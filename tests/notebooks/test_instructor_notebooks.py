"""The instructor and researcher notebooks run top to bottom (nbclient, a real kernel), on a
simulated class and on slices of ../shared/data, and show what they promise."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

pytestmark = pytest.mark.slow

NOTEBOOKS = REPO / "notebooks"
#: Seconds one cell may take (kernels start slowly on a loaded machine).
CELL_TIMEOUT_S = 300


def run(name: str, folder: Path) -> list[str]:
    """Execute ``notebooks/<name>`` in ``folder``; return the text of every output."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )  # fmt: skip
    client.execute()
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{name}: {output.get('evalue')}"
            texts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    return texts


def test_instructor_guide(tmp_path, monkeypatch):
    monkeypatch.setenv("LEARNPULSE_DB_URL", f"sqlite:///{tmp_path / 'guide.db'}")
    text = "\n".join(run("instructor-guide.ipynb", tmp_path))
    assert "5 -> False | range stops before 10" in text  # the anticipated mistake's feedback
    assert "field 'difficulty'" in text  # the broken course is reported, named
    assert "hints a student may open: 2 of 3" in text  # the tutor policy caps the ladder
    assert (tmp_path / "guide-course.yaml").is_file()


def test_researcher_extensions(tmp_path):
    text = "\n".join(run("researcher-extensions.ipynb", tmp_path))
    assert "'recent-accuracy'" in text and "'glossary'" in text  # found via entry points
    assert "glossary | **list comprehension**" in text
    assert "glossary | **mutable**" in text  # routed by its keywords


def test_researcher_benchmarks(tmp_path, monkeypatch, shared_data):
    monkeypatch.setenv("LEARNPULSE_SHARED_DATA", str(shared_data))
    text = "\n".join(run("researcher-benchmarks.ipynb", tmp_path))
    assert "BKT + forgetting" in text and "gradient boosting" in text
    assert ":NdOverlay" in text and ":Bars" in text  # the plots were made


def test_researcher_model_predicts_the_next_attempt():
    """The guide's RecentAccuracy left each learner's last attempt out of its prediction for
    the next one: after one correct attempt, '0 of the last attempts counted', confidence 0."""
    import json
    import textwrap
    from datetime import datetime, timedelta, timezone

    import polars as pl

    from learnpulse.events import EVENT_FRAME_SCHEMA

    cells = json.loads((NOTEBOOKS / "researcher-extensions.ipynb").read_text())["cells"]
    code = next(
        "".join(c["source"]) for c in cells if 'package / "models.py"' in "".join(c["source"])
    )
    source = textwrap.dedent(code.split('"""')[1]).replace('\\"\\"\\"', '"""')
    namespace: dict = {}
    exec(compile(source, "my_research/models.py", "exec"), namespace)
    columns = {"learner_id": ["learner-1", "learner-2"], "correct": [True, False]}
    start = datetime(2024, 9, 2, 9, tzinfo=timezone.utc)
    events = pl.DataFrame(
        {
            **columns,
            "ts": [start, start + timedelta(minutes=1)],
            "kind": ["attempt"] * 2,
            "item_id": ["ex-1"] * 2,
            "skills": [["loops"]] * 2,
        },
    ).cast({k: EVENT_FRAME_SCHEMA[k] for k in ("learner_id", "ts", "skills", "correct")})
    model = namespace["RecentAccuracy"](window=5).fit(events)
    frame = model.predict_frame(events).sort("learner_id")
    assert frame["confidence"].to_list() == [0.2, 0.2]
    assert frame["value"][0] > frame["value"][1]  # the correct attempt counts for learner-1
    assert len(model.predict_proba(events)) == 2
