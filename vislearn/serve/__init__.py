"""`vislearn serve`: trained runs over HTTP (see docs/serve.md)."""
