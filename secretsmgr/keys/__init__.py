"""Keys: the age recipient/identity seam and where identities come from."""
