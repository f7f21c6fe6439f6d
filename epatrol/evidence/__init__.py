"""Clip and snapshot writing, hashing, the database and verification.

Records what the detectors decided; never decides what a violation is."""
