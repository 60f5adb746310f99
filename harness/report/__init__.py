"""Reports: one writer per format, drawn from the report dict; merging runs."""
