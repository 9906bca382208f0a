"""The performance benchmark suite of highseas: run ``python -m bench``."""
