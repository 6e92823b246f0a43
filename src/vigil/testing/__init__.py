"""Real parts for Vigil's tests and benchmarks: a throwaway PostgreSQL, a live server."""
