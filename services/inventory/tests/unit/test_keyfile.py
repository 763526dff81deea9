import pytest
from quanyi_inventory.domain.errors import InvalidInput
from quanyi_inventory.domain.keyfile import (
    CODE_TOO_LONG,
    EMPTY_CODE,
    PASSWORD_TOO_LONG,
    KeyRow,
    RejectedRow,
    parse_key_file,
    validate_row,
)


def test_a_row_keeps_its_trimmed_code_and_password() -> None:
    assert validate_row(2, "  AB-12 ", " pw ") == KeyRow(2, "AB-12", "pw")


@pytest.mark.parametrize(
    ("code", "password", "reason"),
    [
        ("", "", EMPTY_CODE),
        ("   ", "x", EMPTY_CODE),
        ("C" * 257, "", CODE_TOO_LONG),
        ("C", "p" * 257, PASSWORD_TOO_LONG),
    ],
)
def test_a_bad_row_is_rejected_with_a_reason_that_does_not_contain_the_key(
    code: str, password: str, reason: str
) -> None:
    rejected = validate_row(7, code, password)
    assert rejected == RejectedRow(7, reason)
    if code.strip():
        assert code.strip() not in rejected.reason


def test_a_code_of_256_characters_is_accepted() -> None:
    assert isinstance(validate_row(2, "C" * 256, ""), KeyRow)


def test_a_file_with_code_and_password_columns_is_read_in_order() -> None:
    keyfile = parse_key_file(b"code,password\nAAA,1\nBBB,\n")
    assert [(r.row, r.code, r.password) for r in keyfile.rows] == [(2, "AAA", "1"), (3, "BBB", "")]
    assert keyfile.rejected == [] and keyfile.duplicates == 0


def test_the_password_column_is_optional_and_columns_may_come_in_any_order() -> None:
    assert [r.code for r in parse_key_file(b"code\nAAA\n").rows] == ["AAA"]
    keyfile = parse_key_file(b"note, Password ,CODE\nx,pw,AAA\n")
    assert [(r.code, r.password) for r in keyfile.rows] == [("AAA", "pw")]


def test_a_utf8_byte_order_mark_and_crlf_line_ends_are_accepted() -> None:
    keyfile = parse_key_file("code,password\r\n卡密-1,口令\r\n".encode("utf-8-sig"))
    assert [(r.code, r.password) for r in keyfile.rows] == [("卡密-1", "口令")]


def test_quoted_fields_may_contain_commas_and_unquoted_ones_quotes() -> None:
    assert [r.code for r in parse_key_file(b'code\n"A,B"\nC"D\n').rows] == ["A,B", 'C"D']


def test_repeated_codes_in_one_file_are_kept_once_and_counted() -> None:
    keyfile = parse_key_file(b"code\nAAA\nBBB\n AAA \nAAA\naaa\n")
    assert [r.code for r in keyfile.rows] == ["AAA", "BBB", "aaa"]
    assert keyfile.duplicates == 2


def test_bad_rows_are_reported_by_row_number_and_blank_lines_are_skipped() -> None:
    keyfile = parse_key_file(b"code,password\nAAA,1\n\n,2\n" + b"X" * 300 + b",3\nBBB\n")
    assert [r.code for r in keyfile.rows] == ["AAA", "BBB"]
    assert keyfile.rejected == [RejectedRow(4, EMPTY_CODE), RejectedRow(5, CODE_TOO_LONG)]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"password\nAAA\n",
        b"\xff\xfe\x00c\x00o\x00d\x00e",
        "code\nAAA\n".encode("gbk") + b"\xc4\xe3\n",
        b'code\n"AAA',
        b'code\n"AAA"B\n',
    ],
)
def test_a_file_that_is_not_a_utf8_csv_with_a_code_column_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_key_file(data)


def test_a_file_with_more_rows_than_allowed_is_refused() -> None:
    parse_key_file(b"code\nA\nB\nC\n", max_rows=3)
    with pytest.raises(InvalidInput, match="more than 3 rows"):
        parse_key_file(b"code\nA\nB\nC\nD\n", max_rows=3)


def test_an_unreadable_csv_is_refused_without_quoting_it() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_key_file(b"code\n" + b"SECRET" * 30_000 + b"\n")
    assert "SECRET" not in str(caught.value)
