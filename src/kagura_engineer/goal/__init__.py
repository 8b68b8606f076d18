"""goal package."""
