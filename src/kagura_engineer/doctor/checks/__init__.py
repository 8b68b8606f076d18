"""One module per external dependency; each exposes `check(ctx) -> Outcome` functions."""
