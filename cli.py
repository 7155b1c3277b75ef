"""Run the fostermatch CLI from a checkout: ``python cli.py --help``."""

from matcher.cli import main

if __name__ == "__main__":
    main()
