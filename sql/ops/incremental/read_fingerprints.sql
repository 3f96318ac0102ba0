select relation, fingerprint from intermediate._model_fingerprints;
