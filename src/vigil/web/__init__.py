"""The web console: server-rendered pages under ``/ui/`` on the same sessions as the API."""
