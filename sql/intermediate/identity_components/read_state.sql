-- The identity build under way or last finished: mode, pending, reason, new identifier sets.
select mode, pending, reason, n_new_sets from intermediate._identity_state;
