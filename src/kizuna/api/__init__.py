"""HTTP: the FastAPI application, request context and the mapping of errors to HTTP."""
