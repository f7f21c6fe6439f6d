"""HTTP API over the evidence database."""
