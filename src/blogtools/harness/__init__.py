"""Test harnesses the essay snippets run against: real services started locally."""
