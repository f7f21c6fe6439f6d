"""Offline fitting (never imported by the runtime judges): `epatrol fit-fire`."""
