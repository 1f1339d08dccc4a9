"""seesay's user-facing side: the command line (and, later, the terminal app)."""
