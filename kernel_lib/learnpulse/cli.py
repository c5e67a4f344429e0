"""The ``learnpulse`` command: demo, simulate, import, export, status, forget, dashboard,
course check, models check, benchmark."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from polars.exceptions import ComputeError
from sqlalchemy.exc import SQLAlchemyError

from learnpulse import __version__
from learnpulse.datasets.base import CourseData, DatasetFormatError
from learnpulse.events import EVENT_KINDS, EventValidationError
from learnpulse.files import replacing
from learnpulse.store import DB_URL_ENV, EventStore, SchemaTooNewError
from learnpulse.store.engine import resolve_url
from learnpulse.viz.launch import add_dashboard_parser, cmd_dashboard, prepare_demo

#: Course id of the simulated demo course.
DEMO_COURSE = "demo-python-101"
#: The instructor dashboard notebook (under the served folder) and its Voila URL path.
INSTRUCTOR_NOTEBOOK = "dashboards/instructor.ipynb"
INSTRUCTOR_DASHBOARD = f"voila/render/{INSTRUCTOR_NOTEBOOK}"
#: The demo server's kernel manager (keeps the instructor dashboard rendered).
PREHEATING_KERNEL_MANAGER = "learnpulse_server.preheat.PreheatingKernelManager"
#: Where ``learnpulse benchmark`` looks for benchmark scripts besides the source checkout.
BENCHMARKS_ENV = "LEARNPULSE_BENCHMARKS"


class CommandError(Exception):
    """A command failed for a reason the user can fix; printed without a traceback."""


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help=f"store URL or SQLite path (default: ${DB_URL_ENV}, else the Jupyter data dir)",
    )


def _print_result(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, default=str))
        return
    for key, value in result.items():
        print(f"{key:>16}: {value}")


# -- simulate / import ---------------------------------------------------------------------


def _simulate(args: argparse.Namespace) -> CourseData:
    from learnpulse.datasets.simulator import SimulationConfig, simulate_course

    config = SimulationConfig(
        n_learners=args.learners, weeks=args.weeks, seed=args.seed, course_id=args.course
    )
    return simulate_course(config, progress=not args.quiet)


def cmd_simulate(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    data = _simulate(args)
    simulated = time.perf_counter() - started
    result: dict[str, Any] = {**data.summary(), "simulate_seconds": round(simulated, 2)}
    if args.parquet is not None:
        if not args.parquet:
            raise CommandError("--parquet needs a file name")
        with replacing(args.parquet) as partial:  # a failed write leaves the old file
            data.events.write_parquet(partial)
        result["written_to"] = args.parquet
    else:
        with EventStore(args.db) as store:
            result.update(store.append_course(data, progress=not args.quiet).to_dict())
    return result


#: Import sources whose learner, item and skill tables are derived from their events.
EVENT_ONLY_SOURCES = ("assistments", "xapi")


def _loader(source: str) -> Callable[..., CourseData]:
    if source == "assistments":
        from learnpulse.datasets.assistments import load_assistments_dkt

        return load_assistments_dkt
    if source == "oulad":
        from learnpulse.datasets.oulad import load_oulad

        return load_oulad
    from learnpulse.datasets.xapi_files import load_xapi

    return load_xapi


def cmd_import(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.path)
    if not path.exists():
        raise CommandError(f"{path}: no such file or directory")
    if args.course and args.source == "oulad":
        raise CommandError(
            "--course is for assistments and xapi: an OULAD folder has one course per module "
            "presentation (e.g. AAA-2013J)"
        )
    options = {"course_id": args.course} if args.course else {}
    data = _loader(args.source)(path, **options)
    # An xAPI or ASSISTments file has events only: its skills (no prerequisites), items and
    # learners must not replace those a course file or the simulator recorded.
    keep = args.source in EVENT_ONLY_SOURCES
    with EventStore(args.db) as store:
        appended = store.append_course(data, progress=not args.quiet, keep_stored=keep)
        return {**data.summary(), **appended.to_dict()}


# -- export / status / forget --------------------------------------------------------------


def _existing_store(db: str | None) -> EventStore:
    """The store of ``db`` for a command that only reads or deletes: a SQLite file that does
    not exist, or is empty, is an error (opening it would make an empty store, and a typo in
    ``--db`` would then report zero events instead of the mistake)."""
    url = resolve_url(db)
    path = Path(url.database or ":memory:")
    on_disk = url.get_backend_name() == "sqlite" and path.name != ":memory:"
    if on_disk and (not path.exists() or path.stat().st_size == 0):
        raise CommandError(
            f"no store at {path}: give the --db of an existing store, or put events in it "
            "first (learnpulse import, simulate or demo)"
        )
    return EventStore(db)


def cmd_export(args: argparse.Namespace) -> dict[str, Any]:
    filters = {"course": args.course, "learners": args.learner, "kinds": args.kind}
    with _existing_store(args.db) as store:
        write = store.export_parquet if args.format == "parquet" else store.export_xapi
        rows = write(args.path, **{k: v for k, v in filters.items() if v})
    return {"events": rows, "written_to": args.path}


def cmd_status(args: argparse.Namespace) -> dict[str, Any]:
    with _existing_store(args.db) as store:
        status = store.status()
        courses = store.courses()
    status["courses"] = courses.to_dicts()
    return status


def cmd_forget(args: argparse.Namespace) -> dict[str, Any]:
    with _existing_store(args.db) as store:
        deleted = store.forget(args.learner, course=args.course)
    return {"learner": args.learner, **{f"deleted_{k}": v for k, v in deleted.items()}}


# -- demo ----------------------------------------------------------------------------------


def ensure_demo_course(store: EventStore, args: argparse.Namespace) -> dict[str, Any]:
    """Simulate and store the demo course unless the store already has it."""
    if DEMO_COURSE in store.courses().get_column("course_id").to_list():
        return {"demo_course": DEMO_COURSE, "loaded": "already in the store"}
    args.course, args.seed = DEMO_COURSE, 0
    data = _simulate(args)
    result = store.append_course(data, progress=not args.quiet)
    return {"demo_course": DEMO_COURSE, **data.summary(), "stored": result.inserted}


def _jupyter_command(args: argparse.Namespace, models_dir: Path) -> list[str]:
    app = "jupyterlab" if importlib.util.find_spec("jupyterlab") else "jupyter_server"
    root = Path(args.root_dir).resolve()
    # The browser opens on the instructor dashboard when the served folder has it.
    opener = "LabApp" if app == "jupyterlab" else "ServerApp"
    opens = [f"--{opener}.default_url=/{INSTRUCTOR_DASHBOARD}"]
    return [
        sys.executable,
        "-m",
        app,
        f"--port={args.port}",
        f"--ServerApp.ip={args.ip}",
        f"--ServerApp.open_browser={not args.no_browser}",
        f"--ServerApp.root_dir={root}",
        f"--LearnPulseApp.models_dir={models_dir}",
        *(opens if (root / INSTRUCTOR_NOTEBOOK).is_file() else []),
        # The instructor dashboard is rendered ahead of its visitors (seconds, not tens).
        f"--ServerApp.kernel_manager_class={PREHEATING_KERNEL_MANAGER}",
        # Containers (CI, some Binder-like hosts) run as root; Jupyter refuses that by default.
        f"--ServerApp.allow_root={hasattr(os, 'geteuid') and os.geteuid() == 0}",
    ]


def _demo_models_dir() -> Path:
    """Where the demo's fitted course models go by default (the Jupyter data dir)."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "learnpulse" / "models"


