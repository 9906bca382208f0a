"""``python -m highseas``: the command line, as the ``highseas`` script runs it."""

from highseas.cli import main

main(prog_name="highseas")
