"""Benchmarks: ``make bench`` (``python -m tests.bench``) runs each module's
``run()`` and prints one table. Targets are checked here, by people reading
the table, never by timed assertions in the test suite."""
