"""The tutor's one entry: :func:`ask` (a whole reply) and :func:`ask_stream` (chunk by chunk).

Per message: build the context (the learner's events, conversation history, mastery, the
current exercise and hints opened), apply the exercise's policy, route to an agent, check the
question is answerable (else ask what the learner tried), let the engine write the reply
(falling back to the offline draft if it fails), pass every chunk through the guardrails
(solution leaks redacted; code withheld if the policy says so), and log the exchange as two
``tutor_message`` events.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from numbers import Real
from typing import TYPE_CHECKING, Any

from learnpulse.agents.assistant import asks_for_hint
from learnpulse.agents.base import Draft, Source, TutorContext, TutorReply
from learnpulse.agents.conversation import followed_up, topics_in, with_previous_question
from learnpulse.agents.engines import EngineError, EngineRequest, OfflineEngine
from learnpulse.agents.errors import (
    parse_traceback,
    read_error_record,
)
from learnpulse.agents.exchanges import (  # noqa: F401 (the error limit, for importers)
    MAX_LOGGED_CODE_CHARS,
    MAX_LOGGED_ERROR_CHARS,
    log_exchange,
)
from learnpulse.agents.exercise_brief import asks_about_the_task, named_exercise
from learnpulse.agents.exercise_ladder import newest_wrong_answer, reviewed
from learnpulse.agents.follow_ups import asks_for_concept, follow_up_lead
from learnpulse.agents.generator import generated_exercise
from learnpulse.agents.guardrails import (
    ReplyGuard,
    answer_patterns,
    tell_me_more,
    too_vague,
    withheld_notice,
)
from learnpulse.agents.last_error import asks_about_last_error, last_cell_error
from learnpulse.agents.learner import (
    hints_opened,
    history,
    learner_events,
    learner_mastery,
    level_of,
    solved,
)
from learnpulse.agents.mistakes import asks_about_mistakes, asks_about_own_code
from learnpulse.agents.registry import BUILTIN_AGENTS, available_agents
from learnpulse.agents.reviewer import code_in
from learnpulse.agents.router import route
from learnpulse.agents.small_talk import small_talk

if TYPE_CHECKING:
    from learnpulse.agents.base import Agent
    from learnpulse.agents.engines import Engine
    from learnpulse.course import Course, Exercise
    from learnpulse.store import EventStore

#: Longest message a learner may send, in characters.
MAX_MESSAGE_CHARS = 10_000
#: Agents that answer questions and so need enough detail to answer well.
QUESTION_AGENTS = ("assistant", "reviewer")
#: Why a follow-up goes to the agent it goes to (logged as the exchange's routing).
REVIEW_FOLLOW_UP = "a follow-up of the review of the learner's code"
ERROR_FOLLOW_UP = "a follow-up of the explanation of the learner's error"
HINT_FOLLOW_UP = "a follow-up of the hint the learner opened"
CHECK_FOLLOW_UP = "a follow-up of the learner's checked answer"
CONCEPT_FOLLOW_UP = "a question about the concept behind what the learner asked about"
FALLBACK_NOTE = "\n\n*(The language model did not finish; here is the offline answer.)*\n\n"
#: The reply when an agent raises or does not return a Draft (its error is logged).
AGENT_FAILED = (
    "The {title} could not answer this just now. Try asking in other words, or let the tutor "
    "choose another agent."
)
#: Seconds a plugin agent may take to draft a reply; then the learner gets AGENT_FAILED and
#: the draft is abandoned (its thread is a daemon: a hung plugin cannot hold the kernel or
#: the server's request).
PLUGIN_DRAFT_TIMEOUT_S = 30.0
#: Longest draft an agent may give, in characters (a plugin's 10 MB answer went whole to
#: the widget); longer ones are cut, saying so.
MAX_DRAFT_CHARS = 20_000

log = logging.getLogger(__name__)


def _resolve_exercise(exercise: Exercise | str | None, course: Course) -> Exercise | None:
    if exercise is None or not isinstance(exercise, str):
        return exercise
    if exercise.startswith("gen-"):
        return generated_exercise(exercise)
    return course.exercise(exercise)


def build_context(
    learner_id: str,
    *,
    course: Course,
    exercise: Exercise | None,
    store: EventStore | None,
    code: str | None = None,
    error: BaseException | None = None,
    mastery_model: Any = None,
) -> TutorContext:
    """Everything the agents may use for one message of ``learner_id``."""
    events = learner_events(store, learner_id, course.id)
    return TutorContext(
        learner_id=learner_id,
        course=course,
        exercise=exercise,
        history=history(events),
        mastery=learner_mastery(events, mastery_model, course.mastery_threshold),
        events=events,
        code=code,
        error=error,
        hints_used=hints_opened(events, exercise.id) if exercise is not None else 0,
    )


class TutorStream:
    """A reply being written: iterate for the text chunks (already guarded); ``agent``,
    ``sources``, ``confidence`` and ``actions`` are known from the start, :attr:`reply` (the
    whole :class:`TutorReply`) once the iteration ends. The exchange is logged then."""

    def __init__(self, message: str, context: TutorContext, agent: str, draft: Draft, **run):
        self.message, self.context, self.agent, self.draft = message, context, agent, draft
        self.sources, self.confidence, self.actions = draft.sources, draft.confidence, draft.actions
        self._engine: Engine = run["engine"]
        self._store: EventStore | None = run["store"]
        self._routing: str = run["routing"]
        self.reply: TutorReply | None = None
        self._engine_used = self._engine.name

    def __iter__(self) -> Iterator[str]:
        exercise = self.context.exercise
        own_code = [c for c in (self.context.code, code_in(self.message)) if c]
        # A learner who solved the exercise has nothing left to be given away (a practice
        # question on its skill may show its pattern then).
        solutions = (
            [exercise.solution]
            if exercise is not None
            and exercise.type == "code"
            and not solved(self.context.events, exercise.id)
            else []
        )
        # Only the built-in agents' offline drafts are learnpulse's own text.
        built_in = self.agent in {cls.name for cls in BUILTIN_AGENTS}
        offline = built_in and self._engine.name == OfflineEngine.name
        if not offline and self.context.course is not None:
            # A model or a plugin agent may solve any exercise of the course unprompted: check
            # all of them.
            course = self.context.course.exercises.values()
            solutions += [e.solution for e in course if e.type == "code"]
        # The offline generator's code is the question of a new exercise, not code for this
        # one (withheld, "what is total after this code runs?" could not be answered); so is
        # a follow-up's example on another problem (exercise_ladder.py: its answer checked).
        generated = offline and self.agent == "generator"
        question = generated or (offline and "exercises" in self.draft.payload)
        # The exercise's no-code policy holds until it is solved: a question about another
        # topic in the meantime could still be a way to its code.
        withhold = (
            exercise is not None
            and not exercise.policy.show_code
            and not question
            and not solved(self.context.events, exercise.id)
        )
        # A hint is the instructor's own text, shown as the policy allows, and the offline
        # coach writes of weeks, sessions and streaks, never of an exercise: their numbers
        # are not the answer ("3 sessions a week" became "[answer hidden] sessions a week"),
        # nor are those of a generated exercise. A task brief restates the exercise as the
        # learner sees it (a choice's options, "30" in "[10, 20, 30, 40]").
        own_text = offline and (
            "hint_level" in self.draft.payload
            or "brief" in self.draft.payload
            or self.agent == "coach"
            or generated
        )
        answers = answer_patterns(exercise) if exercise is not None and not own_text else []
        guard = ReplyGuard(
            solutions,
            withhold=withhold,
            withheld=withheld_notice(exercise) if withhold else "",
            allowed_code=own_code,
            answers=answers,
        )
        parts: list[str] = []
        for chunk in self._generate():
            safe = guard.feed(chunk)
            if safe:
                parts.append(safe)
                yield safe
        rest = guard.close()
        if rest:
            parts.append(rest)
            yield rest
        self.reply = TutorReply(
            "".join(parts), self.agent, self.sources, self.confidence, self.actions,
            self._engine_used, guard.redactions,
            # only a built-in agent gives the ladder's hints (a plugin's number is not one)
            self.draft.payload.get("hint_level") if built_in else None,
        )  # fmt: skip
        try:
            log_exchange(
                self._store, self.message, self.context, self.reply, self.draft, self._routing
            )
        except Exception:  # the learner has the answer: a store that fails must not take it back
            log.warning(
                "learnpulse: the tutor exchange of %s was not stored",
                self.context.learner_id,
                exc_info=True,
            )

    def _generate(self) -> Iterator[str]:
        """The engine's chunks; the offline draft if the engine fails (noted in
        ``_engine_used``)."""
        self._engine_used = self._engine.name
        if self._engine.name == OfflineEngine.name:
            yield from OfflineEngine().stream(self._request())
            return
        produced = False
        try:
            for chunk in self._engine.stream(self._request()):
                produced = True
                yield chunk
        except EngineError as error:
            self._engine_used = f"offline (fallback: {error})"
            if produced:
                yield FALLBACK_NOTE
            yield from OfflineEngine().stream(self._request())

    def _request(self) -> EngineRequest:
        agent = available_agents()[self.agent]
        exercise = self.context.exercise
        exercise_text = ""
        if exercise is not None:
            allowed = exercise.hints[: exercise.hint_limit]
            hints = "\n".join(f"- hint: {h}" for h in allowed[: self.context.hints_used])
            exercise_text = f"{exercise.title}\n{exercise.prompt}\n{hints}".strip()
        skill = exercise.skill if exercise is not None else None
        level = level_of(self.context.p_known(skill) if skill else None)
        return EngineRequest(
            agent.title, agent.description, self.message, self.draft, level, exercise_text,
            self.context.history,
        )  # fmt: skip


def _check_message(message: Any) -> str:
    if not isinstance(message, str) or not message.strip():
        raise ValueError("message must be a non-empty string")
    if len(message) > MAX_MESSAGE_CHARS:
        raise ValueError(f"message is {len(message)} characters; at most {MAX_MESSAGE_CHARS}")
    return message.strip()


def _agent_draft(agent: Agent, message: str, context: TutorContext) -> Draft:
    """``agent``'s draft; if it raises or returns something else than a :class:`Draft`, a
    short apology, the error logged naming the agent (a plugin's bug must not reach the
    learner's notebook or fail the server's request)."""
    try:
        if type(agent) in BUILTIN_AGENTS:
            draft = agent.draft(message, context)
        else:
            draft = _within(PLUGIN_DRAFT_TIMEOUT_S, agent.draft, message, context)
        _check_draft(draft)
    except Exception:
        where = f"{type(agent).__module__}.{type(agent).__qualname__}"
        log.exception("learnpulse: tutor agent %r (%s) failed to answer", agent.name, where)
        return Draft(AGENT_FAILED.format(title=agent.title), (), 0.0)
    if len(draft.text) > MAX_DRAFT_CHARS:
        cut = draft.text[:MAX_DRAFT_CHARS]
        note = f"\n\n*(The answer was cut at {MAX_DRAFT_CHARS:,} characters.)*"
        draft = dataclasses.replace(draft, text=cut + note)
    return draft


def _within(seconds: float, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` on a daemon thread; TimeoutError if it takes longer than
    ``seconds`` (the thread is left to finish on its own)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, function(*args)))
        except BaseException as error:  # handed to the caller's thread
            outcome.append((False, error))

    thread = threading.Thread(target=run, name="learnpulse-agent-draft", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise TimeoutError(f"no answer within {seconds:g} s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _check_draft(draft: Any) -> None:
    """TypeError naming the first field of ``draft`` that the tutor cannot use."""
    if not isinstance(draft, Draft):
        raise TypeError(f"draft() returned a {type(draft).__name__}, not a Draft")
    valid = {
        "text": isinstance(draft.text, str),
        "sources": all(isinstance(s, Source) for s in draft.sources),
        "confidence": isinstance(draft.confidence, Real),
        "actions": all(isinstance(a, str) for a in draft.actions),
        "notes": all(isinstance(n, str) for n in draft.notes),
        "payload": isinstance(draft.payload, Mapping),
    }
    for name, ok in valid.items():
        if not ok:
            raise TypeError(f"the draft's {name} is not what Draft documents: {draft!r:.200}")


def _policy_draft(message: str, context: TutorContext, agent: str) -> Draft | None:
    """A reply the guardrails give instead of the agent's: tutor off, or a too vague question."""
    exercise = context.exercise
    if exercise is not None and not exercise.policy.tutor_enabled:
        return Draft(
            f"Your instructor turned the tutor off for **{exercise.title}**. Use the course "
            "material, and ask about it once you have submitted.",
            (Source(f"exercise:{exercise.id}/policy", "Instructor's tutor policy"),),
            1.0,
        )
    has_code = bool(context.code or code_in(message))
    # a message asking about code is a question of its own (conversation.py)
    question = message
    if context.code is None and context.error is None:
        question = with_previous_question(message, context.history, context.course)
    vague = too_vague(
        question,
        has_code=has_code,
        has_error=context.error is not None,
        has_exercise=exercise is not None,
    )
    # a question naming a topic of the course is not vague, however short ("what is a tuple?",
    # "and unpacking?")
    vague = vague and not topics_in(question, context.course)
    # "I don't understand this exercise" with none open: which_exercise asks which one; "what
    # did I get wrong?" is answered from the learner's checked answers
    vague = vague and not asks_about_the_task(message) and not asks_about_mistakes(message)
    talk = small_talk(message, context)  # whoever answered last ("thanks" after a plan)
    if talk is not None:
        return talk
    if agent in QUESTION_AGENTS and vague:
        return tell_me_more()
    return None


