"""``python -m harness``: the same entry point as the ``corsproof`` console script."""

from __future__ import annotations

import sys

from harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
