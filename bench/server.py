"""Requests/s of `mmload serve` against nginx serving the same JSON, measured by wrk in one run.

Absolute figures drift by +-20% between runs on the same machine, so the result is the ratio of
the medians, with the two servers measured in alternating rounds under identical wrk load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request

from common import NGINX, BenchError, Processes, positive, run, start_nginx

PATH = "/api/v4/users/me"
INSTALL = "apt-get install nginx-light wrk"
MAX_NON_2XX = 0.01  # a bench of 401s or 429s measures the wrong code path: fail past 1%

# wrk runs this in each thread: requests are built once in init (wrk.format needs the Host that
# wrk sets up just before init), then rotated per request.
WRK_LUA = """
local tokens = {%s}
local requests, i = {}, 0
init = function(args)
  for k, token in ipairs(tokens) do
    requests[k] = wrk.format("GET", "%s", {["Authorization"] = "Bearer " .. token})
  end
end
request = function()
  i = i %% #requests + 1
  return requests[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%%d us=%%d non2xx=%%d socket=%%d\\n", summary.requests,
    summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def start_mmload(procs: Processes, accounts: int) -> str:
    cmd = [sys.executable, "-m", "mmload", "serve", "--port", "0", "--vary-by-user"]
    cmd += ["--per-sec", "1000000", "--max-burst", "1000000", "--accounts", str(accounts)]
    proc, log = procs.start("serve", cmd)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        first, newline, _ = log.read_text().partition("\n")
        if newline:  # "mmload serve: listening on http://127.0.0.1:PORT", once it listens
            return first.rpartition(" ")[2]
        time.sleep(0.05)
    raise BenchError(f"mmload serve did not announce its URL:\n{log.read_text()}")


def login(url: str, accounts: int) -> list[str]:
    tokens = []
    for k in range(1, accounts + 1):
        body = json.dumps({"login_id": f"user{k}", "password": "mmload-pass"}).encode()
        req = urllib.request.Request(f"{url}/api/v4/users/login", body, method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            tokens.append(resp.headers["Token"])
    return tokens


def fetch_me(url: str, token: str) -> bytes:
    req = urllib.request.Request(url + PATH, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return bytes(resp.read())


def wrk(args: argparse.Namespace, procs: Processes, url: str, seconds: int) -> tuple[float, int]:
    """Requests/s and count of non-2xx answers, after checking that the answers were 200s."""
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s"]
    proc, log = procs.start("wrk", [*cmd, "-s", str(procs.tmp / "rotate.lua"), url + PATH])
    proc.wait(timeout=seconds + 30)
    out = log.read_text()
    line = next((x for x in out.splitlines() if x.startswith("BENCH ")), None)
    if proc.returncode or line is None:
        raise BenchError(f"wrk failed ({proc.returncode}):\n{out}")
    fields = {k: int(v) for k, v in (f.split("=") for f in line.split()[1:])}
    bad = fields["non2xx"] + fields["socket"]
    if fields["requests"] == 0 or bad > MAX_NON_2XX * fields["requests"]:
        raise BenchError(f"{url}: over 1% of answers were not 2xx or failed ({line})")
    return fields["requests"] / (fields["us"] / 1e6), bad


def start_targets(procs: Processes, accounts: int) -> dict[str, str]:
    """mmload serve and nginx serving the very bytes it answers with; wrk's script of tokens."""
    server_url = start_mmload(procs, accounts)
    tokens = login(server_url, accounts)
    nginx_url = start_nginx(procs, PATH, fetch_me(server_url, tokens[0]))
    lua = WRK_LUA % (", ".join(f'"{t}"' for t in tokens), PATH)
    (procs.tmp / "rotate.lua").write_text(lua)
    return {"server": server_url, "nginx": nginx_url}


def measure(args: argparse.Namespace, procs: Processes) -> str:
    load = f"wrk -t{args.threads} -c{args.connections} on GET {PATH}"
    timing = f"{args.rounds} rounds x {args.duration} s after a {args.warmup} s warm-up"
    print(f"bench: {os.cpu_count()} CPUs; {load}; {timing}")
    print("bench: absolute figures drift +-20% run to run; only the ratio is the result")
    targets = start_targets(procs, args.accounts)
    for url in targets.values():
        wrk(args, procs, url, args.warmup)
    rates: dict[str, list[float]] = {name: [] for name in targets}
    for n in range(1, args.rounds + 1):
        shown = []
        for name, url in targets.items():
            rate, bad = wrk(args, procs, url, args.duration)
            rates[name].append(rate)
            shown.append(f"{name} {rate:9,.0f} req/s ({bad} non-2xx)")
        print(f"round {n}: " + "   ".join(shown))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print("median:  " + "   ".join(f"{k} {v:9,.0f} req/s" for k, v in medians.items()))
    return f"server/nginx ratio={medians['server'] / medians['nginx']:.3f}"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=positive, default=3, help="A/B rounds (default 3)")
    p.add_argument("--duration", type=positive, default=3, help="seconds per round (default 3)")
    p.add_argument("--warmup", type=positive, default=1, help="warm-up seconds (default 1)")
    p.add_argument("--threads", type=positive, default=1, help="wrk -t (default 1)")
    p.add_argument("--connections", type=positive, default=32, help="wrk -c (default 32)")
    p.add_argument("--accounts", type=positive, default=50, help="tokens wrk rotates (default 50)")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    return run(lambda procs: measure(args, procs), needs=("wrk", NGINX), install=INSTALL)


if __name__ == "__main__":
    sys.exit(main())