def ask_stream(
    message: str,
    *,
    learner_id: str,
    agent: str | None = None,
    exercise: Exercise | str | None = None,
    store: EventStore | None = None,
    course: Course | None = None,
    engine: Engine | None = None,
    code: str | None = None,
    error: BaseException | None = None,
    mastery_model: Any = None,
) -> TutorStream:
    """Start a tutor reply and return it as a :class:`TutorStream` (see :func:`ask`)."""
    from learnpulse.course import demo_course

    message = _check_message(message)
    if not isinstance(learner_id, str) or not learner_id:
        raise ValueError("learner_id must be a non-empty string")
    course = course if course is not None else demo_course()
    # "explain ex-loops-04" in a chat with no exercise open is about that exercise
    exercise = _resolve_exercise(exercise, course) or named_exercise(message, course)
    context = build_context(
        learner_id, course=course, exercise=exercise, store=store,
        code=code, error=error, mastery_model=mastery_model,
    )  # fmt: skip
    if context.error is None and context.code is None and asks_about_last_error(message):
        # "explain my last error" with none given: the newest one the store holds
        found = None if parse_traceback(message) else last_cell_error(context.events)
        if found is not None:
            context = dataclasses.replace(context, error=found[0], code=found[1])
    agents = available_agents()
    name, routing = route(message, context, agents, agent)
    if name == "reviewer" and context.code is None and context.error is None:
        # what a pasted block or traceback asks about is stored with the message, as
        # %review's and %explain's are, so that a follow-up is about it too
        pasted = parse_traceback(message)
        context = dataclasses.replace(context, code=code_in(message), error=pasted)
    follows = followed_up(message, context.history, course)
    own_subject = context.code is not None or context.error is not None
    if follows is None and not own_subject and asks_about_own_code(message):
        # "what's wrong with my code?": the code answer checked wrong last, as "why?" right
        # after the check is (the code reviewer asked for code)
        item_id = context.exercise.id if context.exercise is not None else None
        checked = newest_wrong_answer(context.events, item_id)
        follows = checked if checked is not None and checked["code"] else None
    if follows and not own_subject and agent is None and name in QUESTION_AGENTS:
        # "why?" after %explain, a hint or a check asks about it ("why" made it the
        # assistant's, which answered the chat question before)
        chosen = (name, routing)
        name, routing, context = _about_what_it_follows(message, follows, context, agents, chosen)
    policy = _policy_draft(message, context, name)
    draft = policy or _agent_draft(agents[name], message, context)
    if policy is None and context.follows is not None:
        draft = dataclasses.replace(draft, text=follow_up_lead(context) + draft.text)
    # The guardrails' own answers are final: no engine rewrites them.
    engine = OfflineEngine() if policy is not None or engine is None else engine
    run = {"engine": engine, "store": store, "routing": routing}
    return TutorStream(message, context, name, draft, **run)


