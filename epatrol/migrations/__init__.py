"""Schema migrations (Alembic) of the edge database and the centre database, run from code.

``upgrade_edge(engine)`` / ``upgrade_centre(engine)`` bring a database to the schema this
epatrol was built with: a new one is created at head and stamped, an un-versioned one made by
an epatrol from before Alembic is recognised by its shape and stamped, then upgraded. The
scripts live in edge/ and centre/ inside the package; no alembic.ini is needed.

The stores only connect; the commands that start a process open them through
``open_database(url)`` / ``open_centre_store(url)``, which migrate first.
"""

from epatrol.migrations.opening import open_centre_store, open_database
from epatrol.migrations.runner import SchemaMismatch, upgrade_centre, upgrade_edge

__all__ = ["SchemaMismatch", "open_centre_store", "open_database", "upgrade_centre", "upgrade_edge"]
