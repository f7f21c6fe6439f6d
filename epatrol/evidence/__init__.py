"""Evidence: recording (clips, snapshots, retention), the store (database, ledger), review rules
(decisions, cases, users, audit) and export (case packages, verification).

Records what the detectors decided; never decides what a violation is."""
