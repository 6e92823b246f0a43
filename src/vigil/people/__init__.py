"""People: everyone seen acting in a tenant's events, linked to Vigil accounts by email."""
