#!/usr/bin/env python3
"""Issue #24's probes against the emulator binary, on 127.0.0.1 only, each bounded.

Usage: hostile_clients.py <meridian-emulator binary> <probe> [<probe> ...]
Probes: methods idle_h2 param_query long_query binary_body h2_bodies h2_stalled patch
        replication minor (or `all`).

Each probe starts its own emulator under /usr/bin/time -v, prints one JSON line with what
it saw and the process's peak RSS (MiB), and stops it with SIGTERM. Needs the `h2` package
for the two HTTP/2 body probes (pip install h2).
"""

import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse


class Emulator:
    def __init__(self, binary, *args):
        self.proc = subprocess.Popen(
            ["/usr/bin/time", "-v", binary, "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready = json.loads(self.proc.stdout.readline())
        self.key = ready["key"]
        self.regions = ready["regions"]
        url = urllib.parse.urlparse(ready["global"])
        self.host, self.port = url.hostname, url.port
        self.pid = int(
            subprocess.check_output(["pgrep", "-P", str(self.proc.pid)]).split()[0]
        )

    def rss_mib(self):
        with open(f"/proc/{self.pid}/status") as status:
            kb = int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))
        return round(kb / 1024, 1)

    def stop(self):
        """SIGTERM; the peak RSS (MiB) from /usr/bin/time."""
        try:
            import os

            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        _, err = self.proc.communicate(timeout=30)
        peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
        return round(int(peak.group(1)) / 1024, 1) if peak else None


def date():
    return email.utils.formatdate(usegmt=True)


def sign(key, verb, kind, link, when):
    text = f"{verb.lower()}\n{kind}\n{link}\n{when.lower()}\n\n".encode()
    sig = base64.b64encode(
        hmac.new(base64.b64decode(key), text, hashlib.sha256).digest()
    ).decode()
    return urllib.parse.quote(f"type=master&ver=1.0&sig={sig}", safe="")


def signed_headers(key, verb, kind, link, extra=None):
    when = date()
    headers = {"x-ms-date": when, "authorization": sign(key, verb, kind, link, when)}
    headers.update(extra or {})
    return headers


class Client:
    """A keep-alive HTTP/1.1 client that signs every request."""

    def __init__(self, em, port=None, timeout=120):
        self.em = em
        self.conn = http.client.HTTPConnection(em.host, port or em.port, timeout=timeout)

    def call(self, verb, path, kind, link, body=None, headers=None):
        raw = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        self.conn.request(
            verb, path, body=raw, headers=signed_headers(self.em.key, verb, kind, link, headers)
        )
        response = self.conn.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), data

    def setup(self):
        self.call("POST", "/dbs", "dbs", "", {"id": "db"})
        self.call(
            "POST",
            "/dbs/db/colls",
            "colls",
            "dbs/db",
            {"id": "c", "partitionKey": {"paths": ["/pk"], "kind": "Hash"}},
        )

    def upsert(self, item, pk="p"):
        return self.call(
            "POST",
            "/dbs/db/colls/c/docs",
            "docs",
            "dbs/db/colls/c",
            item,
            {"x-ms-documentdb-partitionkey": json.dumps([pk]), "x-ms-documentdb-is-upsert": "true"},
        )

    def read(self, item_id, pk="p"):
        link = f"dbs/db/colls/c/docs/{item_id}"
        return self.call(
            "GET", "/" + link, "docs", link, None, {"x-ms-documentdb-partitionkey": json.dumps([pk])}
        )

    def query(self, body, extra=None):
        headers = {
            "x-ms-documentdb-isquery": "True",
            "content-type": "application/query+json",
            "x-ms-documentdb-query-enablecrosspartition": "True",
        }
        headers.update(extra or {})
        return self.call("POST", "/dbs/db/colls/c/docs", "docs", "dbs/db/colls/c", body, headers)

    def admin(self, verb, path, body=None):
        raw = None if body is None else json.dumps(body).encode()
        self.conn.request(verb, "/_emulator/" + path, body=raw)
        response = self.conn.getresponse()
        return response.status, response.read()


