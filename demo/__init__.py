"""The reference road show, end to end: `make demo` (python -m demo)."""
