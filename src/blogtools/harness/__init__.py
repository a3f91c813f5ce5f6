"""The harness: real services for runnable snippets and their tests (extra ``blogtools[harness]``).

``postgres`` (embedded or configured PostgreSQL, per-test databases, schema templates), ``llm``
(a Messages API server and its backends), ``http`` (a fixed-response stand-in), ``node`` (Node and
npm from a wheel), the pytest plugin and its fixtures, and the ``db``/``llm`` commands. It builds
on the product and knows no essay; importing this package loads none of its services.
"""
