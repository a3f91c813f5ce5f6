"""Real services the essay snippets and their tests run against: Postgres (``postgres``), a Messages API server (``llm``)."""
