-- A suppression key (keyed hash under the erasure key $ipad/$opad) for each identifier value $v.
insert or ignore into intermediate.erased_identifiers
select
    keyed_hash(unnest($v::varchar[]), $ipad, $opad) as erased_key,
    $id as erasure_id,
    $at as erased_at
