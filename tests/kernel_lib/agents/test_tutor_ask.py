"""The tutor's entry: routing, context (history, exercise, mastery), logging, streaming,
the five agents' answers, and agent plugins."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from learnpulse.agents import (
    ask,
    ask_stream,
    available_agents,
    generated_exercise,
)
from learnpulse.agents.conversation import with_previous_question
from learnpulse.agents.learner import learner_mastery
from learnpulse.course import check
from learnpulse.models.engagement import engagement_patterns
from tests.conftest import make_event
from tests.kernel_lib.agents.test_agent_registry import AGENTS


@pytest.mark.parametrize(
    ("message", "agent"),
    [
        ("what is the difference between a list and a tuple?", "assistant"),
        ("why does my code raise an error on line 3?", "reviewer"),
        ("```python\nx = 1\n```", "reviewer"),
        ("give me a practice exercise on loops", "generator"),
        ("what should I learn before recursion?", "explorer"),
        ("show me the concept map", "explorer"),
        ("make me a study plan for the next 3 weeks", "coach"),
        ("I keep losing my streak, any tips to stay motivated?", "coach"),
        ("my exams start tomorrow and I feel lost", "coach"),
        # "exam" matched "example", and the coach won the tie with "explain"
        ("can you explain for loops with an example?", "assistant"),
        # "I could not find this in the course"
        ("can I have an easy question?", "generator"),
    ],
)
def test_router_picks_the_agent(course, message, agent):
    assert ask(message, learner_id="ada", course=course).agent == agent


@pytest.mark.parametrize(
    ("message", "agent"),
    [
        # "exercise" here names the learner's own: these got a practice question
        ("I don't understand this exercise", "assistant"),
        ("can you explain this exercise?", "assistant"),
        ("help me with this exercise", "assistant"),
        ("what does the question mean?", "assistant"),
        # asking for a new one still goes to the generator
        ("give me another exercise like this one", "generator"),
        ("can you make the exercise easier?", "generator"),
        ("a harder one please", "generator"),
        ("quiz me on this exercise's topic", "generator"),
    ],
)
def test_the_exercise_at_hand_is_no_request_for_a_new_one(course, message, agent):
    routed = ask(message, learner_id="ada", exercise="ex-loops-04", course=course)
    assert routed.agent == agent


def test_explicit_agent_wins_and_unknown_agents_are_named(course):
    assert ask("what is a list?", learner_id="ada", agent="coach", course=course).agent == "coach"
    with pytest.raises(ValueError, match="unknown agent 'oracle'; known agents: assistant"):
        ask("what is a list?", learner_id="ada", agent="oracle", course=course)


@pytest.mark.parametrize(
    ("message", "error"), [("", "non-empty"), ("x" * 10_001, "at most"), (None, "non-empty")]
)
def test_bad_messages_are_refused(course, message, error):
    with pytest.raises(ValueError, match=error):
        ask(message, learner_id="ada", course=course)


def test_unknown_exercise_names_it(course):
    with pytest.raises(KeyError, match="ex-loops-99"):
        ask("hint", learner_id="ada", exercise="ex-loops-99", course=course)


def test_exchanges_are_logged_and_make_the_history(course, store):
    first = ask("give me a practice exercise on dicts", learner_id="ada", course=course,
                store=store)  # fmt: skip
    follow_up = ask("a harder one please", learner_id="ada", course=course, store=store)
    assert first.agent == follow_up.agent == "generator"  # the follow-up stays with the agent
    logged = store.query(kinds="tutor_message", learners="ada")
    assert logged.height == 4
    payloads = [json.loads(p) for p in logged.get_column("payload")]
    assert [p["role"] for p in payloads] == ["learner", "tutor", "learner", "tutor"]
    assert payloads[0]["text"] == "give me a practice exercise on dicts"
    assert payloads[1]["agent"] == "generator" and payloads[1]["sources"] == ["generator:dicts"]
    assert payloads[3]["routing"] == "a follow-up to the last answer"
    assert store.query(kinds="tutor_message", learners="bob").is_empty()


def test_hints_are_counted_across_the_conversation_and_widget_events(course, lite_store):
    lite_store.append([make_event(kind="hint", learner_id="ada", item_id="ex-loops-04",
                                  course_id=course.id, correct=None)])  # fmt: skip
    reply = ask("hint please", learner_id="ada", exercise="ex-loops-04", course=course,
                store=lite_store)  # fmt: skip
    assert "hint 2 of 3" in reply.text  # the widget already opened the first
    assert reply.hint_level == 2 and reply.to_dict()["hint_level"] == 2
    logged = lite_store.query(kinds="tutor_message").get_column("payload")
    assert json.loads(logged[-1])["hint_level"] == 2


def test_stream_chunks_make_the_reply(course):
    stream = ask_stream("show me the concept map", learner_id="ada", course=course)
    assert stream.agent == "explorer" and stream.sources
    chunks = list(stream)
    assert len(chunks) > 1 and "".join(chunks) == stream.reply.text


@pytest.mark.parametrize("exercise", [None, "ex-loops-04"])
def test_a_question_the_course_is_not_about_gets_what_the_tutor_helps_with(course, exercise):
    """It got the passage on RecursionError, as confident as a good answer (with an exercise
    open, the exercise's topic added to the question would have found loops)."""
    reply = ask("how do I cook pasta?", learner_id="ada", course=course, exercise=exercise)
    assert reply.agent == "assistant" and reply.sources == ()
    assert "could not find this in the course" in reply.text
    assert next(iter(course.skills.values())).name in reply.text
    assert reply.confidence < 0.2


@pytest.mark.parametrize(
    ("message", "section"),
    [
        # the first section of "for and while loops" won: the lead section's weight
        ("show me an example of a while loop", "for and while loops — while loops"),
        ("how do while loops work?", "for and while loops — while loops"),
        ("how does a for loop work?", "for and while loops — for loops"),
        # a whole skill: its first section ("RecursionError" repeats the skill's name)
        ("explain recursion like I'm five", "Recursion — A function that calls itself"),
        ("what are modules?", "Modules and imports — Importing a module"),
    ],
)
def test_a_question_naming_a_section_is_answered_from_it(course, message, section):
    reply = ask(message, learner_id="ada", course=course)
    assert reply.sources[0].title == section


@pytest.mark.parametrize(
    ("message", "reply_starts"),
    [
        # these two got the passage on for loops
        ("any ideas?", "Here is hint 1 of 3 for **Sum of a list**"),
        ("can you point me in the right direction?", "Here is hint 1 of 3"),
        # the code reviewer asked for code to review ("check my" is its keyword)
        ("can you check my answer?", "I do not say whether an answer is right"),
        # the code reviewer asked for code too
        ("what's the answer?", "I won't give you the solution"),
    ],
)
def test_what_learners_say_on_an_exercise_gets_its_hint_or_check(course, message, reply_starts):
    reply = ask(message, learner_id="ada", exercise="ex-loops-04", course=course)
    assert reply.agent == "assistant" and reply.text.startswith(reply_starts), reply.text


def test_assistant_cites_course_and_reference(course):
    reply = ask("what does the nonlocal statement do", learner_id="ada", course=course)
    assert reply.sources[0].id == "pydoc:nonlocal"
    assert "Python reference" in reply.text
    loops = ask("why does range(5) stop at 4", learner_id="ada", course=course)
    assert loops.sources[0].id == "course:loops#range"
    assert "1. " in loops.text and "(Source: *for and while loops — range*.)" in loops.text


def test_an_exercise_explanation_is_quoted_only_once_the_learner_solved_it(course, lite_store):
    # it often works the answer out ("x = x + y computes 4 + 4 = 8"): quoted before, to
    # anyone asking about the topic, while the widget opens it only after a correct answer
    question, explanation = "explain reassignment x = x + y", "exercise:ex-variables-01/explanation"
    before = ask(question, learner_id="ada", course=course, store=lite_store)
    assert before.sources and explanation not in {s.id for s in before.sources}
    exercise = course.exercise("ex-variables-01")
    lite_store.append([make_event(learner_id="ada", course_id=course.id, item_id=exercise.id,
                                  skills=[exercise.skill], correct=True)])  # fmt: skip
    after = ask(question, learner_id="ada", course=course, store=lite_store)
    assert explanation in {s.id for s in after.sources}


def test_the_offline_coach_is_not_redacted_for_an_exercise_answer(course):
    # ex-lists-01's answer is 3: "3 sessions a week" became "[answer hidden: ...] sessions"
    assert course.exercise("ex-lists-01").answer == 3
    reply = ask("make me a study plan", learner_id="ada", course=course, exercise="ex-lists-01")
    assert reply.agent == "coach" and reply.redactions == 0
    assert "answer hidden" not in reply.text and "3 sessions a week" in reply.text


def test_assistant_speaks_to_the_learner_level(course, lite_store):
    beginner = ask("how does a while loop work", learner_id="ada", course=course)
    wins = [make_event(offset_s=i, learner_id="pro", course_id=course.id, item_id="ex-loops-01",
                       skills=["loops"], correct=True) for i in range(12)]  # fmt: skip
    lite_store.append(wins)
    advanced = ask("how does a while loop work", learner_id="pro", course=course, store=lite_store)
    assert "step by step" in beginner.text and "For example" in beginner.text
    assert "In short" in advanced.text and len(advanced.text) < len(beginner.text)


def test_generated_exercises_come_with_working_checkers(course):
    reply = ask("give me 3 hard exercises on loops", learner_id="ada", course=course)
    ids = [line.split("`")[1] for line in reply.text.splitlines() if line.startswith("**")]
    assert len(ids) == 3
    for exercise_id in ids:
        exercise = generated_exercise(exercise_id)
        assert exercise.skills == ("loops",) and exercise.difficulty >= 0.5
        right = exercise.solution if exercise.type == "code" else exercise.answer
        assert check(exercise, right).correct
        wrong = "def count_multiples(numbers):\n    return 0\n" if exercise.type == "code" else -1
        assert not check(exercise, wrong).correct
        assert exercise.solution not in reply.text


@pytest.mark.parametrize(
    ("message", "skill"),
    [
        ("give me a practice question for booleans", "conditionals"),
        ("let me try an exercise on indexing", "lists"),
    ],
)
def test_practice_is_on_the_skill_asked_for_not_an_everyday_word(course, message, skill):
    # "for" named loops, and "try" exceptions, before the skill asked for
    reply = ask(message, learner_id="ada", course=course)
    assert reply.agent == "generator" and f"new practice on **{skill}**" in reply.text


def test_explorer_path_skips_what_the_learner_mastered(course, lite_store):
    # ten exercises per skill: answering one again would be practice, not mastery
    wins = [
        make_event(offset_s=i, learner_id="max", course_id=course.id, item_id=f"ex-{s}-{i:02}",
                   skills=[s], correct=True)
        for s in ("variables", "expressions") for i in range(10)
    ]  # fmt: skip
    lite_store.append(wins)
    mastery = learner_mastery(lite_store.query(learners="max"))
    mastered = set(mastery.filter(pl.col("mastered")).get_column("skill"))
    assert mastered  # the scenario needs at least one mastered skill
    reply = ask("what should I learn before recursion?", learner_id="max", course=course,
                store=lite_store)  # fmt: skip
    path = reply.text.split("Already mastered")[0]
    for skill in mastered:
        assert course.skills[skill].name not in path
        assert course.skills[skill].name in reply.text.split("Already mastered")[1]
    assert "Defining and calling functions" in path and "Recursion" in path


def test_what_to_learn_after_a_topic_is_what_builds_on_it(course):
    """It got the path to functions: what comes before them."""
    reply = ask("what should I learn after functions?", learner_id="ada", course=course)
    assert reply.agent == "explorer"
    assert reply.text.startswith("After **Defining and calling functions** come these topics")
    following = [
        s for s in course.topological_order() if "functions" in course.skills[s].prerequisites
    ]
    listed = [line for line in reply.text.splitlines() if line[:1].isdigit()]
    assert [line.split(". ", 1)[1].split(" (")[0] for line in listed] == [
        course.skills[s].name for s in following
    ]
    assert any("it also needs Booleans and if/elif/else" in line for line in listed)
    last = ask("what comes after recursion?", learner_id="ada", course=course)
    assert last.text.startswith("Nothing in the course builds on **Recursion**")


def test_explorer_explains_why_a_prerequisite_matters(course):
    reply = ask("why do I need loops before dicts?", learner_id="ada", course=course)
    assert "**Dictionaries** builds directly on **for and while loops**" in reply.text
    assert "ex-dicts-02" in reply.text


#: A learner's answers: variables solved, expressions solved at the second try, lists wrong twice.
NOOR_ANSWERS = [
    ("ex-variables-01", True), ("ex-variables-02", True), ("ex-expressions-01", False),
    ("ex-expressions-01", True), ("ex-lists-01", False), ("ex-lists-01", False),
]  # fmt: skip


def _answered(store, course, learner, answers):
    """``answers`` (exercise id, right?) stored for ``learner``, a minute apart, ending now."""
    now = datetime.now(timezone.utc)
    store.append([
        make_event(learner_id=learner, course_id=course.id, item_id=item, correct=right,
                   skills=list(course.exercise(item).skills),
                   ts=(now - timedelta(minutes=len(answers) - n)).isoformat())
        for n, (item, right) in enumerate(answers)
    ])  # fmt: skip


@pytest.mark.parametrize(
    "message",
    [
        "what should I do next?",
        "what now?",
        "where do I start?",
        "I finished the loops exercises, what next?",
    ],
)
def test_what_to_do_next_is_what_the_progress_widget_recommends(course, lite_store, message):
    """Before: "what should I do next?" got "I could not find this in the course", "what
    should I learn next?" the whole concept map, and "I finished the loops exercises, what
    next?" a practice question on loops (the generator's keyword "exercise")."""
    from learnpulse.widgets import LearnerSession, recommend_next

    _answered(lite_store, course, "noor", NOOR_ANSWERS)
    reply = ask(message, learner_id="noor", course=course, store=lite_store)
    assert reply.agent == "explorer" and reply.text.startswith("What to do next")
    widget = recommend_next(LearnerSession(learner_id="noor", store_url=lite_store.url))
    first = widget.exercise
    assert f"1. **{first.title}** (`{first.id}`): {widget.reason}." in reply.text
    assert f"Open the first with `%exercise {first.id}`." in reply.text
    assert "ex-variables-01" not in reply.text  # solved, and its skill mastered
    assert "Pace: 3 of the last 6 counted attempts correct (50%): easier items" in reply.text


def test_what_to_do_next_starts_a_newcomer_at_the_first_topic_and_finishes_the_open_exercise(
    course,
):
    first = course.topological_order()[0]
    easiest = min(course.exercises_for(first), key=lambda e: e.difficulty)
    newcomer = ask("what should I do next?", learner_id="new", course=course)
    assert f"start with the course's first topic, **{course.skills[first].name}**" in newcomer.text
    assert f"`%exercise {easiest.id}` (*{easiest.title}*)" in newcomer.text
    during = ask("what should I do next?", learner_id="new", exercise="ex-loops-04", course=course)
    assert during.agent == "explorer"
    assert during.text.startswith("You are on **Sum of a list** (`ex-loops-04`): finish it first")
    # a topic named is a path to it, as before
    path = ask("what should I learn next on loops?", learner_id="new", course=course)
    assert path.text.startswith("To reach **for and while loops**")


@pytest.mark.parametrize("message", ["how am I doing?", "am I ready for the exam?"])
def test_how_am_i_doing_gets_the_topics_by_level_accuracy_and_readiness(
    course, lite_store, message
):
    """Before: "how am I doing?" right after a wrong answer was read as "why?" about it, and
    "am I ready for the exam?" got a four-week study plan."""
    from learnpulse.widgets import LearnerSession

    _answered(lite_store, course, "noor", NOOR_ANSWERS)
    reply = ask(message, learner_id="noor", course=course, store=lite_store)
    assert reply.agent == "coach" and "Study plan" not in reply.text
    assert reply.text.startswith("**Your progress in Introduction to Python**")
    assert "- **Mastered** (1): Variables and assignment\n" in reply.text
    assert "- **Needs Focus** (1): Lists and indexing\n" in reply.text
    assert (
        f"- **Not started** ({len(course.skills) - 3} of {len(course.skills)} topics)" in reply.text
    )
    session = LearnerSession(learner_id="noor", store_url=lite_store.url)
    accuracy = session.accuracy  # (loads the session's history)
    widget = f"{session.counted_right} of {session.counted_answers} counted answers right"
    assert f"**Accuracy:** {widget} ({accuracy:.0%};" in reply.text  # as the widget
    assert "**Ready for the end of the course:** not yet (probability" in reply.text
    assert reply.actions[0] == "What should I do next?"
    plan = ask("make me a study plan for the exam", learner_id="noor", course=course)
    assert plan.text.startswith("**Study plan for 4 week(s)**")
    newcomer = ask(message, learner_id="new", course=course)
    assert newcomer.text.startswith("You have not answered an exercise yet")


#: A cell's KeyError as the notebook collector records it.
KEY_ERROR = {"success": False, "error_type": "KeyError", "error_message": "'b'",
             "code": "d = {'a': 1}\nprint(d['b'])"}  # fmt: skip


def _cell_errors(store, course, *payloads):
    """``cell_error`` events of ada with ``payloads``, a minute apart, oldest first."""
    store.append([
        make_event(learner_id="ada", course_id=course.id, kind="cell_error", item_id=None,
                   correct=None, skills=[], payload=payload, offset_s=60 * n)
        for n, payload in enumerate(payloads)
    ])  # fmt: skip


@pytest.mark.parametrize(
    "message", ["I got an error", "it gives me an error", "I keep getting an exception"]
)
def test_saying_an_error_came_explains_the_newest_one(course, lite_store, message):
    """These asked for code or an error to look at, though the store held the error."""
    _cell_errors(lite_store, course, KEY_ERROR)
    reply = ask(message, learner_id="ada", course=course, store=lite_store)
    assert reply.agent == "reviewer" and reply.text.startswith("**KeyError**: The key `'b'`")


@pytest.mark.parametrize(
    ("message", "explained"),
    [
        # the course passage on indentation: the question's words, not its error, were read
        ("what does SyntaxError: invalid syntax mean", "**SyntaxError**: Python could not read"),
        ('I got TypeError: can only concatenate str (not "int") to str', "**TypeError**: You"),
    ],
)
def test_an_error_quoted_in_a_question_is_explained(course, message, explained):
    reply = ask(message, learner_id="ada", course=course)
    assert reply.agent == "reviewer" and reply.text.startswith(explained), reply.text
    assert "I cannot see which line: paste the whole traceback" in reply.text


def test_my_last_error_is_the_newest_the_store_holds(course, lite_store):
    """Through tutor/chat there is no notebook: "explain my last error" got the course passage
    on what an exception is. It now reads the learner's newest cell_error event."""
    from learnpulse.agents.last_error import NO_ERROR_YET

    options = {"learner_id": "ada", "course": course, "store": lite_store}
    assert ask("explain my last error", **options).text == NO_ERROR_YET
    older = {**KEY_ERROR, "error_type": "ZeroDivisionError", "error_message": "division by zero"}
    _cell_errors(lite_store, course, older, KEY_ERROR)
    reply = ask("explain my last error", **options)
    assert reply.agent == "reviewer" and reply.text.startswith("**KeyError**: The key `'b'`")
    assert ask("why?", **options).text.startswith("Still about your **KeyError**")
    pasted = ask("what does this error mean?\nNameError: name 'x' is not defined", **options)
    assert "**NameError**" in pasted.text  # a pasted error is the one asked about


@pytest.mark.parametrize(
    "message", ["how many exercises have I done?", "which exercises did I solve?"]
)
def test_progress_counts_each_answer_once_as_the_widget_does(course, lite_store, message):
    """These got a practice question ("exercises" is the content generator's word). An
    answer to an exercise of two skills (ex-loops-04: loops and lists) counted twice: three
    answers read "2 of 5"."""
    answers = [("ex-loops-04", False), ("ex-loops-04", True), ("ex-lists-01", False)]
    _answered(lite_store, course, "omar", answers)
    reply = ask(message, learner_id="omar", course=course, store=lite_store)
    assert reply.agent == "coach"
    assert "**Accuracy:** 1 of 3 counted answers right (33%;" in reply.text


def test_coach_reports_the_streak_of_the_engagement_model(course, lite_store):
    today = datetime.now(timezone.utc).replace(hour=18, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=d) for d in (0, 1, 2, 3, 6)]
    events = [
        make_event(ts=day.isoformat(), learner_id="cleo", course_id=course.id,
                   session_id=f"s{n}", item_id="ex-lists-01", skills=["lists"])
        for n, day in enumerate(days)
    ]  # fmt: skip
    lite_store.append(events)
    expected = engagement_patterns(lite_store.query(learners="cleo")).row(0, named=True)
    reply = ask("what is my streak and when should I study?", learner_id="cleo", course=course,
                store=lite_store)  # fmt: skip
    assert f"current streak {expected['current_streak_days']} day(s)" in reply.text
    assert f"around {expected['peak_hour']}:00 UTC" in reply.text
    plan = ask("make me a study plan for 2 weeks", learner_id="cleo", course=course)
    assert "**Week 1:**" in plan.text and "**Week 2:**" in plan.text
    assert "**Week 3:**" not in plan.text


