"""hotich: models."""
