"""Build tooling: upstream document -> openapi.yaml -> discourse_async/_generated."""
