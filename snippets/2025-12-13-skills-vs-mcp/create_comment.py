"""The essay's mcporter call, made through the Python MCP client instead of the shell.

Published form: ``npx mcporter call 'linear.create_comment(issueId: "ENG-123", body: "Looks good!")'``.
Here the ``linear`` server is looked up in ``.mcp.json`` beside this file, started over stdio
with the Python that runs this module, and its ``create_comment`` tool called.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from mcp import Client, StdioServerParameters, stdio_client

HERE = Path(__file__).resolve().parent


def server_parameters(name: str, config: Path = HERE / ".mcp.json") -> StdioServerParameters:
    """The stdio launch parameters of server ``name`` in an ``.mcp.json`` file (cwd: its folder)."""
    entry = json.loads(config.read_text())["mcpServers"][name]
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return StdioServerParameters(command=entry["command"], args=entry.get("args", []), env=env,
                                 cwd=config.parent / entry.get("cwd", "."))


async def call_tool(server: str, tool: str, arguments: dict) -> dict:
    """Call ``server.tool(arguments)`` and return the tool's structured result."""
    # The server's stderr goes to ours as it is now (stdio_client's default is bound at import).
    async with Client(stdio_client(server_parameters(server), errlog=sys.stderr)) as client:
        result = await client.call_tool(tool, arguments)
    if result.is_error:
        raise RuntimeError(f"{server}.{tool} failed: {result.content}")
    return result.structured_content


def main() -> None:
    comment = asyncio.run(call_tool("linear", "create_comment", {"issueId": "ENG-123", "body": "Looks good!"}))
    print(json.dumps(comment, indent=2))


if __name__ == "__main__":
    main()
