"""Data: the ledger schema, field text generators, real ink, the line synthesizer and datasets."""
