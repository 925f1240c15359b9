"""Field text generators: names, dates, places and the code-like values of register books.

The entry points are :func:`generate_field` (one cell of any book) and :func:`generate_record` (a consistent
row); :func:`parse_date` reads every date form they write and is shared with the normalization step.
"""
from data.text.dates import ParsedDate, parse_date
from data.text.fields import generate_field, generate_record, random_era

__all__ = ["ParsedDate", "generate_field", "generate_record", "parse_date", "random_era"]
