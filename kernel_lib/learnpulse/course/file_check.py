"""Checking a course file before a server or a kernel loads it (``learnpulse course check``).

The file is loaded exactly as the server (``tutor_course_file``) and the kernels
(``$LEARNPULSE_COURSE_FILE``) load it, with :func:`~learnpulse.course.load_course`: the same
errors (each code exercise's reference solution run against its own tests and rules
included) and :class:`~learnpulse.course.CourseWarning`\\ s. Each is placed on its line of the
file, and a course that loads is summarised.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from learnpulse.collectors.context import COURSE_ENV
from learnpulse.course.loading import load_course
from learnpulse.course.model import Course, CourseError, CourseWarning

#: ``exercise 'ex-1'``, ``skill 'loops'``, ``exercise #3``: where a problem is.
_WHERE = re.compile(r"^(skill|exercise) (?:'(?P<id>.*)'|#(?P<index>\d+))$")
#: A line number already in a message (YAML that does not parse, a byte that is not UTF-8).
_LINE_IN_MESSAGE = re.compile(r"\bline (\d+)\b")
#: One step of a field path: ``tests[0]`` is ``tests`` then item 0.
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Finding:
    """One error or warning of a course file.

    Attributes
    ----------
    severity : {"error", "warning"}
    file : str
    line : int or None
        1-based line of the file it is about (the field's, else its skill's or exercise's);
        None when the file has no such place (a field that is missing at the top).
    where : str
        ``"exercise 'ex-1'"``, ``"skill 'loops'"`` or ``"course"``.
    field : str
        The field, e.g. ``"answer"``, ``"tests[0].expected"``; ``"-"`` for the file as a whole.
    message : str
        What is wrong, and how to fix it.
    """

    severity: str
    file: str
    line: int | None
    where: str
    field: str
    message: str

    def describe(self) -> str:
        """``course.yaml:14: error: exercise 'ex-1': field 'answer': ...`` (one line)."""
        place = self.file if self.line is None else f"{self.file}:{self.line}"
        name = "" if self.field == "-" else f"field '{self.field}': "
        return f"{place}: {self.severity}: {self.where}: {name}{self.message}"


@dataclass
class CourseFileReport:
    """What :func:`check_course_file` found.

    Attributes
    ----------
    file : str
    errors, warnings : list of Finding
    summary : dict or None
        Of a course that loads (see :func:`summarise`); None otherwise.
    """

    file: str
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] | None = None

    def passed(self, strict: bool = False) -> bool:
        """No errors (and with ``strict``, no warnings either)."""
        return not self.errors and not (strict and self.warnings)

    def to_dict(self, strict: bool = False) -> dict[str, Any]:
        """JSON-ready: ``file``, ``ok``, ``errors``, ``warnings``, ``summary``."""
        return {
            "file": self.file,
            "ok": self.passed(strict),
            "errors": [asdict(f) for f in self.errors],
            "warnings": [asdict(f) for f in self.warnings],
            "summary": self.summary,
        }

    def describe(self, strict: bool = False) -> str:
        """The findings one per line, then the summary or what stops the course loading."""
        lines = [f.describe() for f in (*self.errors, *self.warnings)]
        counts = f"{_plural(len(self.errors), 'error')}, {_plural(len(self.warnings), 'warning')}"
        if self.summary is not None:
            lines.append(describe_summary(self.summary))
        verdict = "OK" if self.passed(strict) else "NOT OK"
        if self.passed() and not self.passed(strict):
            verdict += " (--strict: warnings count as errors)"
        lines.append(f"{self.file}: {counts}: {verdict}")
        return "\n".join(lines)


def check_course_file(path: str | Path) -> CourseFileReport:
    """Load the course file ``path`` as the server and the kernels do, and report.

    Never raises for a problem of the file: a file that cannot be read, YAML that does not
    parse and invalid content are errors of the report. ``$LEARNPULSE_COURSE_ID``, when set
    to another course than the file's, is an error too: kernels of this environment would
    refuse the course, and a server would not start.
    """
    path = Path(path)
    report = CourseFileReport(str(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CourseWarning)
        try:
            course = load_course(path)
        except CourseError as error:
            course = None
            report.errors = _findings("error", path, error.problems)
        except OSError as error:
            course = None
            problem = f"cannot read it: {error.strerror or error}"
            report.errors = [Finding("error", str(path), None, "course", "-", problem)]
    found = [w.message for w in caught if isinstance(w.message, CourseWarning)]
    triples = [(w.where, w.field, w.problem) for w in found]
    report.warnings = _findings("warning", path, triples)
    if course is not None:
        told = os.environ.get(COURSE_ENV)
        if told and told != course.id:
            mismatch = (
                f"the course is {course.id!r} but ${COURSE_ENV} is {told!r} here: kernels "
                f"with this environment refuse the course and a server stops; make them the "
                "same (or unset the variable)"
            )
            report.errors += _findings("error", path, [("course", "id", mismatch)])
        report.summary = summarise(course)
    return report


def summarise(course: Course) -> dict[str, Any]:
    """What a course holds: its skills, prerequisite links and exercises by type.

    Returns
    -------
    dict
        ``course``, ``title``, ``mastery_threshold``, ``skills``, ``prerequisite_links``,
        ``first_skills`` (needing no other), ``exercises``, ``exercises_by_type``,
        ``skills_without_exercises``.
    """
    practised = {skill for e in course.exercises.values() for skill in e.skills}
    by_type = Counter(e.type for e in course.exercises.values())
    return {
        "course": course.id,
        "title": course.title,
        "mastery_threshold": course.mastery_threshold,
        "skills": len(course.skills),
        "prerequisite_links": sum(len(s.prerequisites) for s in course.skills.values()),
        "first_skills": [s.id for s in course.skills.values() if not s.prerequisites],
        "exercises": len(course.exercises),
        "exercises_by_type": dict(sorted(by_type.items())),
        "skills_without_exercises": [s for s in course.skills if s not in practised],
    }


def describe_summary(summary: dict[str, Any]) -> str:
    """The summary in a few lines of text."""
    types = ", ".join(f"{n} {kind}" for kind, n in summary["exercises_by_type"].items())
    lines = [
        f"course {summary['course']!r} ({summary['title']}), mastery threshold "
        f"{summary['mastery_threshold']}",
        f"  {_plural(summary['skills'], 'skill')}, "
        f"{_plural(summary['prerequisite_links'], 'prerequisite link')}; needing no other: "
        + ", ".join(summary["first_skills"]),
        f"  {_plural(summary['exercises'], 'exercise')}" + (f": {types}" if types else ""),
    ]
    if summary["skills_without_exercises"]:
        lines.append(
            "  skills without an exercise: " + ", ".join(summary["skills_without_exercises"])
        )
    return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _findings(severity: str, path: Path, problems: list[tuple[str, str, str]]) -> list[Finding]:
    locate = _Locator(path)
    found = [
        Finding(severity, str(path), locate(where, name, message), where, name, message)
        for where, name, message in problems
    ]
    return sorted(found, key=lambda finding: finding.line or 0)  # in the file's order


class _Locator:
    """The line of a course file a problem is about, from the file's YAML nodes."""

    def __init__(self, path: Path) -> None:
        try:
            self.root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        except (OSError, ValueError, yaml.YAMLError):
            self.root = None  # the problem says where (YAML and UTF-8 errors name the line)

    def __call__(self, where: str, name: str, message: str) -> int | None:
        in_message = _LINE_IN_MESSAGE.search(message) if name == "-" else None
        if in_message:
            return int(in_message.group(1))
        entries, line = self._entries(where)
        if name == "id" and len(entries) > 1:  # a duplicate id: reported on its second entry
            entries = entries[1:]
        # entries sharing an id: the one where the field's path goes deepest
        best = (-1, line)
        for node, start in entries:
            depth, at = 0, start
            for key, index in _STEP.findall(name):
                found = _child(node, key, index)
                if found is None:
                    break
                (at, node), depth = found, depth + 1
            best = max(best, (depth, at), key=lambda pair: pair[0])
        return best[1]

    def _entries(self, where: str) -> tuple[list[tuple[yaml.Node, int | None]], int | None]:
        """``(node, first line)`` of each skill or exercise ``where`` names (several when
        they share an id; the root for "course"), and the line of their list."""
        if not isinstance(self.root, yaml.MappingNode):
            return [], None
        match = _WHERE.match(where)
        if match is None:
            return [(self.root, None)], None
        found = _child(self.root, f"{match.group(1)}s", "")
        if found is None or not isinstance(found[1], yaml.SequenceNode):
            return [], None
        items = found[1].value
        if match.group("index") is not None:
            chosen = items[int(match.group("index")) :][:1]
        else:
            chosen = [i for i in items if _scalar(_child(i, "id", "")) == match.group("id")]
        return [(item, item.start_mark.line + 1) for item in chosen], found[0]


def _child(node: yaml.Node, key: str, index: str) -> tuple[int, yaml.Node] | None:
    """``(line, node)`` of a mapping's ``key`` (its key's line) or a sequence's item
    ``index``; None when there is none."""
    if index:
        if isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            item = node.value[int(index)]
            return item.start_mark.line + 1, item
        return None
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return key_node.start_mark.line + 1, value_node
    return None


def _scalar(found: tuple[int, yaml.Node] | None) -> str | None:
    if found is None or not isinstance(found[1], yaml.ScalarNode):
        return None
    return found[1].value
