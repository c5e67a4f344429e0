"""The progress widget (live mastery, streak, recommendation) and the tutor chat widget, with
real ipywidgets, the real agents and a real SQLite store."""

from __future__ import annotations

import json
from datetime import date, timedelta

import ipywidgets as widgets

from learnpulse.agents.tutor import MAX_MESSAGE_CHARS
from learnpulse.course import demo_course
from learnpulse.widgets import ExerciseWidget, ProgressWidget, TutorChatWidget, recommend_next
from learnpulse.widgets.common import FRIENDLY_ERROR, TextFallback, guarded
from tests.kernel_lib.widgets import helpers
from tests.kernel_lib.widgets.helpers import TrackedStore

tracked_store = helpers.tracked_store  # the fixture
COURSE = demo_course()


def mastery_cell(progress: ProgressWidget, skill_name: str) -> str:
    row = next(r for r in progress.table.value.split("<tr>") if r.startswith(f"<td>{skill_name}"))
    return row


def test_progress_shows_lesson_skills_and_updates_after_each_attempt(
    tracked_store: TrackedStore,
) -> None:
    progress = ProgressWidget(skills=["lists", "loops"])
    assert progress.table.value.count("<tr>") == 3  # header + the two lesson skills
    before = mastery_cell(progress, "Lists and indexing")
    assert "0/0" in before
    exercise = ExerciseWidget("ex-lists-01")
    exercise.submit(3)
    after = mastery_cell(progress, "Lists and indexing")  # refreshed by the session
    assert after != before and "1/1" in after
    assert "1 day in a row · 1 correct answer in a row" in progress.streak.value
    ExerciseWidget("ex-lists-02").submit(2)  # wrong (another exercise: a repeat is practice)
    assert "0 correct answers in a row" in progress.streak.value
    assert "1/2" in mastery_cell(progress, "Lists and indexing")


def test_recommendation_follows_prerequisites_and_skips_solved(tracked_store: TrackedStore) -> None:
    first = recommend_next(tracked_store.session)
    assert first.exercise is not None and first.exercise.skill == "variables"  # no prerequisite
    assert "Variables and assignment" in first.reason and first.model.startswith("recommender")
    for exercise in COURSE.exercises_for("variables"):
        answer = exercise.answer if exercise.type != "code" else exercise.solution
        ExerciseWidget(exercise).submit(answer)
    later = recommend_next(tracked_store.session)
    assert later.exercise is not None and later.exercise.skill != "variables"
    assert set(COURSE.skills[later.exercise.skill].prerequisites) <= {"variables"}
    assert 0 <= later.confidence <= 1


def test_start_button_opens_the_recommended_exercise(tracked_store: TrackedStore) -> None:
    progress = ProgressWidget()
    assert progress.recommendation is not None and progress.recommendation.exercise is not None
    progress.start_button.click()
    (opened,) = progress.exercise_box.children
    assert isinstance(opened, ExerciseWidget)
    assert opened.exercise.id == progress.recommendation.exercise.id
    assert "Next:" in progress.next_html.value


def test_streak_counts_consecutive_days(tracked_store: TrackedStore) -> None:
    session = tracked_store.session
    today = date(2026, 3, 10)
    session.days.update({today, today - timedelta(days=1), today - timedelta(days=3)})
    assert session.streak_days(today) == 2
    assert session.streak_days(today + timedelta(days=1)) == 2  # today not practised yet
    assert session.streak_days(today + timedelta(days=2)) == 0


def test_progress_text_for_a_terminal(tracked_store: TrackedStore) -> None:
    ExerciseWidget("ex-loops-01").submit(8)
    text = ProgressWidget(skills=["loops"]).as_text()
    assert text.startswith("Your progress")
    assert "for and while loops" in text and "█" in text and "Lists" not in text
    assert "Next: ex-" in text and "Streak: 1 day in a row" in text


def test_chat_names_the_agent_cites_sources_and_offers_follow_ups(
    tracked_store: TrackedStore,
) -> None:
    chat = TutorChatWidget(exercise="ex-loops-01")
    assert ("Code reviewer", "reviewer") in chat.agent_menu.options
    reply = chat.ask("What does range(5) give?")
    names = [name for _, name in chat.agent_menu.options]
    assert reply.agent in names and chat.messages[1]["agent"] == reply.agent
    assert f"({reply.agent}, confidence" in chat.conversation.value  # the agent is named
    assert [m["role"] for m in chat.messages] == ["learner", "tutor"]
    assert "range" in chat.conversation.value and "Sources:" in chat.conversation.value
    assert any("course:loops" in s for s in chat.messages[1]["sources"])
    assert chat.suggestions.children and all(
        isinstance(b, widgets.Button) for b in chat.suggestions.children
    )
    follow_up = chat.suggestions.children[0].tooltip
    chat.suggestions.children[0].click()  # asks the suggestion
    assert chat.messages[2] == {"role": "learner", "text": follow_up}
    text = chat.as_text()
    assert "You: What does range(5) give?" in text and f"Tutor ({reply.agent}" in text
    logged = tracked_store.events("tutor_message")
    roles = [json.loads(p)["role"] for p in logged.get_column("payload")]
    assert roles == ["learner", "tutor", "learner", "tutor"]