def _about_what_it_follows(
    message: str,
    follows: dict[str, Any],
    context: TutorContext,
    agents: Mapping[str, Agent],
    chosen: tuple[str, str],
) -> tuple[str, str, TutorContext]:
    """The agent, routing and context of ``message``, a follow-up of ``follows`` (a history
    entry): the code reviewer for code and errors, and for a code answer checked (asked
    again once it was reviewed, the learning assistant goes on up the ladder of
    :mod:`~learnpulse.agents.exercise_ladder`); the learning assistant for a hint, for
    another answer checked, and for a hint asked for
    during an exercise ("give me a hint" after a check: the ladder's, not a review).
    ``chosen`` (the router's agent and routing) if that agent is not available, or the hint
    or check was of another exercise than the one in context."""
    act, exercise = follows.get("act"), context.exercise
    unchanged = (*chosen, context)
    if act:
        if exercise is None and context.course is not None:  # e.g. tutor/chat without one
            try:
                exercise = _resolve_exercise(follows["item_id"], context.course)
            except (KeyError, ValueError):  # no longer in the course, or a malformed id
                return unchanged
        if exercise is None or exercise.id != follows["item_id"]:
            return unchanged
    hints = context.hints_used
    if exercise is not None and exercise is not context.exercise:
        hints = hints_opened(context.events, exercise.id)
    code = follows.get("code") or None
    error = read_error_record(follows["error"]) if follows.get("error") else None
    if act != "hint" and exercise is not None and asks_for_hint(message):
        wanted, why, follows, code, error = "assistant", unchanged[1], None, None, None
    elif asks_for_concept(message) and (error is not None or exercise is not None):
        wanted, why = "assistant", CONCEPT_FOLLOW_UP  # the course's section, not the same again
    elif act == "hint" or (act == "attempt" and (not code or reviewed(follows, context.history))):
        wanted, why = "assistant", HINT_FOLLOW_UP if act == "hint" else CHECK_FOLLOW_UP
    else:
        wanted = "reviewer"
        why = CHECK_FOLLOW_UP if act else ERROR_FOLLOW_UP if error else REVIEW_FOLLOW_UP
    if wanted not in agents:
        return unchanged
    changed = dataclasses.replace(
        context, exercise=exercise, code=code, error=error, follows=follows, hints_used=hints
    )
    return wanted, why, changed


