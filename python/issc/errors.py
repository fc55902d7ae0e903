# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Exception types of gr-issc. The command line turns every one of them into exit code 2."""


class IsscInputError(ValueError):
    """Bad user input (a file, an argument, a value out of range). The message names what is wrong."""


class ScenarioError(IsscInputError):
    """A scenario file or value that does not validate. The message names the file and the key."""
