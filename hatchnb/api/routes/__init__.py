"""The API's routers, one module per area (all under /api/v1 but the health checks)."""
