"""Fixtures of the 2025-10-17 essay's tests: its modules importable by plain name, as `blogtools run` has them."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