def probe_methods(binary):
    em = Emulator(binary)
    method = "X" * 65_000
    sock = socket.create_connection((em.host, em.port))
    reader = sock.makefile("rb")
    statuses = {}
    for i in range(12_000):
        sock.sendall(f"{method}{i} /dbs/db HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status = int(reader.readline().split()[1])
        length = 0
        while True:
            line = reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length"):
                length = int(line.split(b":")[1])
        reader.read(length)
        statuses[status] = statuses.get(status, 0) + 1
    rss = em.rss_mib()
    _, stats = Client(em).admin("GET", "stats")
    return em, {"statuses": statuses, "rss_after_mib": rss, "stats_bytes": len(stats)}


def probe_idle_h2(binary):
    em = Emulator(binary, "--max-connections", "100", "--idle-timeout", "2s")
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    socks = []
    for _ in range(100):
        s = socket.create_connection((em.host, em.port))
        s.sendall(preface)
        socks.append(s)
    stop = threading.Event()

    def ping():
        frame = b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + b"12345678"
        while not stop.is_set():
            for s in socks:
                try:
                    s.sendall(frame)
                except OSError:
                    pass
            time.sleep(0.5)

    threading.Thread(target=ping, daemon=True).start()
    time.sleep(0.5)
    start = time.monotonic()
    status, _, _ = Client(em, timeout=90).call("GET", "/", "", "")
    waited = round(time.monotonic() - start, 1)
    stop.set()
    closed = 0
    for s in socks:
        s.settimeout(0.1)
        try:
            if s.recv(65536) == b"":
                closed += 1
        except (socket.timeout, OSError):
            pass
    return em, {"signed_get_status": status, "waited_s": waited}


def probe_param_query(binary):
    em = Emulator(binary)
    client = Client(em)
    client.setup()
    client.upsert({"id": "a", "pk": "p"})
    big = "x" * (1_900 * 1024)
    refs = ", ".join(["@p"] * 4000)
    body = {"query": f"SELECT VALUE [{refs}] FROM c", "parameters": [{"name": "@p", "value": big}]}
    start = time.monotonic()
    status, _, data = client.query(body)
    took = round(time.monotonic() - start, 2)
    plan_status, _, plan = client.query(body, {"x-ms-cosmos-is-query-plan-request": "True"})
    return em, {
        "query_status": status,
        "query_s": took,
        "message": json.loads(data).get("message", "")[:80],
        "plan_status": plan_status,
        "plan_bytes": len(plan),
    }


def probe_long_query(binary):
    em = Emulator(binary)
    client = Client(em)
    client.setup()
    for n in range(20_000):
        client.upsert({"id": str(n), "pk": "p", "n": n})
    results = {}
    for name, text in [
        ("in_2000", "SELECT * FROM c WHERE -1 IN (" + ", ".join(["c.n"] * 2000) + ")"),
        ("order_by_2000", "SELECT * FROM c ORDER BY " + ", ".join(["c.n"] * 2000)),
    ]:
        reads = []
        done = threading.Event()

        def reader():
            other = Client(em, timeout=5)
            while not done.is_set():
                start = time.monotonic()
                try:
                    other.read("7")
                    reads.append(time.monotonic() - start)
                except OSError:
                    reads.append(None)
                    other = Client(em, timeout=5)

        thread = threading.Thread(target=reader)
        thread.start()
        start = time.monotonic()
        status, _, data = Client(em).query({"query": text})
        took = round(time.monotonic() - start, 2)
        done.set()
        thread.join()
        ok = [r for r in reads if r is not None]
        results[name] = {
            "status": status,
            "query_s": took,
            "point_reads": len(reads),
            "timeouts": len(reads) - len(ok),
            "max_read_ms": round(max(ok) * 1000, 1) if ok else None,
        }
    return em, results


def probe_binary_body(binary):
    em = Emulator(binary)
    client = Client(em)
    client.setup()
    block = bytes([0xF3, 0xF1, 0xD7, 0, 0, 0xFF, 0xFF])
    members = bytes([0x2C, 0x81, ord("a"), 0x82, ord("p"), ord("k"), 0x81, ord("p"), 0x81, ord("x")])
    count = (2 * 1024 * 1024 - 32) // 7
    array = bytes([0xE4]) + (count * 7).to_bytes(4, "little") + block * count
    obj = members + array
    body = bytes([0x80, 0xEC]) + len(obj).to_bytes(4, "little") + obj
    statuses = []

    def send():
        c = Client(em)
        statuses.append(
            c.call(
                "POST", "/dbs/db/colls/c/docs", "docs", "dbs/db/colls/c", body,
                {"x-ms-documentdb-partitionkey": '["p"]'},
            )[0]
        )

    threads = [threading.Thread(target=send) for _ in range(2)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return em, {"body_bytes": len(body), "statuses": statuses, "s": round(time.monotonic() - start, 2)}


def h2_connection(em, window=None):
    import h2.config
    import h2.connection

    sock = socket.create_connection((em.host, em.port))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    if window is not None:
        conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
    sock.sendall(conn.data_to_send())
    return sock, conn


def h2_headers(em, verb, path, kind, link, extra=None):
    headers = [(":method", verb), (":path", path), (":scheme", "http"), (":authority", "x")]
    headers += list(signed_headers(em.key, verb, kind, link, extra).items())
    return headers


def stats_memory(em):
    return json.loads(Client(em).admin("GET", "stats")[1])["memory"]


def probe_h2_bodies(binary):
    import h2.events
    import h2.exceptions

    em = Emulator(binary)
    conns = []
    opened = refused = 0
    for _ in range(8):
        sock, conn = h2_connection(em)
        sock.settimeout(0.05)
        streams = []
        for _ in range(200):
            sid = conn.get_next_available_stream_id()
            try:
                conn.send_headers(sid, h2_headers(em, "POST", "/dbs/db/colls/c/docs", "docs",
                                                  "dbs/db/colls/c", {"x-ms-documentdb-partitionkey": '["p"]'}))
            except h2.exceptions.TooManyStreamsError:
                break
            streams.append([sid, 2 * 1024 * 1024 - 1])
            opened += 1
        sock.sendall(conn.data_to_send())
        conns.append((sock, conn, streams))
    deadline = time.monotonic() + 10
    peak_in_use = 0
    while time.monotonic() < deadline:
        for sock, conn, streams in conns:
            for stream in streams:
                sid, left = stream
                try:
                    room = min(left, conn.local_flow_control_window(sid), 16384)
                except (h2.exceptions.StreamClosedError, KeyError):
                    continue
                if room > 0:
                    try:
                        conn.send_data(sid, b" " * room)
                        stream[1] -= room
                    except h2.exceptions.ProtocolError:
                        pass
            try:
                sock.sendall(conn.data_to_send())
                data = sock.recv(1 << 20)
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.ResponseReceived):
                        refused += 1
                sock.sendall(conn.data_to_send())
            except (socket.timeout, BlockingIOError):
                pass
            except OSError:
                pass
        peak_in_use = max(peak_in_use, stats_memory(em)["in_use"])
    memory = stats_memory(em)
    rss = em.rss_mib()
    for sock, _, _ in conns:
        sock.close()
    return em, {"streams_opened": opened, "answered_while_open": refused, "rss_open_mib": rss,
                "budget_in_use_max_mib": round(peak_in_use / 2**20, 1), "memory": memory}


def probe_h2_stalled(binary):
    em = Emulator(binary)
    client = Client(em)
    client.setup()
    big = "x" * 1_860_000
    for n in range(100):
        client.upsert({"id": str(n), "pk": "p", "x": big})
    sock, conn = h2_connection(em, window=0)
    opened = 0
    for _ in range(200):
        try:
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, h2_headers(em, "GET", "/dbs/db/colls/c/docs", "docs", "dbs/db/colls/c",
                                              {"x-ms-max-item-count": "100"}), end_stream=True)
            opened += 1
        except Exception:
            break
    sock.sendall(conn.data_to_send())
    time.sleep(5)
    memory = stats_memory(em)
    rss = em.rss_mib()
    sock.close()
    return em, {"streams": opened, "rss_stalled_mib": rss, "budget_in_use_mib": round(memory["in_use"] / 2**20, 1)}


