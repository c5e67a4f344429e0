"""Loading courses from YAML, and the demo course shipped with learnpulse."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from learnpulse.course.model import Course, CourseError
from learnpulse.course.validation import read_utf8

#: Folder of the course content shipped in the package.
CONTENT_DIR = Path(__file__).resolve().parent / "content"
#: The shipped introductory Python course (skills as in the course simulator).
DEMO_COURSE_FILE = CONTENT_DIR / "demo-python-101.yaml"
# The C (libyaml) safe loader is ~10x faster; both only build plain Python data.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _CourseLoader(_SAFE_LOADER):
    """The safe loader, refusing a key given twice in one mapping: YAML keeps the last one
    without a word, so a second ``hints:`` pasted into an exercise dropped the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_line: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            if key_node.value in first_line:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key_node.value!r} is given twice (first on line "
                    f"{first_line[key_node.value]}): YAML keeps only the last one, so remove "
                    "or merge one",
                    key_node.start_mark,
                )
            first_line[key_node.value] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_course(path: str | Path) -> Course:
    """Read and validate a course YAML file.

    ``material_file`` entries of skills are read relative to the file's folder.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    CourseError
        When the file (or a material file) is not UTF-8, the YAML is invalid (naming the line
        and column) or the content is (naming the exercise/skill and field); the message names
        the file (``CourseError.source``).

    Warns
    -----
    CourseWarning
        For content that is valid but likely a mistake, naming the file, exercise and field.
    """
    path = Path(path)
    try:
        text = read_utf8(path)
    except ValueError as error:
        raise CourseError([("course", "-", str(error))], source=path) from None
    try:
        data = yaml.load(text, Loader=_CourseLoader)
    except yaml.YAMLError as error:
        problem = ("course", "-", f"not valid YAML: {_yaml_problem(error, text)}")
        raise CourseError([problem], source=path) from None
    return Course.from_dict(data, base_dir=path.parent, source=path)


def _yaml_problem(error: yaml.YAMLError, text: str) -> str:
    """Where the YAML went wrong (line and column of the file) and, for the usual slips, how
    to fix it. PyYAML's own message places it in "<unicode string>"."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return str(error)
    mark = error.problem_mark
    what = error.problem or "invalid YAML"
    if error.context and error.context_mark is not None:
        what += f" ({error.context} from line {error.context_mark.line + 1})"
    lines = text.splitlines()
    marked = {m.line for m in (mark, error.context_mark) if m is not None}
    tabs = [n + 1 for n in sorted(marked) if n < len(lines) and "\t" in lines[n]]
    advice = ""
    if tabs:
        listed = " and ".join(str(n) for n in tabs)
        advice = f": YAML indents with spaces only, replace the tab on line {listed} with spaces"
    elif "mapping values are not allowed" in what:
        advice = (
            ": check this line's indentation, and put quotes around a text value that holds "
            "': ' (e.g. title: \"Dicts: a summary\")"
        )
    return f"line {mark.line + 1}, column {mark.column + 1}: {what}{advice}"


@functools.lru_cache(maxsize=1)
def demo_course() -> Course:
    """The shipped course ``demo-python-101``: 16 skills of introductory Python (the course
    simulator's, same ids and prerequisites), teaching material per skill and exercises.

    Cached: the course is immutable.
    """
    return load_course(DEMO_COURSE_FILE)
