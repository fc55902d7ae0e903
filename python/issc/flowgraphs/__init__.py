"""Top blocks: the whole closed-loop link composed of the module's hier blocks."""
