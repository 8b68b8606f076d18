"""Test-only loopback stand-ins (Memory Cloud, Actions cache, Ollama): kept out of the wheel."""
