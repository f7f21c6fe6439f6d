"""Zones, tracking, dwell and one judge per violation, producing episodes.

Never writes files or touches the database."""
