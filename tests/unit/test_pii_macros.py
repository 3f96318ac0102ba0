"""sql/macros/pii.sql: what counts as an email or a phone, how identifiers are normalised and
keyed-hashed, and what the mask leaves alone. In-memory DuckDB with the real macros."""

import hashlib
import hmac

import duckdb
import pytest

from transforms.warehouse import hmac_pads, load_pii_macros


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    load_pii_macros(c)
    yield c
    c.close()


def mask(con, text: str) -> str:
    return con.execute("select mask_pii($t)", {"t": text}).fetchall()[0][0]


@pytest.mark.parametrize(("text", "masked"), [
    ("mail John.Doe@Example.com now", "mail [email] now"),
    ("john\\u0040example.com", "[email]"),
    ('{"note": "reach me at john\\u0040example.com"}', '{"note": "reach me at [email]"}'),
    ("https://shop.example.com/?email=john%40example.com&x=1", "https://shop.example.com/?email=[email]&x=1"),
    ("john&#64;example.com", "[email]"),
    ("john&#x40;example.com", "[email]"),
    ("john&commat;example.com", "[email]"),
    ("call 555-867-5309", "call [phone]"),
    ("(555) 867-5309", "[phone]"),
    ("555.867.5309.", "[phone]."),
    ("07700 900123", "[phone]"),
    ("020 7946 0958", "[phone]"),
    ("+44 7700 900123", "[phone]"),
    ("+1 555 867 5309", "[phone]"),
    ("+1 (555) 867-5309", "[phone]"),
    ("+15558675309", "[phone]"),
    ("+33 6 12 34 56 78", "[phone]"),
    ("tel:+447700900123", "tel:[phone]"),
    ("555-867-5309,555-867-5310", "[phone],[phone]"),
    ('{"p":"555-867-5309"}', '{"p":"[phone]"}'),
    ("https://x.example/?phone=%2B15558675309", "https://x.example/?phone=[phone]"),
    ("https://x.example/?phone=555+867+5309", "https://x.example/?phone=[phone]"),
])
def test_emails_and_phones_are_masked_in_every_form(con, text, masked):
    assert mask(con, text) == masked


@pytest.mark.parametrize("text", [
    "2025-03-01T10:15:00Z", "2025-03-01 10:15:00+01:00", "2025-03-01", "10:15:00", "20250301",
    "amount 1234.56", "$1,299.00", "+12.50", "€ 1.299,00", "ts 1740823200000",
    "ORD-2025-000123", "order 1000234567", "ORD-555-867-5309", "sku 12345678", "v1.2.3", "+1 day",
    "https://shop.example.com/p/SKU-1?utm_campaign=spring_2025&page=2",
    "192.168.100.200", "ip 10.0.0.1",
])
def test_timestamps_amounts_and_ids_are_left_alone(con, text):
    assert mask(con, text) == text


@pytest.mark.parametrize(("value", "declared", "kind", "normalized"), [
    ("  Jane.Doe@Example.COM ", "email", "email", "jane.doe@example.com"),
    ("Jane.Doe@Example.com", "none", "email", "jane.doe@example.com"),  # a userId that is an email
    ("jane.doe%40example.com", "none", "email", "jane.doe@example.com"),
    ("+44 7700 900123", "phone", "phone", "+447700900123"),
    ("07700 900123", "phone", "phone", "+17700900123"),  # national: the default country code
    ("555-867-5309", "none", "phone", "+15558675309"),  # a userId that is a phone
    ("+1 (555) 867-5309", "none", "phone", "+15558675309"),
    ("15558675309", "phone", "phone", "+15558675309"),
    ("0044 7700 900123", "phone", "phone", "+447700900123"),
    ("u-jane", "none", "none", "u-jane"),
    ("5000003", "none", "none", "5000003"),  # a CRM contact id is not a phone
    ("2025-03-01", "none", "none", "2025-03-01"),
    ("   ", "none", "none", None),
])
def test_one_normalisation_for_every_identifier(con, value, declared, kind, normalized):
    got = con.execute(
        "select pii_kind($v, $d) as k, normalize_identifier($v, pii_kind($v, $d), '1')", {"v": value, "d": declared}
    ).fetchall()[0]
    assert got == (kind, normalized)


def test_keyed_hash_is_hmac_sha256(con):
    ipad, opad = hmac_pads("s3cret")
    got = con.execute("select keyed_hash('jane.doe@example.com', $i, $o)", {"i": ipad, "o": opad}).fetchall()[0][0]
    assert got == hmac.new(b"s3cret", b"jane.doe@example.com", hashlib.sha256).hexdigest()
    ipad2, opad2 = hmac_pads("s3cret", purpose="quarantine-payload")
    other = con.execute("select keyed_hash('jane.doe@example.com', $i, $o)", {"i": ipad2, "o": opad2}).fetchall()[0][0]
    assert other != got