def test_a_follow_up_of_the_coach_stays_on_its_last_topic(course, lite_store):
    """Before: "why?" after the coach's progress or habits got the study plan (every topic)."""
    options = {"learner_id": "cleo", "course": course, "store": lite_store}
    first = ask("how am I doing?", **options)
    assert ask("why?", **options).text == first.text
    habits = ask("what is my streak?", **options)
    assert habits.text.startswith("**Your habits:**")
    again = ask("why?", **options)
    assert again.agent == "coach" and again.text.startswith("**Your habits:**")
    assert "Study plan" not in again.text


@pytest.mark.parametrize("asked", ["0 weeks", "00 weeks", "99 weeks"])
def test_coach_plans_at_least_one_and_at_most_the_longest_plan(course, asked):
    # "0 weeks" divided the skills by zero: a ZeroDivisionError (HTTP 500) for a plain question
    plan = ask(f"make me a study plan for {asked}", learner_id="cleo", course=course)
    assert plan.agent == "coach" and "**Week 1:**" in plan.text
    assert "**Week 17:**" not in plan.text


def test_agents_register_through_entry_points(course, agent_plugin):
    agent_plugin(AGENTS, "echo = lp_plugin:Echo")
    assert "echo" in available_agents()
    reply = ask("echo this please", learner_id="ada", course=course)
    assert (reply.agent, reply.text) == ("echo", "You said: echo this please")


