"""hotich: inference."""
