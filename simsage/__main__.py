"""``python -m simsage``: the same command line as the ``simsage`` console script."""

from simsage.cli import main

if __name__ == "__main__":
    main(prog_name="simsage")
