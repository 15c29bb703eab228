"""Byline: `python app.py` starts the web chat; `python app.py --help` lists the other commands."""

import sys

from byline.cli import main

if __name__ == "__main__":
    sys.exit(main())
