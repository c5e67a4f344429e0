"""The mastery threshold, in a module of its own: course files and the student widgets read
it without importing the models (scikit-learn alone takes seconds to import)."""

#: P(known) at or above which a skill counts as mastered (Corbett & Anderson 1995); a course
#: file or the course settings may set another.
MASTERY_THRESHOLD = 0.95


def threshold_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a mastery threshold (None: a number in (0, 1])."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and 0 < value <= 1:  # type: ignore[operator]
        return None
    return f"must be a number in (0, 1], not {value!r}"
