"""Support code of the project's tests (not tests themselves)."""
