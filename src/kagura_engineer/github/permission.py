"""Repository permission levels that count as a collaborator who may make kagura-engineer act."""

WRITE_LEVELS = frozenset({"admin", "maintain", "write"})
