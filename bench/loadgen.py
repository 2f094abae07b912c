"""A load-generator process for ``bench api``: ``python -m bench.loadgen`` reads a plan
(JSON) on stdin, runs its clients (one thread and one keep-alive HTTP connection each)
from ``start_at`` for ``seconds``, and prints what it saw (JSON) on stdout.

No Django here: the process only speaks HTTP, like a mobile app or an organiser's
laptop. Phases: ``goals`` (each client posts goals across its live matches; a match
that reached its number of goals is completed and a new one scheduled and started in
its place), ``warmup`` (the same, on a live match kept for it), ``standings``
(anonymous reads of each client's standings), ``healthz``.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

# Goals per match cycle through 5..15: never more than a real match has.
GOAL_CAPS = list(range(5, 16))


@dataclass
class Tally:
    requests: int = 0
    goals: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    matches_completed: int = 0

    def count(self, status: int | str) -> None:
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1


class Client:
    def __init__(self, host: str, port: int, spec: dict[str, Any], tally: Tally) -> None:
        self.host, self.port, self.spec, self.tally = host, port, spec, tally
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.headers = {"Content-Type": "application/json"}
        if spec.get("token"):
            self.headers["Authorization"] = f"Token {spec['token']}"

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body)
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, payload, self.headers)
                response = self.conn.getresponse()
                data = response.read()
                self.tally.requests += 1
                self.tally.count(response.status)
                if response.status >= 400 and len(self.tally.errors) < 5:
                    self.tally.errors.append(f"{method} {path}: {response.status} {data[:200]!r}")
                return response.status, data
            except (http.client.HTTPException, OSError) as exc:
                # A keep-alive connection the server closed: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    self.tally.count(type(exc).__name__)
                    if len(self.tally.errors) < 5:
                        self.tally.errors.append(f"{method} {path}: {exc!r}")
        return 0, b""

    def run_goals(self, deadline: float, matches: str = "matches") -> None:
        championship = self.spec["championship"]
        teams = self.spec["teams"]
        live = [
            dict(m, goals=0, cap=GOAL_CAPS[i % len(GOAL_CAPS)])
            for i, m in enumerate(self.spec[matches])
        ]
        pairs = 0
        i = 0
        while time.monotonic() < deadline:
            slot = i % len(live)
            match = live[slot]
            i += 1
            team = match["home"] if match["goals"] % 2 == 0 else match["away"]
            minute = min(1 + match["goals"] * 6, 90)
            start = time.perf_counter()
            status, _ = self.request(
                "POST", f"/api/v1/matches/{match['id']}/goals/", {"team": team, "minute": minute}
            )
            self.tally.latencies_ms.append((time.perf_counter() - start) * 1000)
            if 200 <= status < 300:
                self.tally.goals += 1
                match["goals"] += 1
            if match["goals"] < match["cap"]:
                continue
            self.request("POST", f"/api/v1/matches/{match['id']}/complete/", {})
            self.tally.matches_completed += 1
            home, away = teams[pairs % len(teams)], teams[(pairs + 1) % len(teams)]
            pairs += 2
            status, body = self.request(
                "POST",
                f"/api/v1/championships/{championship}/matches/",
                {"home_team": home, "away_team": away},
            )
            if not 200 <= status < 300:
                continue
            new_id = json.loads(body)["id"]
            self.request("POST", f"/api/v1/matches/{new_id}/start/", {})
            live[slot] = {
                "id": new_id,
                "home": home,
                "away": away,
                "goals": 0,
                "cap": GOAL_CAPS[(i + slot) % len(GOAL_CAPS)],
            }

    def run_reads(self, path: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            self.request("GET", path)
            self.tally.latencies_ms.append((time.perf_counter() - start) * 1000)


def main() -> None:
    plan = json.load(sys.stdin)
    phase = plan["phase"]
    tallies = [Tally() for _ in plan["clients"]]
    clients = [
        Client(plan["host"], plan["port"], spec, tally)
        for spec, tally in zip(plan["clients"], tallies, strict=True)
    ]
    time.sleep(max(0.0, plan["start_at"] - time.time()))
    deadline = time.monotonic() + plan["seconds"]

    def target(client: Client) -> None:
        if phase == "goals":
            client.run_goals(deadline)
        elif phase == "warmup":
            client.run_goals(deadline, matches="warmup")
        elif phase == "standings":
            client.run_reads(
                f"/api/v1/championships/{client.spec['championship']}/standings/", deadline
            )
        else:
            client.run_reads("/healthz", deadline)

    started = time.monotonic()
    threads = [threading.Thread(target=target, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    statuses: dict[str, int] = {}
    for tally in tallies:
        for status, n in tally.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    print(
        json.dumps(
            {
                "elapsed": elapsed,
                "requests": sum(t.requests for t in tallies),
                "goals": sum(t.goals for t in tallies),
                "matches_completed": sum(t.matches_completed for t in tallies),
                "latencies_ms": [x for t in tallies for x in t.latencies_ms],
                "statuses": statuses,
                "errors": [e for t in tallies for e in t.errors][:10],
            }
        )
    )


if __name__ == "__main__":
    main()
