-- The columns and types a select gives, without running it (deterministic).
describe {select}
