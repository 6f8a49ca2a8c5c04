"""Revisions: 0001 users, keys, collectors' actions and ownership; 0002 credit decisions,
audit log and alerts. Edited in place until released; no third revision."""
