-- The identity build under way built its last table.
update intermediate._identity_state set pending = false;
