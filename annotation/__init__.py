"""hotich: annotation."""
