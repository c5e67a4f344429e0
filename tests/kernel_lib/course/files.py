"""Course files an instructor might write, as text (so that tests can name their lines), and
a writer putting one in a folder."""

from __future__ import annotations

from pathlib import Path

#: A small valid course of an instructor's own: two skills, 'slicing' needing 'strings', and
#: one exercise of each of three types.
MY_COURSE = """\
id: my-course
title: Strings, my way
skills:
  - id: strings
    name: Strings
    material: "## What a string is\\n\\nA str is a sequence of characters."
  - id: slicing
    name: Slicing
    prerequisites: [strings]
exercises:
  - id: my-len
    prompt: What is `len('hello')`?
    skills: [strings]
    difficulty: 0.2
    type: numeric
    answer: 5
    hints: [Count the characters.]
  - id: my-upper
    prompt: Which method makes 'abc' into 'ABC'?
    skills: [strings]
    difficulty: 0.3
    type: choice
    choices: [upper, capitalize, title]
    answer: upper
    hints: [It turns every letter into a capital.]
  - id: my-reverse
    prompt: Write `reverse(text)`, returning the text backwards.
    skills: [slicing, strings]
    difficulty: 0.5
    type: code
    function: reverse
    tests:
      - {args: [abc], expected: cba}
      - {args: [''], expected: ''}
    hints: [A slice can step backwards.]
    solution: |
      def reverse(text):
          return text[::-1]
"""


def write_course(folder: Path, text: str = MY_COURSE, name: str = "course.yaml") -> Path:
    """``text`` as the course file ``folder/name``; its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
