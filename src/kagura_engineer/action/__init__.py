"""action package."""
