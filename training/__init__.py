"""hotich: training."""
