"""highseas: declarative, testable rules for a sales team's customer pools."""

import sys

if not (3, 11) <= sys.version_info[:2] <= (3, 13):
    raise RuntimeError(
        "highseas runs on Python 3.11, 3.12 and 3.13, not "
        f"{sys.version_info[0]}.{sys.version_info[1]} (docs/python-versions.md)"
    )
