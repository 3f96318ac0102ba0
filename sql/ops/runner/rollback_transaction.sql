-- The end of one transaction that failed: its writes undone.
rollback
