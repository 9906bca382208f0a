"""The performance benchmark suite of highseas (issue 7): run ``python -m bench``."""