def test_chat_follow_ups_are_about_the_check_and_the_hint_of_the_exercise_widget(
    tracked_store: TrackedStore,
) -> None:
    """A "why?" in the chat after the exercise widget's Check or Hint was answered about the
    chat question before them: the widget's checks and hints were not in the conversation."""
    chat = TutorChatWidget(exercise="ex-lists-01")
    chat.ask("what is a tuple?")
    exercise = ExerciseWidget("ex-lists-01")
    exercise.submit(4)  # wrong
    why = chat.ask("why?")
    assert why.agent == "assistant" and "Tuples" not in why.text
    assert why.text.startswith("About your last answer to **Last index**: it was not right")
    assert "4 is the length of the list" in why.text  # what the check said
    exercise.hint()
    reworded = chat.ask("I don't understand this hint")
    assert f"says:\n\n> {exercise.exercise.hints[0]}" in reworded.text  # put another way
    assert "Put another way" in reworded.text and exercise.hint_level == 1
    refused = chat.ask("just show me the answer")
    assert "won't give you the solution" in refused.text
    for reply in (why, reworded, refused):
        assert exercise.exercise.explanation not in reply.text and "- 1 = 3" not in reply.text


def test_chat_typed_question_and_chosen_agent(tracked_store: TrackedStore) -> None:
    chat = TutorChatWidget(agent="coach")
    chat.question.value = "How should I plan my week?"
    assert chat.question.value == ""  # sent on enter
    assert chat.messages[-1]["agent"] == "coach"


def test_chat_respects_a_tutor_off_policy(tracked_store: TrackedStore) -> None:
    course = COURSE.__class__.from_dict(
        {
            "id": "exam",
            "title": "Exam",
            "skills": [{"id": "lists", "name": "Lists"}],
            "exercises": [
                {
                    "id": "e1",
                    "prompt": "Index of the first element?",
                    "skills": ["lists"],
                    "difficulty": 0.1,
                    "type": "numeric",
                    "answer": 0,
                    "hints": ["Count from 0."],
                    "policy": {"tutor_enabled": False},
                }
            ],
        }
    )
    session = tracked_store.session.__class__(course=course, learner_id="ada")
    chat = TutorChatWidget(session=session, exercise="e1")
    assert chat.question.disabled and chat.send_button.disabled
    assert "turned off" in chat.status.value


class Fragile(TextFallback):
    """A widget whose action fails, as any bug would."""

    def as_text(self) -> str:
        return "fragile"

    @guarded("do the thing")
    def act(self) -> str:
        raise RuntimeError("a bug")


def test_guarded_actions_show_a_friendly_message_instead_of_raising(caplog) -> None:
    widget = Fragile()
    assert widget.act() is None
    assert widget.problem == FRIENDLY_ERROR.format(what="do the thing")
    assert "could not do the thing" in widget.status.value
    assert "a bug" in caplog.text  # logged for whoever investigates


def test_empty_question_is_ignored(tracked_store: TrackedStore) -> None:
    chat = TutorChatWidget()
    assert chat.ask("   ") is None and chat.messages == []
    assert "Ask with %tutor" in chat.as_text()


def test_tutor_refusal_is_shown_not_raised(tracked_store: TrackedStore) -> None:
    chat = TutorChatWidget()
    assert chat.ask("why " * MAX_MESSAGE_CHARS) is None  # the tutor refuses over-long messages
    assert "could not take that message" in chat.status.value
    assert f"at most {MAX_MESSAGE_CHARS}" in chat.problem


def test_chat_explains_the_notebooks_last_error_when_asked_for_it(
    tracked_store: TrackedStore, monkeypatch
) -> None:
    """The tutor's own suggestion "Explain my last error" got the course passage on what an
    exception is: the chat passed no error. It now passes the notebook's last exception."""
    import sys

    chat = TutorChatWidget()
    monkeypatch.delattr(sys, "last_value", raising=False)
    assert chat.ask("Explain my last error").text.startswith("I have no error of yours")
    try:
        {"a": 1}["b"]
    except KeyError as error:
        monkeypatch.setattr(sys, "last_value", error, raising=False)
    reply = chat.ask("Explain my last error")
    assert reply.agent == "reviewer" and reply.text.startswith("**KeyError**: The key `'b'`")