def ask(message: str, *, learner_id: str, **options: Any) -> TutorReply:
    """Ask the tutor; the whole guarded reply.

    Parameters
    ----------
    message : str
        The learner's message (at most :data:`MAX_MESSAGE_CHARS` characters).
    learner_id : str
        Who asks (in the server: the authenticated user, never the request body).
    agent : str, optional
        Force an agent (``"assistant"``, ``"reviewer"``, ``"generator"``, ``"explorer"``,
        ``"coach"`` or a plugin's); default: the router picks.
    exercise : Exercise or str, optional
        The exercise the learner works on (an id of ``course`` or of a generated exercise).
    store : EventStore, optional
        Where the learner's events are read and the exchange is logged (nothing is logged
        without one).
    course : Course, optional
        Default: the demo course.
    engine : Engine, optional
        Default: the offline engine (see :func:`learnpulse.agents.engines.engine_from_env`).
    code : str, optional
        Code the learner asks about (a cell or function, e.g. from ``%review``); logged with
        the message (at most :data:`MAX_LOGGED_CODE_CHARS`). Default: for a follow-up ("why?",
        "how do I fix it?", "I still don't get it") of a review, an explained error, a hint
        or a checked answer, what it follows up (see
        :func:`~learnpulse.agents.conversation.followed_up`), and the agent that answers
        about it (the code reviewer; the learning assistant for a hint).
    error : BaseException, optional
        The learner's last exception (e.g. from ``%explain``); logged with the message as
        :func:`~learnpulse.agents.errors.error_record` writes it.
    mastery_model : fitted BKT or DKT, optional
        Mastery model (default: BKT at its prior parameters).

    Returns
    -------
    TutorReply

    Raises
    ------
    ValueError
        Empty or too long message, empty learner id, unknown agent.
    KeyError
        Unknown exercise id (naming it and close matches).
    """
    stream = ask_stream(message, learner_id=learner_id, **options)
    for _ in stream:
        pass
    assert stream.reply is not None
    return stream.reply
