import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # the modules import by their plain names, as `blogtools run` does