def test_concept_questions_go_to_the_assistant(course):
    """Questions *about* errors or debugging are concept questions, not code to review."""
    from pathlib import Path

    import yaml

    rows = yaml.safe_load(Path(__file__).with_name("retrieval_questions.yaml").read_text())
    routed = {
        row["q"]: ask(row["q"], learner_id="ada", course=course).agent for row in rows["questions"]
    }
    assert {q: a for q, a in routed.items() if a != "assistant"} == {}


def test_short_follow_ups_are_read_with_the_previous_question(course, lite_store):
    ask("how do I read a text file line by line", learner_id="ada", course=course,
        store=lite_store)  # fmt: skip
    follow_up = ask("and writing?", learner_id="ada", course=course, store=lite_store)
    assert follow_up.sources[0].id == "course:files#Writing"


def _conversation(course, store, *messages):
    """The replies to ``messages``, asked in turn by one learner."""
    return [ask(m, learner_id="ada", course=course, store=store) for m in messages]


@pytest.mark.parametrize(
    ("first", "then", "read_as", "answered_from"),
    [
        ("how do for loops work?", "why?", "follow-up", "course:loops#"),
        ("how do for loops work?", "what about that?", "follow-up", "course:loops#"),
        # went to the coach: "exam" matched "example"
        ("how do for loops work?", "can you give an example?", "follow-up", "course:loops#"),
        # too long to be read with the question before it: "tell me more"
        ("what is a list?", "how do I slice it?", "follow-up", "course:lists#Slicing"),
        ("what is a tuple?", "and unpacking?", "follow-up", "course:tuples_sets#Unpacking"),
        # short questions naming their own topic were read as follow-ups: "what is a dict?"
        # after "how do for loops work?" was answered from loop passages (and, asked first,
        # from "List and dict comprehensions": the course says "Dictionaries")
        ("how do for loops work?", "what is a dict?", "new", "course:dicts#Keys and values"),
        ("how do for loops work?", "what is a tuple?", "new", "course:tuples_sets#Tuples"),
        ("what is a tuple?", "what is inheritance?", "new", "course:classes#Inheritance"),
        ("how do I read a file?", "what is a set?", "new", "course:tuples_sets#Sets"),
    ],
)  # fmt: skip
def test_a_message_after_a_question_is_read_as_a_follow_up_or_a_new_question(
    course, lite_store, first, then, read_as, answered_from
):
    earlier, reply = _conversation(course, lite_store, first, then)
    assert reply.agent == "assistant" and reply.sources
    assert reply.sources[0].id.startswith(answered_from)
    if read_as == "new":  # answered as if it came first, with nothing of the earlier answer
        alone = ask(then, learner_id="bob", course=course)
        assert [s.id for s in reply.sources] == [s.id for s in alone.sources]
        assert not {s.id for s in earlier.sources} & {s.id for s in reply.sources}


