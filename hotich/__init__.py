"""hotich: handwriting recognition and field extraction for Vietnamese civil-status register books."""
__version__ = "0.1.0"
