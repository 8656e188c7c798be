//! `--entra`: Entra ID tokens the emulator minted are accepted for the data plane; expired,
//! foreign-signed or wrong-audience tokens are 401; control-plane writes are 403.

use http::Method;
use meridian_emulator::{Emulator, EntraClaims, LOCAL_AUTH_DISABLED, RBAC_OPERATION_NOT_SUPPORTED};
use serde_json::json;

use crate::admin_url;
use crate::client::{COLLECTIONS, DATABASES, TestClient, now_date};

fn aad(token: &str) -> String {
    let raw = format!("type=aad&ver=1.0&sig={token}");
    percent_encoding::utf8_percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The status and sub-status of `method` on `url` signed with `token`.
async fn with_token(
    client: &TestClient,
    method: Method,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, Option<u32>) {
    let date = now_date();
    let authorization = aad(token);
    let headers = [
        ("authorization", authorization.as_str()),
        ("x-ms-date", date.as_str()),
    ];
    let reply = client
        .send(method, url, None, &headers, body)
        .await
        .unwrap();
    (reply.status.as_u16(), reply.sub_status())
}

#[tokio::test]
async fn emulator_refuses_an_expired_or_foreign_entra_token() {
    let emulator = Emulator::builder().entra(true).start().await.unwrap();
    let foreign = Emulator::builder().entra(true).start().await.unwrap();
    let client = TestClient::new(emulator.key());
    let account = emulator.global_endpoint();
    let token = |claims: EntraClaims| emulator.entra_token(&claims).unwrap();

    // Valid, for the Cosmos audience and for the account's own URL: 200.
    let valid = token(EntraClaims::default());
    assert_eq!(
        with_token(&client, Method::GET, &account, &valid, None)
            .await
            .0,
        200
    );
    let own = token(EntraClaims::default().audience(account.trim_end_matches('/')));
    assert_eq!(
        with_token(&client, Method::GET, &account, &own, None)
            .await
            .0,
        200
    );
    // Expired, signed by another issuer, for another audience: 401, each with its sub-status.
    let expired = token(EntraClaims::default().expires_in_secs(-5));
    assert_eq!(
        with_token(&client, Method::GET, &account, &expired, None).await,
        (401, Some(5006))
    );
    let foreign_token = foreign.entra_token(&EntraClaims::default()).unwrap();
    assert_eq!(
        with_token(&client, Method::GET, &account, &foreign_token, None).await,
        (401, Some(5004))
    );
    let storage = token(EntraClaims::default().audience("https://storage.azure.com"));
    assert_eq!(
        with_token(&client, Method::GET, &account, &storage, None).await,
        (401, Some(5008))
    );

    // Control-plane writes with a valid token: 403 / 5300; with the key they still work.
    let dbs = format!("{account}dbs");
    assert_eq!(
        with_token(
            &client,
            Method::POST,
            &dbs,
            &valid,
            Some(json!({"id": "db"}))
        )
        .await,
        (403, Some(RBAC_OPERATION_NOT_SUPPORTED))
    );
    let created = client
        .signed(Method::POST, &dbs, DATABASES, Some(json!({"id": "db"})))
        .await;
    assert_eq!(created.status.as_u16(), 201);
    let colls = format!("{account}dbs/db/colls");
    let container = json!({"id": "c", "partitionKey": {"paths": ["/pk"], "kind": "Hash"}});
    assert_eq!(
        with_token(
            &client,
            Method::POST,
            &colls,
            &valid,
            Some(container.clone())
        )
        .await,
        (403, Some(RBAC_OPERATION_NOT_SUPPORTED))
    );
    let created = client
        .signed(Method::POST, &colls, COLLECTIONS, Some(container))
        .await;
    assert_eq!(created.status.as_u16(), 201);
    // Reading the control plane and writing items is allowed to the token.
    assert_eq!(
        with_token(&client, Method::GET, &colls, &valid, None)
            .await
            .0,
        200
    );
    let date = now_date();
    let authorization = aad(&valid);
    let reply = client
        .send(
            Method::POST,
            &format!("{colls}/c/docs"),
            None,
            &[
                ("authorization", authorization.as_str()),
                ("x-ms-date", date.as_str()),
                ("x-ms-documentdb-partitionkey", "[\"a\"]"),
            ],
            Some(json!({"id": "1", "pk": "a"})),
        )
        .await
        .unwrap();
    assert_eq!(reply.status.as_u16(), 201);

    // The published key set and the mint are on the admin API.
    let jwks = client
        .admin(Method::GET, &admin_url(&emulator, "entra/jwks"), None)
        .await;
    assert_eq!(jwks.json()["keys"][0]["alg"], "ES256");
    let minted = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "entra/token"),
            Some(json!({"expires_in_secs": 60})),
        )
        .await;
    let minted = minted.json()["token"].as_str().unwrap().to_string();
    assert_eq!(
        with_token(&client, Method::GET, &account, &minted, None)
            .await
            .0,
        200
    );

    // Without `--entra`, a token is refused like any bad signature.
    let plain = Emulator::builder().start().await.unwrap();
    let status = with_token(&client, Method::GET, &plain.global_endpoint(), &valid, None).await;
    assert_eq!(status.0, 401);
    assert!(plain.entra_token(&EntraClaims::default()).is_none());
}

#[tokio::test]
async fn disabled_keys_leave_only_entra_tokens() {
    let emulator = Emulator::builder()
        .entra(true)
        .disable_keys(true)
        .start()
        .await
        .unwrap();
    let client = TestClient::new(emulator.key());
    let account = emulator.global_endpoint();
    let key_signed = client.get(&account, crate::client::ACCOUNT).await;
    assert_eq!(
        (key_signed.status.as_u16(), key_signed.sub_status()),
        (401, Some(LOCAL_AUTH_DISABLED))
    );
    let valid = emulator.entra_token(&EntraClaims::default()).unwrap();
    assert_eq!(
        with_token(&client, Method::GET, &account, &valid, None)
            .await
            .0,
        200
    );
    // The admin API needs no key either way.
    let jwks = client
        .admin(Method::GET, &admin_url(&emulator, "entra/jwks"), None)
        .await;
    assert_eq!(jwks.status.as_u16(), 200);
    // Keys cannot be disabled without Entra: nothing could authenticate.
    assert!(
        Emulator::builder()
            .disable_keys(true)
            .start()
            .await
            .is_err()
    );
}
