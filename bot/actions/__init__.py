"""Actions: what the assistant does once it knows what the resident wants."""
