"""GNU Radio blocks of gr-issc: thin adapters between streams/messages and the core.

One block per module; module name = class name = GRC id (``issc_<name>``).
"""
