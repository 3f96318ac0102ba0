-- The end of one transaction: its writes kept.
commit
