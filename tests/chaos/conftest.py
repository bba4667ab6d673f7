"""Chaos tests: the kit under failures (server killed, runtime killed, disk full, ...).

Each test asserts completeness by sequence against the producer's own count, and that the
runtime says what happened. ``chaos_helpers`` is put on ``sys.path`` here (the suite runs in
importlib import mode), with the life-cycle helpers beside it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "lifecycle"))