def cmd_demo(args: argparse.Namespace) -> NoReturn:
    with EventStore(args.db) as store:
        _print_result(ensure_demo_course(store, args), as_json=False)
        if not args.quiet:
            print("Course models and example training runs (once)...", flush=True)
        # without fitted models the success, retention and forecast panels would be empty
        models_dir = prepare_demo(store, DEMO_COURSE, args.models_dir or _demo_models_dir())
        url = store.url.render_as_string(hide_password=False)
    print(
        f"Starting Jupyter with learnpulse on port {args.port}: the instructor dashboard is at "
        f"http://{args.ip}:{args.port}/{INSTRUCTOR_DASHBOARD}, JupyterLab at /lab and the "
        "store's status at /learnpulse/api/status (log in with the URL below).",
        flush=True,
    )
    env = {**os.environ, DB_URL_ENV: url}
    command = _jupyter_command(args, models_dir)
    # Jupyter takes over this process: a signal to it (Ctrl-C, a process manager's SIGTERM)
    # reaches the server itself, and no orphaned server is left holding the port.
    os.execve(command[0], command, env)


# -- course --------------------------------------------------------------------------------


def cmd_course_check(args: argparse.Namespace) -> int:
    """``learnpulse course check FILE``: 0 when the file loads (and, with ``--strict``, has
    no warnings), else 1; the report on stdout."""
    from learnpulse.course.file_check import check_course_file

    report = check_course_file(args.file)
    if args.json:
        print(json.dumps(report.to_dict(args.strict)))
    else:
        print(report.describe(args.strict))
    return 0 if report.passed(args.strict) else 1