@pytest.mark.parametrize(
    ("first", "agent"),
    [
        ("make me a study plan for the next 3 weeks", "coach"),
        ("what should I learn before recursion?", "explorer"),
        ("give me a practice exercise on loops", "generator"),
    ],
)
@pytest.mark.parametrize("then", ["why?", "can you explain more?", "and what about that?"])
def test_a_follow_up_stays_with_the_agent_that_answered(course, lite_store, first, agent, then):
    """ "why?" after the coach's plan went to the learning assistant: "why" and "explain" are
    its keywords, and keywords were counted before follow-ups."""
    earlier, reply = _conversation(course, lite_store, first, then)
    assert earlier.agent == agent
    assert reply.agent == agent


def test_a_follow_up_naming_another_topic_is_answered_about_that_topic(course, lite_store):
    # "and a dict?" after "what is a tuple?" was answered with sets: the tuple stayed the topic
    _, follow_up, why = _conversation(course, lite_store, "what is a tuple?", "and a dict?", "why?")
    asked_directly = ask("what is a dict?", learner_id="bob", course=course)
    assert [s.id for s in follow_up.sources] == [s.id for s in asked_directly.sources]
    assert not any(s.id.startswith("course:tuples_sets") for s in follow_up.sources + why.sources)


def test_a_short_question_on_another_topic_is_a_new_question(course, lite_store):
    """Read as a follow-up, "what is a tuple?" after a question on files got the files
    section: the previous question's words outweighed the new topic (in an instructor's
    course too: "what is a palindrome?" after counting words was answered on counting)."""
    ask("how do I open a file?", learner_id="ada", course=course, store=lite_store)
    reply = ask("what is a tuple?", learner_id="ada", course=course, store=lite_store)
    assert reply.sources[0].id.startswith("course:tuples_sets#")
    history = [{"role": "learner", "text": "how do I reverse a list?"}]
    for follow_up in ("and for strings?", "What about strings?"):  # a follow-up, by its opening
        question = with_previous_question(follow_up, history, course)
        # read with the earlier question, about its own topic (strings, not lists)
        assert question.startswith("how do I reverse") and question.endswith(follow_up)
        assert "list" not in question
    assert with_previous_question("what is a string?", history, course) == "what is a string?"


