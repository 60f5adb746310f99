"""The bottom layer: results, errors, the CORS reading, redaction. Standard library only."""
