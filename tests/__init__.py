"""The test suites of usage_billing: pytest folders by what they test, helpers in tests.support."""
