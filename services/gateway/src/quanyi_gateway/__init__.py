"""quanyi's public HTTP gateway: REST API, buyer and admin authentication, partner and PSP callbacks."""
