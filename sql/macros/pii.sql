-- Personal data: the one definition of what an email and a phone number look like, how an
-- identifier is normalised and keyed-hashed, and how free text is masked. Loaded into every
-- read-write connection (transforms.warehouse.connect); intermediate.records and erasure
-- (transforms.privacy) call these macros, so every identifier takes the same path.

-- '@' as written in JSON (\u0040), URLs (%40), HTML (&#64; &#x40; &commat;) or obfuscated.
create or replace macro pii_at_re() as
    '(?:@|\\u0040|%40|&#0*64;|&#[xX]0*40;|&commat;|\[at\]|\(at\))';

create or replace macro pii_email_re() as
    '[A-Za-z0-9._%+''-]+' || pii_at_re() || '[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}';

-- Phones: international (+ or %2B, a country code, then at least three groups of digits),
-- North American national (555-867-5309, (555) 867-5309) and national with a trunk 0
-- (07700 900123, 020 7946 0958). Bare digit runs (order ids, epochs, amounts) are not phones.
create or replace macro pii_phone_re() as
    '(?:(?:\+|%2[Bb])[1-9][0-9]{0,2}(?:[ .-]|%20)?\(?[0-9]{1,5}\)?(?:(?:[ .-]|%20)?[0-9]{2,5}){2,5}'
    || '|\(?[2-9][0-9]{2}\)?(?:[ .+-]|%20)?[0-9]{3}(?:[ .+-]|%20)[0-9]{4}'
    || '|0[1-9][0-9]{1,4}(?:[ .+-]|%20)?[0-9]{3,4}(?:[ .+-]|%20)?[0-9]{3,4})';

-- A phone inside text: not glued to a letter, digit or another number's separator.
create or replace macro pii_phone_in_text_re() as
    '(^|[^0-9A-Za-z_.+-])' || pii_phone_re() || '([^0-9A-Za-z_]|$)';

-- Emails and phone numbers in any of the forms above become '[email]' / '[phone]'. Cheap
-- tests run first, so most values skip the replacements: an '@' in one of its forms; seven
-- digits with at most separators between them. Both tests are first made in one pass (one
-- regular expression that holds either), so a value with neither is scanned once. The phone
-- pass runs twice: a match consumes the character after it, which may start the next number.
create or replace macro pii_may_hold_email(x) as
    contains(x, '@') or contains(x, '%40') or contains(x, 'u0040') or contains(x, '&#')
    or contains(x, '&commat;') or contains(x, '[at]') or contains(x, '(at)');

create or replace macro pii_may_hold_phone(x) as
    regexp_matches(x, '[0-9](?:(?:[ .()+-]{0,2}|%2[0Bb])[0-9]){6}');

-- pii_may_hold_email(x) or pii_may_hold_phone(x), in one pass
create or replace macro pii_may_hold_pii(x) as
    regexp_matches(x, '@|%40|u0040|&#|&commat;|\[at\]|\(at\)|[0-9](?:(?:[ .()+-]{0,2}|%2[0Bb])[0-9]){6}');

create or replace macro mask_phones(x) as
    regexp_replace(
        regexp_replace(x, pii_phone_in_text_re(), '\1[phone]\2', 'g'),
        pii_phone_in_text_re(), '\1[phone]\2', 'g'
    );

create or replace macro mask_pii(x) as
    case
        when not pii_may_hold_pii(x) then x
        when not pii_may_hold_phone(x) then regexp_replace(x, pii_email_re(), '[email]', 'g')
        when not pii_may_hold_email(x) then mask_phones(x)
        else mask_phones(regexp_replace(x, pii_email_re(), '[email]', 'g'))
    end;

-- What an identifier value is: a declared email or phone field, else by its value. Most
-- values are neither: one pass with both patterns tells them apart.
create or replace macro pii_kind(x, declared) as
    case
        when declared in ('email', 'phone') then declared
        when x is null then 'none'
        when not regexp_full_match(trim(x), '(?:' || pii_email_re() || ')|' || pii_phone_re()) then 'none'
        when regexp_full_match(trim(x), pii_email_re()) then 'email'
        when regexp_full_match(trim(x), pii_phone_re()) then 'phone'
        else 'none'
    end;

create or replace macro normalize_email(x) as
    nullif(lower(trim(regexp_replace(x, pii_at_re(), '@', 'g'))), '');

-- E.164-like: '+', the country code, the number. 00 is an international prefix; a leading 0
-- is a national trunk prefix and gives way to the default country code `cc`; a number of more
-- than 10 digits that starts with `cc` already carries it.
create or replace macro normalize_phone_digits(d, cc) as
    case
        when d is null or replace(d, '+', '') = '' then null
        when starts_with(d, '+') then '+' || replace(d, '+', '')
        when starts_with(d, '00') then '+' || replace(d[3:], '+', '')
        when starts_with(d, '0') then '+' || cc || replace(d[2:], '+', '')
        when starts_with(d, cc) and length(replace(d, '+', '')) > 10 then '+' || replace(d, '+', '')
        else '+' || cc || replace(d, '+', '')
    end;

create or replace macro normalize_phone(x, cc) as
    normalize_phone_digits(
        regexp_replace(regexp_replace(regexp_replace(x, '%2[Bb]', '+', 'g'), '%20', ' ', 'g'), '[^0-9+]', '', 'g'),
        cc
    );

-- The comparable form of an identifier of kind `kind` (see pii_kind); null when empty.
create or replace macro normalize_identifier(x, kind, cc) as
    case
        when kind = 'email' then normalize_email(x)
        when kind = 'phone' then normalize_phone(x, cc)
        else nullif(trim(x), '')
    end;

-- HMAC-SHA256 in hex, from the key's inner and outer pads (transforms.warehouse.hmac_pads).
create or replace macro keyed_hash(x, ipad, opad) as
    sha256(opad::blob || unhex(sha256(ipad::blob || encode(x))));
