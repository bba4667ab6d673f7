"""Shared by the life-cycle tests (and tests/chaos): puts ``lc_helpers`` on ``sys.path``
(the suite runs in importlib import mode)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