def _add_check_parser(
    sub: argparse._SubParsersAction, command: str, help: str, check_help: str, description: str
) -> argparse.ArgumentParser:
    """The parser of ``learnpulse COMMAND check`` (with ``--json``), under ``COMMAND``."""
    group = sub.add_parser(command, help=help)
    actions = group.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help=check_help, description=description)
    check.add_argument("--json", action="store_true", help="print one JSON object")
    return check


def _add_course_parser(sub: argparse._SubParsersAction) -> None:
    check = _add_check_parser(
        sub,
        "course",
        "work with course files (what the tutor teaches)",
        "validate a course file as the server and the kernels load it",
        "Load a course YAML file as the server (tutor_course_file) and the kernels "
        "($LEARNPULSE_COURSE_FILE) do, reference solutions run against their own tests "
        "and rules included; print each error and warning with its line, exercise or "
        "skill and field, then a summary. Exit status: 0 when it loads, 1 when it does "
        "not (or, with --strict, when it has warnings).",
    )
    check.add_argument("file", help="the course YAML file")
    check.add_argument("--strict", action="store_true", help="warnings fail the check too")


# -- models --------------------------------------------------------------------------------


def cmd_models_check(args: argparse.Namespace) -> int:
    """``learnpulse models check``: 0 when every course's saved models are current, else 1
    (stale: fitted under another model version; unusable: they do not load here)."""
    from learnpulse.models.course_fit import MODEL_VERSION, check_saved_models, saved_models_state

    folder = args.models_dir or _demo_models_dir()
    courses = check_saved_models(folder)
    if args.json:
        report = {"models_dir": str(folder), "model_version": MODEL_VERSION, "courses": courses}
        print(json.dumps(report))
    else:
        print(f"Course models in {folder} (this learnpulse: model version {MODEL_VERSION})")
        for row in courses:
            print(f"  {row['course']}: {saved_models_state(row)}")
        if not courses:
            print("  none")
    return 0 if all(row["state"] == "current" for row in courses) else 1


def _add_models_parser(sub: argparse._SubParsersAction) -> None:
    check = _add_check_parser(
        sub,
        "models",
        "work with saved course models (the server's models_dir)",
        "say which courses' saved models the server can use",
        "Load every course's saved models under the models folder as the server does and "
        "say whether each is current, stale (fitted under another model version: features "
        "they read have changed meaning, so the server does not use them unless "
        "LearnPulseApp.allow_stale_models is set; `learnpulse demo` refits its own) or "
        "unusable (does not load here). Exit status: 0 when all are current, else 1.",
    )
    check.add_argument(
        "--models-dir",
        type=Path,
        help="the course models' folder (default: the demo's, learnpulse/models in the "
        "Jupyter data dir)",
    )


# -- benchmark -----------------------------------------------------------------------------


def _benchmark_dirs() -> list[Path]:
    here = Path(__file__).resolve()
    dirs = [Path(os.environ[BENCHMARKS_ENV])] if os.environ.get(BENCHMARKS_ENV) else []
    return [*dirs, here.parents[2] / "benchmarks", Path.cwd() / "benchmarks"]


def _benchmark_names() -> list[str]:
    names = {p.stem.removeprefix("bench_") for d in _benchmark_dirs() for p in d.glob("bench_*.py")}
    return sorted(names)


