"""Camera status saved by `epatrol run` for other processes (06c73de).

Revision ID: e0003
Revises: e0002
"""

import sqlalchemy as sa
from alembic import op

revision = "e0003"
down_revision = "e0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_status",
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reconnects", sa.Integer(), nullable=False),
        sa.Column("last_sample_utc", sa.DateTime(), nullable=True),
        sa.Column("sample_rate_hz", sa.Double(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id"),
    )


def downgrade() -> None:
    op.drop_table("camera_status")
