"""Reconciliation of payment providers' daily trade bills against the journal. Standard library only.

Two layouts are read, as the providers publish them:

- WeChat Pay's trade bill (``downloadbill``, bill type ALL): a CSV whose header row starts with
  ``交易时间,公众账号ID,商户号,...``; every value is prefixed with a backtick; a payment row has
  交易状态 ``SUCCESS``, a refund row ``REFUND`` (with 微信退款单号, 商户退款单号 and 退款金额); 手续费 is the
  fee (negative on a refund, the fee given back); amounts are in yuan with two decimals. After the rows,
  a summary header (``总交易单数,...``) and one summary row.
- Alipay's business detail bill (``业务明细``): GBK (or UTF-8) CSV; lines starting with ``#`` are the
  preamble and the totals; the header row starts with ``支付宝交易号,商户订单号,业务类型,...``; 业务类型 is
  ``交易`` (payment) or ``退款`` (refund, amounts negative, 退款批次号/请求号 is the merchant's refund
  request number); 服务费（元） is the fee.

A payment is matched by the provider's transaction id (the payment entry's reference); a refund by the
merchant's refund number, which is our refund id (the refund_paid entry's reference). Amounts are turned
into integer fen exactly (Decimal), never through floats.
"""

from __future__ import annotations

import csv
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from enum import Enum

# Both providers' bills are in China Standard Time (no daylight saving).
CHINA = timezone(timedelta(hours=8))
WECHATPAY = "wechatpay"
ALIPAY = "alipay"
LAYOUTS = (WECHATPAY, ALIPAY)
# Ids of mismatches and statements are derived from their content: the same file names the same ones.
_NAMESPACE = uuid.UUID("5b0c7d1e-3f7a-4b8e-9a53-1f6c2d9e0a41")


class StatementError(ValueError):
    """The file is not a trade bill in the layout named (the message says where it goes wrong)."""


class RowKind(Enum):
    PAYMENT = "payment"
    REFUND = "refund"


@dataclass(frozen=True)
class StatementRow:
    """One transaction of a bill. `txn_id` is the provider's payment transaction; `refund_id` the
    merchant's refund number (refund rows only). Amounts in fen, positive; `fee_minor` signed."""

    kind: RowKind
    txn_id: str
    order_id: str
    refund_id: str
    amount_minor: int
    fee_minor: int
    currency: str
    at: datetime

    @property
    def key(self) -> str:
        """What the journal knows it by: the transaction id of a payment, the refund id of a refund."""
        return self.txn_id if self.kind is RowKind.PAYMENT else self.refund_id


@dataclass(frozen=True)
class Statement:
    layout: str
    bill_date: date
    rows: tuple[StatementRow, ...]

    def day(self) -> tuple[datetime, datetime]:
        """The bill's day as an instant range [start, end), in the provider's time zone."""
        start = datetime.combine(self.bill_date, datetime.min.time(), CHINA)
        return start, start + timedelta(days=1)


def _fen(text: str, where: str) -> int:
    cleaned = text.strip().lstrip("`").replace(",", "").strip()
    if cleaned == "":
        return 0
    try:
        value = Decimal(cleaned) * 100
    except InvalidOperation as exc:
        raise StatementError(f"{where}: {cleaned!r} is not an amount") from exc
    if value != value.to_integral_value():
        raise StatementError(f"{where}: {cleaned!r} has more than two decimals")
    return int(value)


def _time(text: str, where: str) -> datetime:
    cleaned = text.strip().lstrip("`").strip()
    try:
        return datetime.strptime(cleaned, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except ValueError as exc:
        raise StatementError(f"{where}: {cleaned!r} is not a time like 2026-11-30 12:00:00") from exc


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise StatementError("the file is neither UTF-8 nor GBK text")


def _bill_date(rows: Iterable[StatementRow]) -> date:
    days = Counter(r.at.date() for r in rows)
    if not days:
        raise StatementError("the bill has no transactions")
    return days.most_common(1)[0][0]


WECHAT_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
    "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
).split(",")
WECHAT_SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
_WECHAT_CURRENCY = {"CNY": "CNY", "": "CNY"}


