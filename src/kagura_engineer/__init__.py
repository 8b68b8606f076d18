"""kagura-engineer: issues become pull requests through Claude Code, grounded in memory.

The package's public surface is deliberately tiny; everything else lives in the
sub-packages named after the architecture (doctor, setup, memory, github, agent, run,
review, goal, eval, action, cache, demo).
"""

__version__ = "0.1.0"

#: The npm version of @anthropic-ai/claude-code that kagura-engineer is tested with.
#: The one place it is pinned: setup, the Dockerfile (via build arg) and .ci/run read it.
CLAUDE_CODE_VERSION = "2.1.331"

__all__ = ["CLAUDE_CODE_VERSION", "__version__"]
