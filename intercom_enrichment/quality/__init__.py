"""What may be written: the input guards, the quarantine rule and the personal-data policy."""
