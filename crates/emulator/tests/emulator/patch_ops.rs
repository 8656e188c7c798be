//! PATCH `move` and `copy`, as the service answers them.

use serde_json::json;

use crate::client::Items;
use crate::data_plane::setup;
use crate::start;

#[tokio::test]
async fn patch_move_and_copy_follow_the_services_rules() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let items = Items::new(&client, &base, "p1");
    let item = json!({"id": "a", "pk": "p1", "color": "red", "n": 1,
        "nested": {"x": 1}, "list": [1, 2, 3]});
    assert_eq!(items.create(item).await.status, 201);

    // A move removes `from` and adds its value at `path`, replacing what was there, in
    // objects and arrays alike; later operations see the moved value.
    let ops = json!({"operations": [
        {"op": "move", "from": "/color", "path": "/favorite"},
        {"op": "move", "from": "/n", "path": "/nested/x"},
        {"op": "move", "from": "/list/0", "path": "/list/-"},
        {"op": "set", "path": "/seen", "value": true},
    ]});
    let moved = items.patch("a", &[], ops).await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    let body = moved.json();
    assert_eq!(body.get("color"), None);
    assert_eq!(body.get("n"), None);
    assert_eq!(
        (&body["favorite"], &body["nested"], &body["list"]),
        (&json!("red"), &json!({"x": 1}), &json!([2, 3, 1]))
    );

    let refused = [
        // `from` must exist.
        json!({"op": "move", "from": "/missing", "path": "/other"}),
        json!({"op": "move", "from": "/list/9", "path": "/other"}),
        // Nothing moves into its own child.
        json!({"op": "move", "from": "/nested", "path": "/nested/inner"}),
        // `from` is required, and may not be the id, the partition key or a system property.
        json!({"op": "move", "path": "/other"}),
        json!({"op": "move", "from": "/pk", "path": "/other"}),
        json!({"op": "move", "from": "/id", "path": "/other"}),
        json!({"op": "move", "from": "/_etag", "path": "/other"}),
        json!({"op": "move", "from": "/favorite", "path": "/pk"}),
        // The service implements neither `copy` nor `test` (partial document update FAQ).
        json!({"op": "copy", "from": "/favorite", "path": "/other"}),
        json!({"op": "test", "path": "/favorite", "value": "red"}),
    ];
    for op in refused {
        // A refused move after a valid one: nothing of the patch applies.
        let ops = json!({"operations": [{"op": "set", "path": "/partial", "value": 1}, op]});
        let reply = items.patch("a", &[], ops).await;
        assert_eq!(reply.status, 400, "{op}: {:?}", reply.body);
    }
    let read = items.read("a").await.json();
    assert_eq!(read.get("partial"), None, "a refused patch applies nothing");
    assert_eq!(read["favorite"], "red");
    assert_eq!(read.get("other"), None);
}
