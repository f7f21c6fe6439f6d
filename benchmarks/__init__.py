"""Benchmarks and soak runs: run from a source checkout (they build footage and start the test RTSP server)."""
