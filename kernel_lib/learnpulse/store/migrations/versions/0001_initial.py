"""Initial schema: events, learners, items, skills.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.String(256)


def upgrade() -> None:
    # Frozen copy of the tables as of this revision: later edits to tables.py go in new revisions.
    op.create_table(
        "events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("ts_us", sa.BigInteger, nullable=False),
        sa.Column("learner_id", _ID, nullable=False),
        sa.Column("course_id", _ID, nullable=False),
        sa.Column("session_id", _ID),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("item_id", _ID),
        sa.Column("skills", sa.Text),
        sa.Column("correct", sa.Boolean),
        sa.Column("score", sa.Float),
        sa.Column("duration_ms", sa.BigInteger),
        sa.Column("attempt", sa.Integer),
        sa.Column("hints_used", sa.Integer),
        sa.Column("confidence", sa.Float),
        sa.Column("difficulty", sa.Float),
        sa.Column("payload", sa.Text),
    )
    op.create_index("ix_events_course_ts", "events", ["course_id", "ts_us"])
    op.create_index("ix_events_learner_ts", "events", ["learner_id", "ts_us"])
    op.create_table(
        "learners",
        sa.Column("course_id", _ID, primary_key=True),
        sa.Column("learner_id", _ID, primary_key=True),
        sa.Column("first_seen_us", sa.BigInteger),
        sa.Column("attributes", sa.Text),
    )
    op.create_table(
        "items",
        sa.Column("course_id", _ID, primary_key=True),
        sa.Column("item_id", _ID, primary_key=True),
        sa.Column("skills", sa.Text),
        sa.Column("difficulty", sa.Float),
        sa.Column("attributes", sa.Text),
    )
    op.create_table(
        "skills",
        sa.Column("course_id", _ID, primary_key=True),
        sa.Column("skill_id", _ID, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("prerequisites", sa.Text),
    )


def downgrade() -> None:
    for table in ("skills", "items", "learners", "events"):
        op.drop_table(table)
