"""The student magics in a real IPython shell, with the real agents and a real SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from learnpulse.magics import STOPPED, LearnPulseMagics, question_mark_guard
from learnpulse.widgets import ExerciseWidget, ProgressWidget, TutorChatWidget
from tests.kernel_lib.widgets import helpers
from tests.kernel_lib.widgets.helpers import TrackedStore

tracked_store = helpers.tracked_store  # the fixture

WRONG_TOTAL = """%%check ex-loops-04
def total(numbers):
    result = 0
    for n in numbers:
        result += n
        return result
"""
RIGHT_TOTAL = WRONG_TOTAL.replace("        return result", "    return result")


@pytest.fixture
def shell(tracked_store: TrackedStore) -> Iterator[InteractiveShell]:
    """IPython with ``%load_ext learnpulse`` done (and undone afterwards)."""
    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext learnpulse", store_history=True)
    try:
        yield ip
    finally:
        ip.run_cell("%unload_ext learnpulse")
        ip.user_ns.pop("total", None)


def run(ip: InteractiveShell, cell: str) -> tuple[list, str]:
    """Run ``cell`` as the student would; its displayed outputs and printed text."""
    with capture_output() as captured:
        result = ip.run_cell(cell, store_history=True)
    assert result.error_before_exec is None  # the magic itself never fails to run
    return [o.data for o in captured.outputs], captured.stdout


def magics(ip: InteractiveShell) -> LearnPulseMagics:
    return ip.magics_manager.registry["LearnPulseMagics"]


def follow_ups_after(
    ip: InteractiveShell, cells: list[str], follow_ups: tuple[str, ...]
) -> list[tuple[Any, str]]:
    """Ask the tutor about tuples, run ``cells``, then ask each of ``follow_ups``: the reply
    to each and the text shown."""
    run(ip, "%tutor what is a tuple?")
    for cell in cells:
        run(ip, cell)
    answers = []
    for follow_up in follow_ups:
        outputs, _ = run(ip, f"%tutor {follow_up}")
        answers.append((magics(ip).last_reply, outputs[-1]["text/plain"]))
    return answers


def test_load_and_unload_register_the_magics(shell: InteractiveShell) -> None:
    registered = shell.magics_manager.magics
    assert "check" in registered["cell"] and "tutor" in registered["cell"]
    for name in ("tutor", "review", "explain", "progress", "exercise", "hint"):
        assert name in registered["line"]
    assert question_mark_guard in shell.input_transformers_cleanup
    shell.run_cell("%unload_ext learnpulse")
    assert "check" not in shell.magics_manager.magics["cell"]
    assert question_mark_guard not in shell.input_transformers_cleanup
    shell.run_cell("%load_ext learnpulse")


def test_collector_plugins_load_with_the_extension_and_a_broken_one_is_named(
    tmp_path, monkeypatch
) -> None:
    """DESIGN.md's learnpulse.collectors group was read by nothing: a researcher's collector
    registered there was ignored without a word."""
    import importlib
    import sys

    from learnpulse import COLLECTOR_GROUP
    from tests.conftest import write_plugin

    source = """
        loaded = []
        def load_ipython_extension(ipython):
            loaded.append("in")
        def unload_ipython_extension(ipython):
            loaded.append("out")
    """
    points = "clicks = lp_clicks\nbroken = lp_clicks:missing"
    write_plugin(tmp_path, "lp_clicks", source, COLLECTOR_GROUP, points)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    ip = InteractiveShell.instance()
    try:
        with pytest.warns(UserWarning, match=r"collector plugin 'broken' \(lp_clicks:missing\)"):
            ip.run_cell("%load_ext learnpulse")
        assert sys.modules["lp_clicks"].loaded == ["in"]
        assert "check" in ip.magics_manager.magics["cell"]  # the built-in parts still load
        ip.run_cell("%unload_ext learnpulse")
        assert sys.modules["lp_clicks"].loaded == ["in", "out"]
    finally:
        sys.modules.pop("lp_clicks", None)


def test_check_runs_the_cell_then_the_tests(shell: InteractiveShell, tracked_store) -> None:
    outputs, _ = run(shell, WRONG_TOTAL)
    report = outputs[-1]["text/plain"]
    assert "ex-loops-04: ✘ 1 of 4 tests pass. total([3, 5, 8]) returned 3, expected 16" in report
    assert "Mastery — for and while loops" in report and "text/html" in outputs[-1]
    assert callable(shell.user_ns["total"])  # the cell really ran in the notebook
    outputs, _ = run(shell, RIGHT_TOTAL)
    assert "✔ All 4 tests pass." in outputs[-1]["text/plain"]
    assert magics(shell).last_result.correct
    attempts = tracked_store.events("attempt")
    assert attempts.get_column("attempt").to_list() == [1, 2]
    assert attempts.get_column("correct").to_list() == [False, True]
    payload = json.loads(attempts.get_column("payload")[1])
    assert payload["source"] == "magic" and "def total" in payload["answer"]


def test_check_applies_the_exercises_rules_to_the_cell(
    shell: InteractiveShell, tracked_store
) -> None:
    """ex-loops-04 asks for a for loop, not the built-in sum: `return sum(numbers)` passed."""
    outputs, _ = run(shell, "%%check ex-loops-04\ndef total(numbers):\n    return sum(numbers)\n")
    assert outputs[-1]["text/plain"].startswith(
        "ex-loops-04: ✘ All 4 tests pass, but this exercise asks you not to use the built-in "
        "sum() (line 2) and to use a for loop.\nMastery — "
    )
    assert not magics(shell).last_result.correct
    no_sum = "this exercise asks you not to use the built-in sum()"
    outputs, _ = run(shell, "%review total")  # the reviewer applies the same rules
    assert f"{no_sum} (line 2)" in outputs[-1]["text/plain"]
    try:  # a helper from an earlier cell is read too
        run(shell, "def add_all(xs):\n    return sum(xs)\n")
        outputs, _ = run(
            shell,
            "%%check ex-loops-04\ndef total(numbers):\n    for n in numbers:\n        pass\n"
            "    return add_all(numbers)\n",
        )
        assert f"{no_sum} (in add_all)." in outputs[-1]["text/plain"]
    finally:
        shell.user_ns.pop("add_all", None)
    run(shell, RIGHT_TOTAL)
    assert magics(shell).last_result.correct
    attempts = tracked_store.events("attempt")
    assert attempts.get_column("correct").to_list() == [False, False, True]
    diagnoses = [json.loads(p)["diagnosis"] for p in attempts.get_column("payload")]
    assert diagnoses == ["broken_rule", "broken_rule", "correct"]


def test_check_of_an_answer_value(shell: InteractiveShell, tracked_store) -> None:
    outputs, _ = run(shell, "%%check ex-lists-01\nlen(['a', 'b', 'c', 'd'])\n")
    assert "4 is the length of the list" in outputs[-1]["text/plain"]  # the author's feedback
    run(shell, "%%check ex-lists-04\nanswer = 'append'\n")
    assert magics(shell).last_result.correct
    assert tracked_store.events("attempt").get_column("correct").to_list() == [False, True]


def test_check_grades_only_what_the_cell_defined(shell: InteractiveShell, tracked_store) -> None:
    """An `answer` or a function left by an earlier cell graded a cell that gave none."""
    run(shell, "%%check ex-lists-01\nanswer = 3\n")
    outputs, _ = run(shell, "%%check ex-lists-03\nprint('I think it is 5')\n")
    assert "No answer in this cell" in outputs[-1]["text/plain"]
    run(shell, RIGHT_TOTAL)
    outputs, _ = run(shell, "%%check ex-loops-04\ndef totl(numbers):\n    return 0\n")
    assert "could not find a function named 'total'" in outputs[-1]["text/plain"]
    attempts = tracked_store.events("attempt")
    assert attempts.get_column("item_id").to_list() == ["ex-lists-01", "ex-loops-04", "ex-loops-04"]
    assert attempts.get_column("correct").to_list()[-1] is False
    # assigning it again in the cell counts, even to the same value
    run(shell, "%%check ex-lists-01\nanswer = 3\n")
    assert magics(shell).last_result.correct


def test_check_of_a_cell_that_raises(shell: InteractiveShell, tracked_store) -> None:
    outputs, _ = run(shell, "%%check ex-loops-04\ndef total(numbers):\n    return 0\n1 / 0\n")
    assert "Your cell raised ZeroDivisionError" in outputs[-1]["text/plain"]
    assert isinstance(sys.last_value, ZeroDivisionError)
    assert tracked_store.events("attempt").get_column("correct").to_list() == [False]


def test_check_of_a_cell_the_student_stopped(shell: InteractiveShell, tracked_store) -> None:
    """Interrupting a runaway %%check cell was graded as a wrong attempt ("Your cell raised
    KeyboardInterrupt: .") and the skills' mastery dropped."""
    outputs, _ = run(shell, "%%check ex-loops-04\nraise KeyboardInterrupt\n")
    assert outputs[-1]["text/plain"] == "ex-loops-04: ✘ " + STOPPED
    assert "Mastery" not in outputs[-1]["text/html"]
    outputs, _ = run(shell, "%%check ex-loops-04\nraise ValueError\n")
    assert "Your cell raised ValueError (line 1: `raise ValueError`)." in outputs[-1]["text/plain"]
    assert tracked_store.events("attempt").get_column("correct").to_list() == [False]


def test_unknown_exercise_is_a_friendly_message(shell: InteractiveShell, tracked_store) -> None:
    outputs, _ = run(shell, "%%check ex-loop-04\nx = 1\n")
    assert "no exercise 'ex-loop-04'" in outputs[-1]["text/plain"]
    assert "ex-loops-04" in outputs[-1]["text/plain"]  # a close match is suggested
    for magic in ("%exercise", "%hint", "%%check\nanswer = 3\n"):
        outputs, _ = run(shell, magic)  # no id: it said "no exercise ''"
        assert outputs[-1]["text/plain"].startswith("Which exercise? Give its id, e.g. %")
    outputs, _ = run(shell, "%progress lops")
    assert "no skill 'lops'" in outputs[-1]["text/plain"]
    assert tracked_store.events("attempt").height == 0


def test_hint_magic_walks_the_ladder(shell: InteractiveShell, tracked_store) -> None:
    texts = [run(shell, "%hint ex-lists-02")[0][-1]["text/plain"] for _ in range(3)]
    assert texts[0] == "Hint 1 of 2: Negative indexes count from the end of the list."
    assert texts[1].startswith("Hint 2 of 2")
    assert texts[2].startswith("No more hints")
    assert tracked_store.events("hint").get_column("hints_used").to_list() == [1, 2]
    run(shell, "%%check ex-lists-02\n'30'\n")
    assert tracked_store.events("attempt").get_column("hints_used").to_list() == [2]


def test_exercise_and_progress_magics_show_widgets(shell: InteractiveShell) -> None:
    outputs, _ = run(shell, "%exercise ex-loops-02")
    assert "Exercise ex-loops-02: range with a step" in outputs[-1]["text/plain"]
    assert "application/vnd.jupyter.widget-view+json" in outputs[-1]
    outputs, _ = run(shell, "%progress lists loops")
    assert outputs[-1]["text/plain"].startswith("Your progress")
    assert "for and while loops" in outputs[-1]["text/plain"]
    assert isinstance(magics(shell).last_widget, ProgressWidget)
    run(shell, "%exercise ex-loops-02")
    assert isinstance(magics(shell).last_widget, ExerciseWidget)


def test_tutor_answers_with_agent_sources_and_suggestions(
    shell: InteractiveShell, tracked_store
) -> None:
    run(shell, "%exercise ex-loops-04")  # the tutor's context
    outputs, _ = run(shell, "%tutor what does range(5) give?")  # ends in "?"
    answer = outputs[-1]
    assert "text/markdown" in answer
    reply = magics(shell).last_reply
    assert f"Tutor ({reply.agent}" in answer["text/plain"] and "Sources:" in answer["text/plain"]
    assert reply.sources and "You could ask:" in answer["text/plain"]
    outputs, _ = run(shell, "%tutor just give me the code for total")
    assert "def total" not in outputs[-1]["text/plain"]  # the reference solution stays hidden
    logged = tracked_store.events("tutor_message")
    assert logged.height == 4 and set(logged.get_column("item_id").to_list()) == {"ex-loops-04"}
    outputs, _ = run(shell, "%tutor")
    assert outputs[-1]["text/plain"].startswith("Tutor chat — exercise ex-loops-04")
    chat = magics(shell).last_widget
    assert isinstance(chat, TutorChatWidget) and chat.exercise.id == "ex-loops-04"


def test_practice_from_the_tutor_can_be_read_and_answered(
    shell: InteractiveShell, tracked_store
) -> None:
    """Asked while working on an exercise (whose policy withholds code), the generated
    question's code was withheld, and %exercise / %%check did not know its id."""
    from learnpulse.agents import generated_exercise

    run(shell, "%exercise ex-loops-05")
    outputs, _ = run(shell, "%tutor give me a practice exercise on loops")
    reply = magics(shell).last_reply
    exercise_id = outputs[-1]["text/plain"].split("%exercise ")[1].split("`")[0]
    practice = generated_exercise(exercise_id)
    assert reply.agent == "generator" and reply.redactions == 0
    assert "withheld" not in reply.text and "```python" in reply.text  # the question's code
    outputs, _ = run(shell, f"%exercise {exercise_id}")
    assert isinstance(magics(shell).last_widget, ExerciseWidget)
    assert magics(shell).last_widget.exercise.id == exercise_id
    outputs, _ = run(shell, f"%%check {exercise_id}\n{practice.answer}\n")
    assert magics(shell).last_result.correct, outputs[-1]["text/plain"]
    assert tracked_store.events("attempt").get_column("item_id").to_list() == [exercise_id]


def test_review_of_the_previous_cell_and_of_a_function(shell: InteractiveShell) -> None:
    run(shell, "def total(numbers, seen=[]):\n    seen.append(numbers)\n    return sum(numbers)\n")
    outputs, _ = run(shell, "%review")
    text = outputs[-1]["text/plain"]
    assert "Tutor (reviewer" in text and "mutable-default" in text and "`total`" in text
    run(shell, "x = 1")
    outputs, _ = run(shell, "%review total")  # the function, not the previous cell
    assert "mutable" in outputs[-1]["text/plain"]
    outputs, _ = run(shell, "%review nothing_here")
    assert "There is no 'nothing_here'" in outputs[-1]["text/plain"]


def test_review_flags_a_return_inside_the_loop(shell: InteractiveShell, tracked_store) -> None:
    # the tutorial's total() returns during the first pass; %review said "nothing to flag"
    run(shell, WRONG_TOTAL)
    outputs, _ = run(shell, "%review total")
    text = outputs[-1]["text/plain"]
    assert "Line 5** (return-in-loop)" in text and "`for n in numbers:`" in text
    run(shell, WRONG_TOTAL)
    outputs, _ = run(shell, "%review")  # the code of the %%check cell, not the magic's call
    assert "Line 5** (return-in-loop)" in outputs[-1]["text/plain"]
    run(shell, RIGHT_TOTAL)
    outputs, _ = run(shell, "%review total")
    assert "nothing to flag" in outputs[-1]["text/plain"]


def test_a_question_after_a_review_is_about_the_review_or_a_new_one(
    shell: InteractiveShell, tracked_store
) -> None:
    """After %review, "why?" was read with the chat question asked before the review (the
    review's "Please review my code." read as a follow-up of it) and answered about tuples."""
    from learnpulse.agents.tutor import REVIEW_FOLLOW_UP

    mutable_default = (
        "def total(numbers, seen=[]):\n    seen.append(numbers)\n    return sum(numbers)\n"
    )
    follow_ups = ("why?", "can you explain more?", "how do I fix it?")
    for reply, shown in follow_ups_after(shell, [mutable_default, "%review"], follow_ups):
        assert reply.agent == "reviewer", shown
        assert "mutable-default" in reply.text and "`total`" in shown
    run(shell, "%tutor what is recursion?")  # not about the review: answered on its own
    new_question = magics(shell).last_reply
    assert new_question.agent == "assistant"
    assert new_question.sources[0].id.startswith("course:recursion#")
    run(shell, "%tutor why?")  # now about recursion
    assert magics(shell).last_reply.sources[0].id.startswith("course:recursion#")
    payloads = [json.loads(p) for p in tracked_store.events("tutor_message").get_column("payload")]
    review_request, why, why_reply = payloads[2], payloads[4], payloads[5]
    assert review_request["text"] == "Please review my code."
    assert "def total(numbers, seen=[])" in review_request["code"]  # what was reviewed
    assert why["text"] == "why?" and why_reply["routing"] == REVIEW_FOLLOW_UP


def test_explain_the_last_error(shell: InteractiveShell) -> None:
    run(shell, "scores = [3, 5]\nscores[2]\n")
    outputs, _ = run(shell, "%explain")
    text = outputs[-1]["text/plain"]
    assert "IndexError" in text and "scores" in text and "Line 2" in text


def test_follow_ups_of_an_explained_error_are_about_that_error(
    shell: InteractiveShell, tracked_store
) -> None:
    """After %explain, "why?" got "Show me the code you want reviewed": the error was not
    stored with the conversation, so the code reviewer had nothing to answer about."""
    cells = ['scores = {"ada": 3}\nscores["bob"]\n', "%explain"]
    follow_ups = ("why?", "I still don't get it", "can you show a smaller example?")
    texts = []
    for reply, text in follow_ups_after(shell, cells, follow_ups):
        assert reply.agent == "reviewer", text
        assert 'Still about your **KeyError** (Line 2: `scores["bob"]`)' in text
        assert "Show me the code" not in text and "Tuples" not in text
        texts.append(text)
    # each time another way: simpler words, the line step by step, the example asked for
    assert "In simpler words: The code asked the dictionary for a key" in texts[0]
    assert '2. It takes `scores["bob"]`: the item at `"bob"` in `scores`.' in texts[1]
    assert "A smaller example that raises the same error" in texts[2]
    run(shell, "%tutor what is recursion?")  # a new question: not about the error
    assert magics(shell).last_reply.sources[0].id.startswith("course:recursion#")
    payloads = [json.loads(p) for p in tracked_store.events("tutor_message").get_column("payload")]
    explained, why_reply = payloads[2], payloads[5]
    assert explained["error"].endswith("KeyError: 'bob'")  # its line too, for the follow-up
    assert 'scores["bob"]' in explained["error"]
    from learnpulse.agents.tutor import ERROR_FOLLOW_UP

    assert why_reply["routing"] == ERROR_FOLLOW_UP


def test_the_concept_behind_an_explained_error_comes_from_the_course(
    shell: InteractiveShell, tracked_store
) -> None:
    """After %explain, its suggested "Explain the concept behind this" explained the error
    again instead of the course's section on dictionaries."""
    from learnpulse.agents.tutor import CONCEPT_FOLLOW_UP

    run(shell, 'scores = {"ada": 3}\nscores["bob"]\n')
    run(shell, "%explain")
    action = next(a for a in magics(shell).last_reply.actions if "concept" in a)
    outputs, _ = run(shell, f"%tutor {action}")
    reply, shown = magics(shell).last_reply, outputs[-1]["text/plain"]
    assert reply.agent == "assistant"
    assert reply.text.startswith('The concept behind your **KeyError** (Line 2: `scores["bob"]`)')
    assert reply.sources[0].id == "course:dicts#Missing keys"
    assert "(Source: *Dictionaries — Missing keys*.)" in shown
    assert "Still about your" not in shown
    concept = json.loads(tracked_store.events("tutor_message").get_column("payload")[-1])
    assert concept["routing"] == CONCEPT_FOLLOW_UP


def test_asked_again_the_tutor_explains_an_error_another_way_until_it_runs_out(
    shell: InteractiveShell, tracked_store
) -> None:
    """After %explain, "why?" asked twice got the same text twice."""
    run(shell, "numbers = []\naverage = sum(numbers) / len(numbers)\n")
    run(shell, "%explain")
    shown = [run(shell, "%tutor why?")[0][-1]["text/plain"] for _ in range(6)]
    assert len(set(shown[:4])) == 4
    for angle, text in zip(("In simpler words", "Step by step", "Think of it this way",
                            "A smaller example"), shown, strict=False):  # fmt: skip
        assert angle in text and "Still about your **ZeroDivisionError** (Line 2" in text
    assert shown[4] == shown[5]  # run out: it says so, and what to do instead
    assert "I have explained your **ZeroDivisionError**" in shown[4]
    assert "every way I have" in shown[4] and "show your instructor" in shown[4]


def test_follow_ups_of_a_hint_go_on_or_reword_never_to_the_solution(
    shell: InteractiveShell, tracked_store
) -> None:
    """After %hint, "why?" was read with the chat question before it (the hint was not in the
    conversation) and answered about tuples; "I don't understand this hint" opened the next."""
    run(shell, "%tutor what is a tuple?")
    run(shell, "%hint ex-loops-04")
    hints = tracked_store.session.course.exercise("ex-loops-04").hints
    answers, opened = {}, {}
    for follow_up in ("why?", "another hint", "I don't understand this hint", "show me the answer"):
        outputs, _ = run(shell, f"%tutor {follow_up}")
        answers[follow_up] = outputs[-1]["text/plain"]
        opened[follow_up] = tracked_store.session.hints_opened["ex-loops-04"]
        assert magics(shell).last_reply.agent == "assistant", follow_up
    assert (
        f"The hint you opened last for **Sum of a list** says:\n\n> {hints[0]}" in answers["why?"]
    )
    assert "Put another way" in answers["why?"] and "Tuples" not in answers["why?"]
    assert "hint 2 of 3" in answers["another hint"] and hints[1] in answers["another hint"]
    assert (
        f"The hint you opened last for **Sum of a list** says:\n\n> {hints[1]}"
        in answers["I don't understand this hint"]
    )  # the same rung, put another way
    assert "won't give you the solution" in answers["show me the answer"]
    solution = tracked_store.session.course.exercise("ex-loops-04").solution
    for text in answers.values():
        assert "result += n" not in text and solution.strip() not in text
    assert list(opened.values()) == [1, 2, 2, 3]  # re-wording opens no hint


def test_a_follow_up_of_a_check_is_about_the_answer_checked(
    shell: InteractiveShell, tracked_store
) -> None:
    """After a wrong %%check, "why?" was answered about the chat question before it."""
    run(shell, "%tutor what is a tuple?")
    run(shell, WRONG_TOTAL)
    run(shell, "%tutor why?")
    reply = magics(shell).last_reply
    assert reply.agent == "reviewer"
    assert reply.text.startswith("About your last answer to **Sum of a list**: it was not right")
    assert "expected 16" in reply.text  # what the check said
    assert "return-in-loop" in reply.text  # the answer's own bug
    why_reply = json.loads(tracked_store.events("tutor_message").get_column("payload")[-1])
    from learnpulse.agents.tutor import CHECK_FOLLOW_UP

    assert why_reply["routing"] == CHECK_FOLLOW_UP
    run(shell, "%tutor give me a hint")  # the ladder's hint, not the review again
    hint = magics(shell).last_reply
    assert hint.agent == "assistant" and hint.hint_level == 1


@pytest.mark.parametrize(
    ("chat", "agent"),
    [
        ("make me a study plan for the next 3 weeks", "coach"),
        ("what should I learn before recursion?", "explorer"),
    ],
)
def test_a_follow_up_is_about_the_newest_context_not_an_older_chat_answer(
    shell: InteractiveShell, tracked_store, chat: str, agent: str
) -> None:
    """ "why?" right after %hint or %%check, when the last chat answer was the coach's or the
    knowledge explorer's, went to that agent: a study plan or a learning path about a hint."""
    from learnpulse.agents.tutor import CHECK_FOLLOW_UP, HINT_FOLLOW_UP

    hints = tracked_store.session.course.exercise("ex-loops-04").hints
    run(shell, f"%tutor {chat}")
    assert magics(shell).last_reply.agent == agent
    run(shell, "%hint ex-loops-04")
    about_the_hint = (  # asked again, another angle on it (exercise_ladder.py)
        ("why?", f"The hint you opened last for **Sum of a list** says:\n\n> {hints[0]}"),
        ("I still don't get it", "The concept behind **Sum of a list**, from the course"),
    )
    for follow_up, said in about_the_hint:
        run(shell, f"%tutor {follow_up}")
        reply = magics(shell).last_reply
        assert reply.agent == "assistant", follow_up
        assert said in reply.text
    run(shell, f"%tutor {chat}")  # a chat answer again, then a check
    run(shell, WRONG_TOTAL)
    run(shell, "%tutor why?")
    reply = magics(shell).last_reply
    assert reply.agent == "reviewer"
    assert reply.text.startswith("About your last answer to **Sum of a list**")
    routings = [
        json.loads(p).get("routing")
        for p in tracked_store.events("tutor_message").get_column("payload")
    ]
    assert routings[3] == routings[5] == HINT_FOLLOW_UP and routings[-1] == CHECK_FOLLOW_UP
    run(shell, "%tutor and why?")  # the newest context is still the check, reviewed: the
    reply = magics(shell).last_reply  # assistant takes the next angle on it
    assert reply.agent == "assistant" and reply.agent != agent
    assert reply.text.startswith("About your last answer to **Sum of a list**")


def test_a_follow_up_of_code_cut_when_stored_says_so(
    shell: InteractiveShell, tracked_store
) -> None:
    """Code longer than the tutor stores was cut silently: a follow-up of its review was
    about the first part only, without a word (and its cut end read as a SyntaxError)."""
    from learnpulse.agents.tutor import MAX_LOGGED_CODE_CHARS

    lines = [f"value_{n} = [{n}, {n + 1}, {n + 2}]" for n in range(400)]
    run(shell, "\n".join(lines) + "\n")
    run(shell, "%review")
    assert "only kept" not in magics(shell).last_reply.text  # the review saw all of it
    run(shell, "%tutor why?")
    reply = magics(shell).last_reply
    assert reply.agent == "reviewer"
    assert f"I only kept its first {MAX_LOGGED_CODE_CHARS:,} characters" in reply.text
    assert "SyntaxError" not in reply.text


def test_question_mark_guard_only_rewrites_tutor_lines() -> None:
    assert question_mark_guard(["%tutor why?\n"]) == [
        "get_ipython().run_line_magic('tutor', 'why?')\n"
    ]
    untouched = ["%%tutor\n", "why?\n"]
    assert question_mark_guard(untouched) == untouched
    assert question_mark_guard(["x = 1\n", "%tutoring?\n"]) == ["x = 1\n", "%tutoring?\n"]


def _terminal_ipython(tmp_path: Path, commands: str) -> subprocess.CompletedProcess:
    """``commands`` typed into a real terminal IPython (no widget frontend) with the student's
    store in ``tmp_path``."""
    env = {
        **os.environ,
        "LEARNPULSE_DB_URL": f"sqlite:///{tmp_path / 'events.db'}",
        "LEARNPULSE_SPOOL_DIR": str(tmp_path / "spool"),
        "LEARNPULSE_LEARNER_ID": "terminal-student",
    }
    ipython = Path(sys.executable).with_name("ipython")
    return subprocess.run(
        [str(ipython), "--simple-prompt", "--no-banner", "--colors=NoColor"],
        input=commands + "exit\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )


@pytest.mark.slow
def test_plain_terminal_ipython_gets_text(tmp_path) -> None:
    """A real terminal IPython (no widget frontend): the widgets print as text."""
    commands = "%load_ext learnpulse\n%exercise ex-lists-02\n%hint ex-lists-02\n%progress lists\n"
    finished = _terminal_ipython(tmp_path, commands)
    out = finished.stdout
    assert "Exercise ex-lists-02: Negative index" in out and "  b) 30" in out
    assert "Hint 1 of 2: Negative indexes count from the end" in out
    assert "Your progress" in out and "Lists and indexing" in out
    assert "Traceback" not in out + finished.stderr
    assert "VBox(" not in out  # the text rendering, not the widget's repr


def test_a_message_too_long_for_the_tutor_says_so(shell: InteractiveShell) -> None:
    """It said the tutor could not be reached (and logged a traceback into the cell)."""
    outputs, _ = run(shell, "%tutor " + "why " * 5_000)
    text = outputs[-1]["text/plain"]
    assert "The tutor could not take that message" in text and "at most" in text


@pytest.mark.slow
def test_the_first_tutor_answer_does_not_import_scikit_learn(tmp_path) -> None:
    """The first %tutor answer of a kernel imported scikit-learn, SciPy and pandas (BKT's
    sklearn base class, the stop words): 5-9 s before the answer on a 2-core machine."""
    commands = (
        "%load_ext learnpulse\n%tutor what is a tuple?\n"
        "print('heavy:', sorted(m for m in ('sklearn', 'scipy', 'pandas') if m in sys.modules))\n"
    )
    finished = _terminal_ipython(tmp_path, "import sys\n" + commands)
    assert "Tuples and sets" in finished.stdout  # answered, from the course
    assert "heavy: []" in finished.stdout
    assert "Traceback" not in finished.stdout + finished.stderr