FAILING_AGENTS = """
from learnpulse.agents import Draft, Source


class Failing:
    title = "Failing agent"
    description = "Has a bug."
    keywords = ()

    def __init__(self, answer):
        self.name, self.answer = answer, answer

    def draft(self, message, context):
        if self.answer == "raises":
            raise KeyError("a plugin's own bug")
        return {
            "string": "a plain string",
            "no-text": Draft(None),
            "bad-sources": Draft("text", sources=("course:loops",)),
        }[self.answer]


raises, string, no_text, bad_sources = (
    Failing(n) for n in ("raises", "string", "no-text", "bad-sources")
)
"""


@pytest.mark.parametrize("name", ["raises", "string", "no-text", "bad-sources"])
def test_an_agent_that_fails_gets_an_apology_and_a_log(
    agent_plugin, course, lite_store, caplog, name
):
    """A plugin's exception (a KeyError even read as an unknown exercise in the server) or
    wrong draft reached the learner's notebook as a traceback."""
    agent_plugin(FAILING_AGENTS, f"{name} = lp_plugin:{name.replace('-', '_')}")
    reply = ask("what is a list?", learner_id="ada", agent=name, course=course, store=lite_store)
    assert (reply.agent, reply.confidence) == (name, 0.0)
    assert reply.text.startswith("The Failing agent could not answer this just now.")
    assert f"tutor agent '{name}' (lp_plugin.Failing) failed" in caplog.text
    assert lite_store.query(kinds="tutor_message").height == 2


