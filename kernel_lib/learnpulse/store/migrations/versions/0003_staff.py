"""Roles: the staff table (instructors, whom the class views leave out).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Frozen copy of the table as of this revision: later edits to tables.py go in new revisions.
    op.create_table(
        "staff",
        sa.Column("user_id", sa.String(256), primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("since_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("staff")
