"""Repository permission levels: every level GitHub reports, and those that may make kagura-engineer act."""

#: What `GET /repos/{owner}/{repo}/collaborators/{user}/permission` may say, highest first.
PERMISSION_LEVELS = ("admin", "maintain", "write", "triage", "read", "none")
#: A collaborator with one of these may trigger a run, a review or a goal.
WRITE_LEVELS = frozenset(PERMISSION_LEVELS[:3])
