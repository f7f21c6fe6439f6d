"""District-defined violations and 门前三包: a case keeps the department leading it, its violation's
label and the unit answering for the spot (name, contact, licence), whether it was dispatched to
that unit and when the unit was last notified. Existing cases keep every row; the new columns are
empty on them (their violations all have the centre's own rules).

Revision ID: c0003
Revises: c0002
"""

import sqlalchemy as sa
from alembic import op

revision = "c0003"
down_revision = "c0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("centre_cases") as batch:  # only added columns: no table rebuild on SQLite
        batch.add_column(sa.Column("lead_department", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("violation_label", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("responsible_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("responsible_contact", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("responsible_licence", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("responsible_notified_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("responsible_handles", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_index(batch.f("ix_centre_cases_responsible_name"), ["responsible_name"], unique=False)


def downgrade() -> None:
    # SQLite drops columns by rebuilding the table: keep case numbers never reused.
    with op.batch_alter_table("centre_cases", recreate="auto", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index(batch.f("ix_centre_cases_responsible_name"))
        for column in ("responsible_handles", "responsible_notified_at", "responsible_licence", "responsible_contact",
                       "responsible_name", "violation_label", "lead_department"):
            batch.drop_column(column)
