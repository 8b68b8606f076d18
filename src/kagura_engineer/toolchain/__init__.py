"""The project's toolchain: the trusted setup/checks settings and running `setup` (a service run and review share)."""
