"""`usage-billing push`: each final invoice sent to a billing system once, amendments when it
changes, recorded in a ledger in the warehouse."""
