"""Loading courses from YAML, and the demo course shipped with learnpulse."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from learnpulse.course.model import Course, CourseError

#: Folder of the course content shipped in the package.
CONTENT_DIR = Path(__file__).resolve().parent / "content"
#: The shipped introductory Python course (skills as in the course simulator).
DEMO_COURSE_FILE = CONTENT_DIR / "demo-python-101.yaml"
# The C (libyaml) safe loader is ~10x faster; both only build plain Python data.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_course(path: str | Path) -> Course:
    """Read and validate a course YAML file.

    ``material_file`` entries of skills are read relative to the file's folder.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    CourseError
        When the YAML is invalid or the content is (naming the exercise/skill and field).
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as error:
        raise CourseError([("course", "-", f"{path} is not valid YAML: {error}")]) from None
    return Course.from_dict(data, base_dir=path.parent)


@functools.lru_cache(maxsize=1)
def demo_course() -> Course:
    """The shipped course ``demo-python-101``: 16 skills of introductory Python (the course
    simulator's, same ids and prerequisites), teaching material per skill and exercises.

    Cached: the course is immutable.
    """
    return load_course(DEMO_COURSE_FILE)