def probe_patch(binary):
    em = Emulator(binary)
    client = Client(em)
    client.setup()
    client.upsert({"id": "a", "pk": "p"})
    statuses = []
    for i in range(12):
        link = "dbs/db/colls/c/docs/a"
        body = {"operations": [{"op": "add", "path": f"/f{i}", "value": "y" * 1_800_000}]}
        statuses.append(client.call("PATCH", "/" + link, "docs", link, body,
                                    {"x-ms-documentdb-partitionkey": '["p"]'})[0])
    size = len(client.read("a")[2])
    return em, {"statuses": statuses, "item_bytes": size}


def probe_replication(binary):
    em = Emulator(binary, "--replication-lag-ms", "3600000")
    client = Client(em)
    client.setup()
    rounds, statuses = [], {}
    for r in range(48):
        start = time.monotonic()
        for n in range(1000):
            status = client.upsert({"id": str(r * 1000 + n), "pk": "p"})[0]
            statuses[status] = statuses.get(status, 0) + 1
        rounds.append(round(time.monotonic() - start, 2))
    log = json.loads(client.admin("GET", "replication")[1])["log_entries"]
    # Lagging point reads over 50,000 items.
    em2 = Emulator(binary)
    c2 = Client(em2)
    c2.setup()
    for n in range(50_000):
        c2.upsert({"id": str(n), "pk": "p"})
    c2.admin("POST", "replication", {"region": "East US", "lag_ms": 3_600_000})
    c2.upsert({"id": "7", "pk": "p", "n": 1})
    east = urllib.parse.urlparse(em2.regions["East US"]).port
    reader = Client(em2, port=east)
    start = time.monotonic()
    for _ in range(100):
        reader.read("7")
    per_read = round((time.monotonic() - start) * 10, 2)
    peak2 = em2.stop()
    return em, {"round_s_first_last": [rounds[0], rounds[-1]], "statuses": statuses, "log": log,
                "lagging_point_read_ms": per_read, "peak_rss_50k_mib": peak2}


def probe_minor(binary):
    em = Emulator(binary)
    client = Client(em)
    client.setup()
    out = {}
    out["region_1mib"] = client.admin("POST", "regions", {"name": "r" * (1 << 20)})[0]
    out["region_global"] = client.admin("POST", "regions", {"name": "global"})[0]
    client.upsert({"id": "a", "pk": "p", "n": 1.7e308})
    link = "dbs/db/colls/c/docs/a"
    out["incr_overflow"] = client.call("PATCH", "/" + link, "docs", link,
                                       {"operations": [{"op": "incr", "path": "/n", "value": 1.7e308}]},
                                       {"x-ms-documentdb-partitionkey": '["p"]'})[0]
    out["literal_1e999"] = client.query({"query": "SELECT VALUE 1e999 FROM c"})[0]
    return em, out


PROBES = {name[6:]: fn for name, fn in globals().items() if name.startswith("probe_")}


def main():
    binary, names = sys.argv[1], sys.argv[2:]
    if names == ["all"]:
        names = list(PROBES)
    for name in names:
        em, result = PROBES[name](binary)
        result["peak_rss_mib"] = em.stop()
        print(json.dumps({"probe": name, **result}), flush=True)


if __name__ == "__main__":
    main()
