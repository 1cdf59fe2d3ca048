"""The HTTP read API (DESIGN.md section 6): FastAPI app, auth, limits, errors, metrics."""
