"""Review rules: officers' decisions on events, cases, users and the audit log."""
