"""Builders shared by the test folders: facts, rulesets and snapshots."""
