"""`kagura-engineer eval`: the same issues with recall on and off, in throwaway repositories."""
