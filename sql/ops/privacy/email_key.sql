-- The email $e as identifiers are stored: normalised and keyed-hashed (null if not an email).
select keyed_hash(normalize_email($e), $ipad, $opad) as identifier_value
