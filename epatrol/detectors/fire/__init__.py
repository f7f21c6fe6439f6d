"""Open burning: the fire/smoke model's judge, its cheap gate, its features and fitted decision."""
