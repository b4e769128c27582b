"""A tiny package for report fixtures: some lines and branches stay uncovered."""
