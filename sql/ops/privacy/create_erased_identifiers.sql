-- The suppression list (private): a keyed hash of each erased identifier, as stored.
create table if not exists intermediate.erased_identifiers (
    erased_key varchar primary key,
    erasure_id varchar not null,
    erased_at timestamp not null
);
