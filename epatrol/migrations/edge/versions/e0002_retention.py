"""Retention (10c168a): purged files keep their row; events may be in clip_state 'purged'.

Revision ID: e0002
Revises: e0001
"""

import sqlalchemy as sa
from alembic import op

revision = "e0002"
down_revision = "e0001"
branch_labels = None
depends_on = None

OLD_STATES = "clip_state IN ('recording', 'complete', 'failed')"
NEW_STATES = "clip_state IN ('recording', 'complete', 'failed', 'purged')"


def upgrade() -> None:
    with op.batch_alter_table("evidence_files") as batch:
        batch.add_column(sa.Column("purged_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("purge_reason", sa.String(length=200), nullable=True))
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table (ids, indexes kept).
    with op.batch_alter_table("events", recreate="auto", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint("ck_events_clip_state", type_="check")
        batch.create_check_constraint("ck_events_clip_state", sa.text(NEW_STATES))


def downgrade() -> None:
    with op.batch_alter_table("events", recreate="auto", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint("ck_events_clip_state", type_="check")
        batch.create_check_constraint("ck_events_clip_state", sa.text(OLD_STATES))
    with op.batch_alter_table("evidence_files") as batch:
        batch.drop_column("purge_reason")
        batch.drop_column("purged_at")
