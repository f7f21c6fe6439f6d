"""Recording evidence: clips cut from buffered packets, snapshots, file paths, retention, recovery."""
