"""The store's tables (SQLAlchemy Core). Only the store package touches them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Event timestamps are stored as integer microseconds since the Unix epoch (UTC): exact,
# portable across SQLite and PostgreSQL, and read straight into a polars Datetime column.
events = Table(
    "events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(36), nullable=False, unique=True),
    Column("ts_us", BigInteger, nullable=False),
    Column("learner_id", String(256), nullable=False),
    Column("course_id", String(256), nullable=False),
    Column("session_id", String(256)),
    Column("kind", String(32), nullable=False),
    Column("item_id", String(256)),
    Column("skills", Text),  # JSON array text
    Column("correct", Boolean),
    Column("score", Float),
    Column("duration_ms", BigInteger),
    Column("attempt", Integer),
    Column("hints_used", Integer),
    Column("confidence", Float),
    Column("difficulty", Float),
    Column("payload", Text),  # JSON object text
    Index("ix_events_course_ts", "course_id", "ts_us"),
    Index("ix_events_learner_ts", "learner_id", "ts_us"),
)

learners = Table(
    "learners",
    metadata,
    Column("course_id", String(256), primary_key=True),
    Column("learner_id", String(256), primary_key=True),
    Column("first_seen_us", BigInteger),
    Column("attributes", Text),
)

items = Table(
    "items",
    metadata,
    Column("course_id", String(256), primary_key=True),
    Column("item_id", String(256), primary_key=True),
    Column("skills", Text),
    Column("difficulty", Float),
    Column("attributes", Text),
)

skills = Table(
    "skills",
    metadata,
    Column("course_id", String(256), primary_key=True),
    Column("skill_id", String(256), primary_key=True),
    Column("name", Text),
    Column("prerequisites", Text),  # JSON array text
)

# -- time series (revision 0002): training runs and system samples, kept out of the event log --

training_runs = Table(
    "training_runs",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("learner_id", String(256), nullable=False),
    Column("course_id", String(256), nullable=False),
    Column("started_us", BigInteger, nullable=False),
    Column("ended_us", BigInteger),
    Column("status", String(16), nullable=False),  # running | finished | failed
    Column("params", Text),  # JSON object text
    Index("ix_training_runs_learner", "learner_id", "started_us"),
)

# One row per run.log() call; ``seq`` is the call's index in its run, chosen by the logger,
# so a retried flush is idempotent.
training_metrics = Table(
    "training_metrics",
    metadata,
    Column("run_id", String(36), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("epoch", Integer),
    Column("step", BigInteger),
    Column("loss", Float),
    Column("val_loss", Float),
    Column("lr", Float),
    Column("accuracy", Float),
    Column("val_accuracy", Float),
    Column("extra", Text),  # JSON object of other logged numbers
)

system_samples = Table(
    "system_samples",
    metadata,
    Column("host", String(256), primary_key=True),
    Column("ts_us", BigInteger, primary_key=True, autoincrement=False),
    Column("cpu_percent", Float),
    Column("memory_percent", Float),
    Column("disk_percent", Float),
    Column("gpu_memory_percent", Float),
    Column("response_ms", Float),
    Column("health", Float),
    Column("detail", Text),  # JSON object: the whole sample
)

# -- roles (revision 0003): who teaches rather than learns -------------------------------------

# Users known as staff (an instructor): their events stay in the log (their own tutor history
# and follow-ups read them) but the class views leave them out (``exclude_staff=True``).
staff = Table(
    "staff",
    metadata,
    Column("user_id", String(256), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("since_us", BigInteger, nullable=False),
)
