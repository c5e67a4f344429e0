"""Time series: training runs and their metrics, system samples.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.String(256)


def upgrade() -> None:
    # Frozen copy of the tables as of this revision: later edits to tables.py go in new revisions.
    op.create_table(
        "training_runs",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("name", _ID, nullable=False),
        sa.Column("learner_id", _ID, nullable=False),
        sa.Column("course_id", _ID, nullable=False),
        sa.Column("started_us", sa.BigInteger, nullable=False),
        sa.Column("ended_us", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.Text),
    )
    op.create_index("ix_training_runs_learner", "training_runs", ["learner_id", "started_us"])
    op.create_table(
        "training_metrics",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ts_us", sa.BigInteger, nullable=False),
        sa.Column("epoch", sa.Integer),
        sa.Column("step", sa.BigInteger),
        sa.Column("loss", sa.Float),
        sa.Column("val_loss", sa.Float),
        sa.Column("lr", sa.Float),
        sa.Column("accuracy", sa.Float),
        sa.Column("val_accuracy", sa.Float),
        sa.Column("extra", sa.Text),
    )
    op.create_table(
        "system_samples",
        sa.Column("host", _ID, primary_key=True),
        sa.Column("ts_us", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("cpu_percent", sa.Float),
        sa.Column("memory_percent", sa.Float),
        sa.Column("disk_percent", sa.Float),
        sa.Column("gpu_memory_percent", sa.Float),
        sa.Column("response_ms", sa.Float),
        sa.Column("health", sa.Float),
        sa.Column("detail", sa.Text),
    )


def downgrade() -> None:
    op.drop_index("ix_training_runs_learner", "training_runs")
    for table in ("system_samples", "training_metrics", "training_runs"):
        op.drop_table(table)
