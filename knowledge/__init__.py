"""Knowledge base: articles and their revisions, the curation service, and fused search."""
