"""The Python worker `moe-prof run` starts for each pass."""
