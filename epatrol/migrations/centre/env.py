"""Alembic environment of the centre database (epatrol.centre.base.CentreBase).

Run from code (epatrol.migrations.runner) on a connection it passes in; no alembic.ini."""

from alembic import context

from epatrol.migrations.runner import run_migrations
from epatrol.migrations.trees import CENTRE, centre_metadata

run_migrations(context, centre_metadata(), CENTRE.version_table)
