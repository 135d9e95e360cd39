"""The ``hatchet.*`` sub-clients, one module per feature, built from the store and settings."""