LEAKING_AGENT = """
from learnpulse.agents import Draft


class Leaky:
    name = "leaky"
    title = "Leaky"
    description = "Hands out answers."
    keywords = ()

    def draft(self, message, context):
        solution = context.course.exercise("ex-loops-04").solution
        # a hint's payload made the tutor skip the answer check, as for its own hints
        return Draft(
            f"The answer is 3.\\n\\n```python\\n{solution}```", payload={"hint_level": 1}
        )
"""


@pytest.mark.parametrize("exercise", [None, "ex-lists-01"])
def test_a_plugin_agent_cannot_hand_out_an_answer(agent_plugin, course, exercise):
    """Offline, only the exercise open was checked, and its answer not at all with a hint's
    payload: a plugin agent gave ex-loops-04's solution and ex-lists-01's answer (3)."""
    agent_plugin(LEAKING_AGENT, "leaky = lp_plugin:Leaky")
    reply = ask("what is a loop?", learner_id="ada", agent="leaky", exercise=exercise,
                course=course)  # fmt: skip
    assert "result += n" not in reply.text and "The answer is" in reply.text
    assert ("answer hidden" in reply.text) == (exercise is not None)
    assert reply.hint_level is None  # nor move the learner's hint ladder


UNRULY_AGENTS = """
import threading

from learnpulse.agents import Draft

release = threading.Event()


class Unruly:
    title = "Unruly agent"
    description = "Hangs, or says far too much."
    keywords = ()

    def __init__(self, name):
        self.name = name

    def draft(self, message, context):
        if self.name == "hangs":
            release.wait(60)
        return Draft("word " * 2_000_000)


hangs, floods = Unruly("hangs"), Unruly("floods")
"""