def parse_wechatpay(content: bytes) -> Statement:
    """A WeChat Pay trade bill (bill type ALL)."""
    lines = _decode(content).splitlines()
    rows: list[StatementRow] = []
    header: list[str] | None = None
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if raw.startswith("总交易单数"):
            break
        record = next(csv.reader([raw]))
        if header is None:
            header = [h.strip() for h in record]
            needed = ("交易时间", "微信订单号", "商户订单号", "交易状态", "应结订单金额", "手续费")
            missing = [h for h in needed if h not in header]
            if missing:
                raise StatementError(
                    f"line {n}: not a WeChat Pay trade bill header (no {', '.join(missing)})"
                )
            continue
        if len(record) < len(header):
            raise StatementError(f"line {n}: {len(record)} columns, the header has {len(header)}")
        row = {h: record[i].strip().lstrip("`").strip() for i, h in enumerate(header)}
        where = f"line {n}"
        status = row["交易状态"]
        currency = _WECHAT_CURRENCY.get(row.get("货币种类", ""), row.get("货币种类", "CNY"))
        fee = _fen(row["手续费"], where)
        if status == "REFUND":
            rows.append(StatementRow(
                RowKind.REFUND, row["微信订单号"], row["商户订单号"], row.get("商户退款单号", ""),
                _fen(row.get("退款金额", ""), where), fee, currency, _time(row["交易时间"], where),
            ))
        elif status == "SUCCESS":
            rows.append(StatementRow(
                RowKind.PAYMENT, row["微信订单号"], row["商户订单号"], "",
                _fen(row["应结订单金额"], where), fee, currency, _time(row["交易时间"], where),
            ))
        # Other states (REVOKED, NOTPAY, ...) moved no money.
    if header is None:
        raise StatementError("the file has no WeChat Pay trade bill header")
    return Statement(WECHATPAY, _bill_date(rows), tuple(rows))


ALIPAY_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
).split(",")


