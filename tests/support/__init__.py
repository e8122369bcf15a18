"""Helpers shared by the test suites (and the portability suite): scenarios, fakes, oracles.

Imported as `from tests.support.warehouse_scenario import ...`; pytest puts the repository
root on sys.path (pyproject `pythonpath`)."""