def test_a_plugin_agent_that_hangs_or_floods_is_bounded(agent_plugin, course, monkeypatch):
    """A hung plugin held the notebook (or one of the server's threads) for good, and a
    10 MB draft went whole to the widget."""
    import sys

    from learnpulse.agents import tutor

    agent_plugin(UNRULY_AGENTS, "hangs = lp_plugin:hangs\nfloods = lp_plugin:floods")
    monkeypatch.setattr(tutor, "PLUGIN_DRAFT_TIMEOUT_S", 0.5)
    started = time.monotonic()
    hung = ask("what is a list?", learner_id="ada", agent="hangs", course=course)
    assert time.monotonic() - started < 5
    assert hung.text.startswith("The Unruly agent could not answer this just now.")
    sys.modules["lp_plugin"].release.set()
    flood = ask("what is a list?", learner_id="ada", agent="floods", course=course)
    assert len(flood.text) < tutor.MAX_DRAFT_CHARS + 100
    assert flood.text.endswith(f"cut at {tutor.MAX_DRAFT_CHARS:,} characters.)*")


def test_code_pasted_in_a_long_message_is_logged_within_the_payload_limit(course, lite_store):
    """Code pasted in the chat is stored with the message, for its follow-ups; with a long
    non-ASCII message the two outgrew an event's payload, and the reply failed."""
    message = f"review this\n```python\n# {'中' * 9_800}\nx = 1\n```"
    reply = ask(message, learner_id="ada", course=course, store=lite_store)
    assert reply.agent == "reviewer"
    logged = lite_store.query(kinds="tutor_message").get_column("payload")
    learner = json.loads(logged[0])
    assert learner["text"] == message and "code" not in learner  # the message has it
    short = "review this\n```python\nx = 1\n```"
    ask(short, learner_id="bob", course=course, store=lite_store)
    logged = lite_store.query(kinds="tutor_message", learners="bob").get_column("payload")
    assert json.loads(logged[0])["code"] == "x = 1\n"


