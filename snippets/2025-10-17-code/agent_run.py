"""The essay's agent run (2025-10-17-code/03), reproduced: ``blogtools agent`` on the essay's prompt.

A local Messages API server replays the essay's conversation to the real anthropic SDK, the code
runs in the Pyodide sandbox, /network/current-ip answers the essay's redacted address from a local
server, steps are cached in ./agent-cache and the picture lands in ./output.
"""

from __future__ import annotations

from blogtools.agent_script import PROMPT
from blogtools.cli import main as blogtools


def main() -> None:
    blogtools(["agent", PROMPT, "--task-id", "0"], standalone_mode=False)


if __name__ == "__main__":
    main()
