"""A stand-in for Linear's MCP server: one tool, ``create_comment``, that stores what it gets.

Run over stdio (``python3 linear_server.py``), as ``.mcp.json`` beside this file declares it.
Each comment is appended as one JSON line to the file named by ``LINEAR_COMMENTS_FILE``
(default: ``linear-comments.jsonl`` in the blogtools cache directory).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from mcp.server.mcpserver import MCPServer

from blogtools.files import write_atomic

server = MCPServer("linear", instructions="Create comments on Linear issues (a local stand-in).")


def comments_file() -> Path:
    """Where comments are stored: ``$LINEAR_COMMENTS_FILE`` or the cache default."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "blogtools" / "linear-comments.jsonl"
    return Path(os.environ.get("LINEAR_COMMENTS_FILE") or default)


@server.tool()
def create_comment(issueId: str, body: str) -> dict[str, str]:
    """Add a comment with Markdown ``body`` to the issue ``issueId`` (e.g. ENG-123)."""
    comment = {"id": f"comment-{uuid.uuid4().hex[:12]}", "issueId": issueId, "body": body}
    path = comments_file()
    old = path.read_bytes() if path.exists() else b""
    write_atomic(path, old + (json.dumps(comment) + "\n").encode())
    return comment


if __name__ == "__main__":
    server.run("stdio")
