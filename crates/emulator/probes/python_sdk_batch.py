#!/usr/bin/env python3
"""Issue #26's interop probe: the official Python SDK (azure-cosmos 4.17.1) against a running
emulator — transactional batch (limits, six kinds, 409/400/412 with 424s) and PATCH `move`,
the scenarios of the SDK's test_transactional_batch.py and test_crud.py, written anew.

Usage: python_sdk_batch.py <global endpoint> <key>   (pip install azure-cosmos==4.17.1)
e.g. start `meridian-emulator --port 0 --regions "West US"` and pass its ready line's
`global` and `key`. Prints PASS/FAIL per check; exits 1 on any failure.
"""
import sys, uuid
from azure.cosmos import CosmosClient, PartitionKey, exceptions
from azure.cosmos.http_constants import StatusCodes

host, key = sys.argv[1], sys.argv[2]
client = CosmosClient(host, key)
db = client.create_database_if_not_exists("py")
c = db.create_container(id="batch" + str(uuid.uuid4()), partition_key=PartitionKey(path="/company"))
results = []

def check(name, cond):
    results.append((name, bool(cond)))
    print(("PASS " if cond else "FAIL ") + name)

# empty and >100
for ops, text in [([], "Batch request has no operations."),
                  ([("create", ({"id": f"i{i}", "company": "M"},)) for i in range(101)],
                   "Batch request has more operations than what is supported.")]:
    try:
        c.execute_item_batch(batch_operations=ops, partition_key="M")
        check(f"refused {len(ops)}", False)
    except exceptions.CosmosHttpResponseError as e:
        check(f"refused {len(ops)}: 400 + message", e.status_code == 400 and text in e.message)

r = c.execute_item_batch(batch_operations=[("create", ({"id": f"i{i}", "company": "M"},)) for i in range(100)], partition_key="M")
check("100 creates", len(r) == 100 and all(x["statusCode"] == 201 for x in r))

dup = str(uuid.uuid4())
try:
    c.execute_item_batch(batch_operations=[("create", ({"id": dup, "company": "M"},)), ("create", ({"id": dup, "company": "M"},))], partition_key="M")
    check("duplicate create fails", False)
except exceptions.CosmosBatchOperationError as e:
    codes = [x.get("statusCode") for x in e.operation_responses]
    check("duplicate create: 409 at 1, 424 at 0", e.status_code == 409 and e.error_index == 1 and codes == [424, 409])

try:
    c.execute_item_batch(batch_operations=[("create", ({"id": str(uuid.uuid4()), "company": "M"},)), ("create", ({"id": str(uuid.uuid4()), "company": "Not-M"},))], partition_key="M")
    check("wrong pk fails", False)
except exceptions.CosmosBatchOperationError as e:
    check("wrong pk: 400 at 1", e.status_code == 400 and e.error_index == 1)

for i, iid in enumerate(["read_item", "replace_item", "patch_item", "delete_item"]):
    c.upsert_item({"id": iid, "company": "M", "value": 0})
etag = c.read_item("replace_item", partition_key="M")["_etag"]
ops = [("create", ({"id": "create_item", "company": "M"},)),
       ("replace", ("replace_item", {"id": "replace_item", "company": "M", "value": True}), {"if_match_etag": etag}),
       ("upsert", ({"id": "upsert_item", "company": "M"},)),
       ("patch", ("patch_item", [{"op": "add", "path": "/favorite_color", "value": "red"}])),
       ("read", ("read_item",)),
       ("delete", ("delete_item",))]
r = c.execute_item_batch(batch_operations=ops, partition_key="M")
check("six kinds", [x["statusCode"] for x in r] == [201, 200, 201, 200, 200, 204])
check("patched body", r[3]["resourceBody"]["favorite_color"] == "red")
try:
    c.execute_item_batch(batch_operations=[("read", ("read_item",)), ("replace", ("replace_item", {"id": "replace_item", "company": "M"}), {"if_match_etag": etag}), ("read", ("read_item",))], partition_key="M")
    check("stale etag fails", False)
except exceptions.CosmosBatchOperationError as e:
    codes = [x.get("statusCode") for x in e.operation_responses]
    check("stale etag: 412 at 1, 424 around", e.status_code == 412 and e.error_index == 1 and codes == [424, 412, 424])

# patch move
c.create_item({"id": "p", "company": "M", "color": "yellow", "prop": 1})
p = c.patch_item(item="p", partition_key="M", patch_operations=[{"op": "move", "from": "/color", "path": "/favorite_color"}])
check("patch move", p.get("color") is None and p["favorite_color"] == "yellow")
try:
    c.patch_item(item="p", partition_key="M", patch_operations=[{"op": "move", "from": "/wrong_field", "path": "/other_field"}])
    check("move from missing fails", False)
except exceptions.CosmosHttpResponseError as e:
    check("move from missing: 400", e.status_code == 400)

failed = [n for n, ok in results if not ok]
print(f"{len(results) - len(failed)}/{len(results)} passed")
sys.exit(1 if failed else 0)
