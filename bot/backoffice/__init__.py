"""The back office: delivering filed requests (outbox) and bringing their status back."""
