"""The centre's own declarative base: its tables live in the centre's database, not on an edge box."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class CentreBase(DeclarativeBase):
    pass


# The Alembic revision the centre's tables are (migrations/centre/versions; tests/test_migrations.py
# checks it is the newest script). The store refuses a database at any other revision.
CENTRE_SCHEMA_REVISION = "c0003"
CENTRE_VERSION_TABLE = "alembic_version_centre"
