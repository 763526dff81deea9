"""The partner's redemption feed over HTTP: the keys it saw used since a cursor (one request per page)."""

from __future__ import annotations

import httpx

from quanyi_fulfillment.application.ports import FeedPage, FeedUnavailable, ReportedRedemption


class PartnerRedemptionFeed:
    def __init__(self, client: httpx.AsyncClient, base_url: str, api_key: str, timeout_s: float) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/v1/redemptions"
        self._api_key = api_key
        self._timeout = httpx.Timeout(timeout_s)

    async def since(self, cursor: str) -> FeedPage:
        try:
            response = await self._client.get(
                self._url, params={"since": cursor or "0"}, timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._api_key}"},
            )
        except httpx.HTTPError as exc:
            raise FeedUnavailable(f"partner feed unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise FeedUnavailable(f"partner feed answered HTTP {response.status_code}")
        try:
            body = response.json()
            items = [
                ReportedRedemption(str(r["key_id"]), str(r.get("redeemed_at", "")))
                for r in body["redemptions"]
            ]
            return FeedPage(items, str(body["next"]))
        except (ValueError, KeyError, TypeError):
            raise FeedUnavailable("partner feed answered an unreadable page") from None
