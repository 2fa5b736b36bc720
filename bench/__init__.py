"""Benchmarks and load tests of the ingest path and the real-time pipeline (``make bench``)."""
