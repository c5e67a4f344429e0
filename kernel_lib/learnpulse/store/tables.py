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
