"""One async client per platform behind the `Platform` protocol, over a shared httpx transport."""
