"""Push: the sync to Stripe, Sequence and webhooks (behaviour, contract, crashes, exactly once)."""
