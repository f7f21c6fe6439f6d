"""Alembic environment of the edge database (epatrol.evidence.store.schema.Base).

Run from code (epatrol.migrations.runner) on a connection it passes in; no alembic.ini."""

from alembic import context

from epatrol.migrations.runner import run_migrations
from epatrol.migrations.trees import EDGE, edge_metadata

run_migrations(context, edge_metadata(), EDGE.version_table)
