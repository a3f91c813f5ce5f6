"""Real services for the runnable snippets' tests: Postgres (``postgres``) and a Messages-API server."""
