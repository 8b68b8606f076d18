"""`kagura-engineer demo`: a sample issue driven to a PR against loopback GitHub and Anthropic stand-ins."""
