"""Benchmark: the engine against hand-written Python on the same Kustomer events (python -m bench)."""
