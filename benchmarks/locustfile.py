"""The paced phase of ``load_web.py`` driven by Locust, as a cross-check of its own generator.

``load_web.py --locust`` starts this headless against the gunicorn it serves, with the page mix
and a logged-in session cookie in the environment:

    LOADBENCH_PAGES   JSON list of [name, path, weight]
    LOADBENCH_COOKIE  the Cookie header of one logged-in session (shared, like the generator's)

Each Locust user (FastHttpUser: geventhttpclient, the cheaper of Locust's clients) starts at a
random moment of its first 1.5 s, then reads a page picked by weight and waits 0.5-1.5 s, as
in the paced phase.
"""

from __future__ import annotations

import json
import os
import random
import time

from locust import FastHttpUser, between, task

PAGES: list[tuple[str, str, int]] = [tuple(p) for p in json.loads(os.environ["LOADBENCH_PAGES"])]
WEIGHTED = [(name, path) for name, path, weight in PAGES for _ in range(weight)]
HEADERS = {
    "Cookie": os.environ["LOADBENCH_COOKIE"],
    "X-Forwarded-Proto": "https",  # as behind the TLS proxy
    "User-Agent": "load-web-bench-locust",
}


class PageReader(FastHttpUser):
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        # A staggered start, as the generator's users have: not all 50 at the same instant.
        time.sleep(random.uniform(0, 1.5))  # noqa: S311 - gevent-patched: only this user waits

    @task
    def read_a_page(self) -> None:
        name, path = random.choice(WEIGHTED)  # noqa: S311 - a load mix, not a secret
        with self.client.get(
            path, headers=HEADERS, name=name, catch_response=True, allow_redirects=False
        ) as answer:
            if answer.status_code != 200:  # a redirect to the login page is a failure too
                answer.failure(f"HTTP {answer.status_code}")
