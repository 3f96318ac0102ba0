-- An identity build starts: its mode and why, pending until intermediate.identifier_sets is built.
delete from intermediate._identity_state;

insert into intermediate._identity_state (mode, pending, reason, n_new_sets, n_erasures)
values ($mode, true, $reason, $n_new_sets, $n_erasures);