class Verbose:
    """An engine writing a long reply in Japanese (6 bytes a character in stored JSON)."""

    name = "verbose"

    def stream(self, request):
        yield "リストは順序のある値の集まりです。" * 1_200


def test_a_long_non_ascii_reply_is_answered_and_logged_cut_to_the_payload_limit(course, lite_store):
    """A 20,000-character reply in Japanese outgrew an event's payload even cut to the logged
    16,000 characters, and the learner got no answer at all."""
    reply = ask("what is a list? リスト", learner_id="ada", course=course, store=lite_store,
                engine=Verbose())  # fmt: skip
    assert reply.text.startswith("リストは順序のある値の集まりです。")
    learner, tutor_said = map(json.loads, lite_store.query(kinds="tutor_message")["payload"])
    assert learner["text"] == "what is a list? リスト" and "text_cut" not in learner
    assert tutor_said["text_cut"] is True
    assert 5_000 < len(tutor_said["text"]) < len(reply.text)
    assert reply.text.startswith(tutor_said["text"])


def test_a_store_that_fails_to_log_the_exchange_does_not_take_the_answer_away(
    course, lite_store, monkeypatch, caplog
):
    """A locked or full store made ``ask`` raise after the reply was written (the widget said
    the tutor could not be reached; a streamed reply ended in an error)."""
    from sqlalchemy.exc import OperationalError

    def locked(events):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(lite_store, "append", locked)
    with caplog.at_level("WARNING", logger="learnpulse.agents.tutor"):
        reply = ask("what is a list?", learner_id="ada", course=course, store=lite_store)
    assert "list" in reply.text.lower() and reply.agent == "assistant"
    assert "the tutor exchange of ada was not stored" in caplog.text
