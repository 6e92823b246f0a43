"""Running Vigil: request ids, metrics, structured logs, liveness and readiness probes."""
