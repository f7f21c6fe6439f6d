"""The centre's own declarative base: its tables live in the centre's database, not on an edge box."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class CentreBase(DeclarativeBase):
    pass
