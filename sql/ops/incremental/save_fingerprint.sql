-- The fingerprint a model was just built with.
insert or replace into intermediate._model_fingerprints
values ($relation, $fingerprint, now()::timestamp);
