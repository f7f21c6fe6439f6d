"""Overflowing bins: bin presence first, then the overflow classifier on the backbone embedding."""
