-- How many identifiers are suppressed.
select count(*) as n from intermediate.erased_identifiers
