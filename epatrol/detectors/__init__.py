"""Zones, tracking, dwell and one judge per violation (fire/ and bins/ hold the two with models
and fitted decisions of their own), producing episodes.

Never writes files or touches the database."""