def cmd_benchmark(args: argparse.Namespace, rest: list[str]) -> dict[str, Any] | None:
    if args.name is None or args.name.startswith("-"):
        names = ", ".join(_benchmark_names()) or "none found"
        usage = f"learnpulse benchmark NAME [options]; NAME is one of: {names}"
        if {args.name, *rest} & {"-h", "--help"}:
            print(f"usage: {usage}\n`learnpulse benchmark NAME --help` lists NAME's options.")
            return None
        raise CommandError(f"name a benchmark: {usage}")
    for directory in _benchmark_dirs():
        script = directory / f"bench_{args.name}.py"
        if script.is_file():
            spec = importlib.util.spec_from_file_location(f"learnpulse_bench_{args.name}", script)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.run(rest)
    searched = ", ".join(str(d) for d in _benchmark_dirs())
    raise CommandError(
        f"no benchmark named {args.name!r} (looked for bench_{args.name}.py in "
        f"{searched}); run from a learnpulse source checkout or set "
        f"{BENCHMARKS_ENV}"
    )


# -- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="learnpulse", description=__doc__)
    parser.add_argument("--version", action="version", version=f"learnpulse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="load the demo course and start Jupyter with learnpulse")
    demo.add_argument("--port", type=int, default=8888)
    demo.add_argument("--ip", default="localhost")
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    demo.add_argument("--root-dir", default=".", help="folder Jupyter serves (default: here)")
    demo.add_argument("--learners", type=int, default=1000, help="learners in the demo course")
    demo.add_argument("--weeks", type=int, default=12)
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument(
        "--models-dir",
        type=Path,
        help="the course models' folder (default: learnpulse/models in the Jupyter data dir)",
    )
    _add_db(demo)

    simulate = sub.add_parser("simulate", help="simulate a course into the store or a file")
    simulate.add_argument("--learners", type=int, default=1000)
    simulate.add_argument("--weeks", type=int, default=12)
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--course", default="simulated-course")
    simulate.add_argument("--parquet", metavar="FILE", help="write events here instead")
    simulate.add_argument("--quiet", action="store_true")
    _add_db(simulate)

    imp = sub.add_parser("import", help="import public or xAPI data into the store")
    imp.add_argument("source", choices=["assistments", "oulad", "xapi"])
    imp.add_argument("path", help="DKT-format file, OULAD folder, or xAPI JSON/JSONL file")
    imp.add_argument("--course", help="course id (assistments, xapi)")
    imp.add_argument("--quiet", action="store_true")
    _add_db(imp)

    export = sub.add_parser("export", help="export events as Parquet or xAPI statements")
    export.add_argument("format", choices=["parquet", "xapi"])
    export.add_argument("path", help="output file (.parquet; .json or .jsonl for xapi)")
    export.add_argument("--course")
    export.add_argument("--learner", action="append", help="repeat for several")
    export.add_argument("--kind", action="append", choices=EVENT_KINDS, help="repeat for several")
    _add_db(export)

    forget = sub.add_parser("forget", help="erase one learner's data")
    forget.add_argument("learner")
    forget.add_argument("--course", help="only in this course")
    _add_db(forget)

    status = sub.add_parser("status", help="show the store's backend, revision and counts")
    _add_db(status)

    add_dashboard_parser(sub)
    _add_course_parser(sub)
    _add_models_parser(sub)

    # --help passes on to the benchmark's own parser, which lists its options
    bench = sub.add_parser(
        "benchmark", help="run a benchmark from benchmarks/ (extra args pass on)", add_help=False
    )
    bench.add_argument("name", nargs="?", help="e.g. kt, oulad, predict_all")

    for command in (simulate, imp, export, forget, status):
        command.add_argument("--json", action="store_true", help="print JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "benchmark":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "benchmark":
            cmd_benchmark(args, rest)
            return 0
        if args.command == "dashboard":
            return cmd_dashboard(args)
        if args.command == "course":
            return cmd_course_check(args)
        if args.command == "models":
            return cmd_models_check(args)
        commands = {
            "simulate": cmd_simulate,
            "import": cmd_import,
            "export": cmd_export,
            "status": cmd_status,
            "forget": cmd_forget,
        }
        _print_result(commands[args.command](args), args.json)
        return 0
    except SQLAlchemyError as exc:  # the driver's own words, without SQLAlchemy's page
        problem = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        where = getattr(args, "db", None) or "the default store"
        print(f"learnpulse {args.command}: error: cannot use {where}: {problem}", file=sys.stderr)
        return 2
    except (
        CommandError,
        DatasetFormatError,
        EventValidationError,
        SchemaTooNewError,
        ValueError,
        OSError,
        ComputeError,  # polars failing to read or write a file (e.g. a full disk)
    ) as exc:
        print(f"learnpulse {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
