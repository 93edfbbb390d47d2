"""The state: which addresses each VM port may speak from, and how they were learned."""
