"""The audit log: who did what to which object, in an append-only, hash-chained table."""
