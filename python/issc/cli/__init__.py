"""The ``issc`` command line. ``main()`` is the console-script entry point."""
from .main import main

__all__ = ["main"]
