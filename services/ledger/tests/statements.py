"""Trade bill files as WeChat Pay and Alipay publish them, written from rows (for tests)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime

from quanyi_ledger.domain.reconciliation import ALIPAY_HEADER, CHINA, WECHAT_HEADER, RowKind, StatementRow


def yuan(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _when(t: datetime) -> str:
    return t.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def wechatpay_bill(rows: Sequence[StatementRow]) -> bytes:
    """A WeChat Pay trade bill (type ALL): backtick-prefixed values, then the summary."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(WECHAT_HEADER)
    for r in rows:
        refund = r.kind is RowKind.REFUND
        values = {
            "交易时间": _when(r.at), "公众账号ID": "wx0000000000000000", "商户号": "1900000109",
            "特约商户号": "0", "设备号": "", "微信订单号": r.txn_id, "商户订单号": r.order_id,
            "用户标识": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "交易类型": "NATIVE",
            "交易状态": "REFUND" if refund else "SUCCESS", "付款银行": "CMB_DEBIT", "货币种类": r.currency,
            "应结订单金额": "0.00" if refund else yuan(r.amount_minor), "代金券金额": "0.00",
            "微信退款单号": f"50000{r.refund_id}" if refund else "0", "商户退款单号": r.refund_id or "0",
            "退款金额": yuan(r.amount_minor) if refund else "0.00", "充值券退款金额": "0.00",
            "退款类型": "ORIGINAL" if refund else "", "退款状态": "SUCCESS" if refund else "",
            "商品名称": "游戏点卡", "商户数据包": "", "手续费": yuan(r.fee_minor), "费率": "0.60%",
            "订单金额": yuan(r.amount_minor), "申请退款金额": yuan(r.amount_minor) if refund else "0.00",
            "费率备注": "",
        }
        w.writerow(["`" + values[h] for h in WECHAT_HEADER])
    w.writerow("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额".split(","))
    pays = [r for r in rows if r.kind is RowKind.PAYMENT]
    refunds = [r for r in rows if r.kind is RowKind.REFUND]
    w.writerow(["`" + v for v in (
        str(len(rows)), yuan(sum(r.amount_minor for r in pays)), yuan(sum(r.amount_minor for r in refunds)),
        "0.00", yuan(sum(r.fee_minor for r in rows)), yuan(sum(r.amount_minor for r in pays)),
        yuan(sum(r.amount_minor for r in refunds)),
    )])
    return buf.getvalue().encode("utf-8")


def alipay_bill(rows: Sequence[StatementRow], day: str) -> bytes:
    """An Alipay business detail bill (业务明细), GBK, with its '#' preamble and totals."""
    buf = io.StringIO()
    buf.write("#支付宝业务明细查询\r\n#账号：[20880000000000000156]\r\n")
    buf.write(f"#起始日期：[{day} 00:00:00]   终止日期：[{day} 23:59:59]\r\n")
    buf.write("#-----------------------------------------业务明细列表----------------------------------------\r\n")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(ALIPAY_HEADER)
    for r in rows:
        refund = r.kind is RowKind.REFUND
        sign = -1 if refund else 1
        values = {
            "支付宝交易号": r.txn_id, "商户订单号": r.order_id, "业务类型": "退款" if refund else "交易",
            "商品名称": "游戏点卡", "创建时间": _when(r.at), "完成时间": _when(r.at), "门店编号": "",
            "门店名称": "", "操作员": "", "终端号": "", "对方账户": "buyer@example.com",
            "订单金额（元）": yuan(sign * r.amount_minor), "商家实收（元）": yuan(sign * r.amount_minor),
            "支付宝红包（元）": "0.00", "集分宝（元）": "0.00", "支付宝优惠（元）": "0.00",
            "商家优惠（元）": "0.00", "券核销金额（元）": "0.00", "券名称": "", "商家红包消费金额（元）": "0.00",
            "卡消费金额（元）": "0.00", "退款批次号/请求号": r.refund_id, "服务费（元）": yuan(-r.fee_minor),
            "分润（元）": "0.00", "备注": "",
        }
        w.writerow([values[h] + "\t" for h in ALIPAY_HEADER])
    buf.write("#-----------------------------------------业务明细列表结束------------------------------------\r\n")
    buf.write(f"#交易合计：{sum(1 for r in rows if r.kind is RowKind.PAYMENT)}笔\r\n")
    buf.write("#导出时间：[2026年12月01日 09:00:00]\r\n")
    return buf.getvalue().encode("gbk")
