import subprocess
import sys


def test_help_lists_the_program():
    out = subprocess.run(
        [sys.executable, "-m", "blogtools", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "Usage: python -m blogtools" in out
