"""setup package."""
