"""`kagura-engineer init`: a commented repo.yaml and, on request, the example workflows."""