def parse_alipay(content: bytes) -> Statement:
    """An Alipay business detail bill (业务明细)."""
    lines = _decode(content).splitlines()
    rows: list[StatementRow] = []
    header: list[str] | None = None
    for n, raw in enumerate(lines, start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        record = [v.strip() for v in next(csv.reader([raw]))]
        if header is None:
            header = record
            needed = ("支付宝交易号", "商户订单号", "业务类型", "完成时间", "订单金额（元）", "服务费（元）")
            missing = [h for h in needed if h not in header]
            if missing:
                raise StatementError(
                    f"line {n}: not an Alipay business detail header (no {', '.join(missing)})"
                )
            continue
        if len(record) < len(header):
            raise StatementError(f"line {n}: {len(record)} columns, the header has {len(header)}")
        row = dict(zip(header, record, strict=False))
        where = f"line {n}"
        kind = row["业务类型"]
        at = _time(row["完成时间"] or row.get("创建时间", ""), where)
        amount = abs(_fen(row["订单金额（元）"], where))
        fee = -_fen(row["服务费（元）"], where)  # Alipay shows the fee as a negative amount charged
        if kind == "退款":
            rows.append(StatementRow(
                RowKind.REFUND, row["支付宝交易号"], row["商户订单号"], row.get("退款批次号/请求号", ""),
                amount, fee, "CNY", at,
            ))
        elif kind == "交易":
            rows.append(StatementRow(
                RowKind.PAYMENT, row["支付宝交易号"], row["商户订单号"], "", amount, fee, "CNY", at
            ))
    if header is None:
        raise StatementError("the file has no Alipay business detail header")
    return Statement(ALIPAY, _bill_date(rows), tuple(rows))


def parse(layout: str, content: bytes) -> Statement:
    if layout == WECHATPAY:
        return parse_wechatpay(content)
    if layout == ALIPAY:
        return parse_alipay(content)
    raise StatementError(f"unknown statement layout {layout!r}; known: {', '.join(LAYOUTS)}")


@dataclass(frozen=True)
class LedgerTxn:
    """A transaction as the journal has it: a payment (key = provider txn id) or a paid refund (key =
    refund id), with its order and amount in minor units."""

    kind: RowKind
    key: str
    order_id: str
    amount_minor: int
    currency: str


class MismatchKind(Enum):
    MISSING_IN_LEDGER = 1
    MISSING_IN_STATEMENT = 2
    AMOUNT = 3


@dataclass(frozen=True)
class Mismatch:
    mismatch_id: str
    kind: MismatchKind
    txn_kind: RowKind
    key: str
    order_id: str
    ledger_minor: int
    statement_minor: int
    currency: str

    @property
    def detail(self) -> str:
        what = f"{self.txn_kind.value} {self.key}"
        if self.kind is MismatchKind.MISSING_IN_LEDGER:
            return f"{what} is in the statement ({self.statement_minor} {self.currency}), not in the ledger"
        if self.kind is MismatchKind.MISSING_IN_STATEMENT:
            return f"{what} is in the ledger ({self.ledger_minor} {self.currency}) but not in the statement"
        return (f"{what}: the ledger has {self.ledger_minor} {self.currency}, "
                f"the statement {self.statement_minor} {self.currency}")


@dataclass(frozen=True)
class Reconciliation:
    statement_id: str
    matched: int
    mismatches: tuple[Mismatch, ...]
    fee_minor: int
    payments_minor: int
    refunds_minor: int
    currency: str

    def count(self, kind: MismatchKind) -> int:
        return sum(1 for m in self.mismatches if m.kind is kind)


def statement_id(provider: str, file_sha256: str) -> str:
    """The reconciliation run of one file of one provider: the same file is the same run."""
    return str(uuid.uuid5(_NAMESPACE, f"{provider}:{file_sha256}"))


def reconcile(
    statement: Statement,
    run_id: str,
    in_statement_ledger: Mapping[str, LedgerTxn],
    of_the_day: Iterable[LedgerTxn],
) -> Reconciliation:
    """Match `statement` against the journal.

    `in_statement_ledger`: the journal's transactions whose keys the statement names (any day);
    `of_the_day`: the journal's transactions of the provider on the bill's day. Each statement row is
    matched, missing in the ledger, or an amount mismatch; each transaction of the day the statement does
    not name is missing in the statement.
    """
    mismatches: list[Mismatch] = []
    matched = 0
    seen: set[tuple[RowKind, str]] = set()
    currency = statement.rows[0].currency if statement.rows else "CNY"

    def found(kind: MismatchKind, txn_kind: RowKind, key: str, order: str, ledger: int, stmt: int) -> None:
        mid = str(uuid.uuid5(_NAMESPACE, f"{run_id}:{kind.name}:{txn_kind.value}:{key}"))
        mismatches.append(Mismatch(mid, kind, txn_kind, key, order, ledger, stmt, currency))

    for row in statement.rows:
        seen.add((row.kind, row.key))
        txn = in_statement_ledger.get(row.key)
        if txn is None or txn.kind is not row.kind:
            found(MismatchKind.MISSING_IN_LEDGER, row.kind, row.key, row.order_id, 0, row.amount_minor)
        elif txn.amount_minor != row.amount_minor or txn.currency != row.currency:
            found(MismatchKind.AMOUNT, row.kind, row.key, row.order_id, txn.amount_minor, row.amount_minor)
        else:
            matched += 1
    for txn in sorted(of_the_day, key=lambda t: (t.kind.value, t.key)):
        if (txn.kind, txn.key) not in seen:
            found(MismatchKind.MISSING_IN_STATEMENT, txn.kind, txn.key, txn.order_id, txn.amount_minor, 0)
    return Reconciliation(
        statement_id=run_id,
        matched=matched,
        mismatches=tuple(mismatches),
        fee_minor=sum(r.fee_minor for r in statement.rows),
        payments_minor=sum(r.amount_minor for r in statement.rows if r.kind is RowKind.PAYMENT),
        refunds_minor=sum(r.amount_minor for r in statement.rows if r.kind is RowKind.REFUND),
        currency=currency,
    )
