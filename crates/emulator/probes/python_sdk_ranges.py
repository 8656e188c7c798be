"""The official Python SDK (azure-cosmos 4.17.1) over the emulator's partition key ranges:
a container with two physical partitions (20,000 RU/s), cross-partition queries, the change
feed and point reads before and after a split and a merge (admin API), so the SDK must
follow 410/1007 and 410/1002 by refreshing its routing map.

    python python_sdk_ranges.py <global endpoint> <key>
"""
import json
import sys
import urllib.request
import uuid

from azure.cosmos import CosmosClient, PartitionKey

host, key = sys.argv[1], sys.argv[2]
results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else f" ({detail})"))


def admin(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    method = "GET" if body is None else "POST"
    req = urllib.request.Request(host.rstrip("/") + "/_emulator/" + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=5) as r:
        text = r.read()
        return json.loads(text) if text else None


client = CosmosClient(host, key)
db = client.create_database_if_not_exists("ranges")
name = "c" + uuid.uuid4().hex[:8]
c = db.create_container(id=name, partition_key=PartitionKey(path="/pk"), offer_throughput=20000)
ranges = admin(f"partitions/ranges/{name}")
check("20,000 RU/s gives two ranges", [r["id"] for r in ranges] == ["0", "1"], ranges)
for i in range(40):
    c.upsert_item({"id": f"i{i}", "pk": f"p{i}", "n": i})
every = {f"i{i}" for i in range(40)}


def all_checks(when):
    ids = {d["id"] for d in c.query_items("SELECT * FROM c", enable_cross_partition_query=True)}
    check(f"{when}: cross-partition query sees every item once", ids == every, len(ids))
    ns = [d["n"] for d in c.query_items("SELECT c.n FROM c ORDER BY c.n DESC",
                                         enable_cross_partition_query=True)]
    check(f"{when}: ORDER BY merges the ranges", ns == list(range(39, -1, -1)), ns[:5])
    count = list(c.query_items("SELECT VALUE COUNT(1) FROM c", enable_cross_partition_query=True))
    check(f"{when}: COUNT sums the ranges", count == [40], count)
    feed = {d["id"] for d in c.query_items_change_feed(start_time="Beginning")}
    check(f"{when}: change feed from the beginning", feed == every, len(feed))
    reads = all(c.read_item(f"i{i}", f"p{i}")["n"] == i for i in (0, 13, 39))
    check(f"{when}: point reads", reads)


all_checks("two ranges")
split = admin(f"partitions/ranges/{name}/split", {"range": "0", "window_ms": 200})
check("split", split["children"] == ["2", "3"], split)
all_checks("after a split")
merged = admin(f"partitions/ranges/{name}/merge", {"ranges": ["3", "1"], "window_ms": 0})
check("merge", "merged" in merged, merged)
all_checks("after a merge")
print(f"{sum(results)}/{len(results)} pass")
sys.exit(0 if all(results) else 1)
