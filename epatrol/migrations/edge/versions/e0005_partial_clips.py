"""Clips cut off by a crash or power cut: events may be in clip_state 'partial' (evidence/recording/recovery.py).

Revision ID: e0005
Revises: e0004
"""

import sqlalchemy as sa
from alembic import op

revision = "e0005"
down_revision = "e0004"
branch_labels = None
depends_on = None

OLD_STATES = "clip_state IN ('recording', 'complete', 'failed', 'purged')"
NEW_STATES = "clip_state IN ('recording', 'complete', 'failed', 'purged', 'partial')"


def upgrade() -> None:
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table (ids, indexes kept).
    with op.batch_alter_table("events", recreate="auto", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint("ck_events_clip_state", type_="check")
        batch.create_check_constraint("ck_events_clip_state", sa.text(NEW_STATES))


def downgrade() -> None:
    # A partial clip was cut off: before this revision such a recording counted as failed.
    op.execute("UPDATE events SET clip_state = 'failed' WHERE clip_state = 'partial'")
    with op.batch_alter_table("events", recreate="auto", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint("ck_events_clip_state", type_="check")
        batch.create_check_constraint("ck_events_clip_state", sa.text(OLD_STATES))
