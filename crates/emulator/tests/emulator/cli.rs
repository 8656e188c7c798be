//! The binary: one JSON ready line, a working endpoint, clean exit on SIGTERM.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::child::{ready_line, spawn};
use crate::client::{ACCOUNT, TestClient};

#[tokio::test]
async fn the_ready_line_describes_live_endpoints_and_sigterm_exits_cleanly() {
    let mut child = spawn(&[
        "--port",
        "0",
        "--regions",
        "West US,East US",
        "--write-region",
        "East US",
    ]);
    let line = ready_line(&mut child);
    let ready: Value = serde_json::from_str(&line).expect("the ready line is JSON");
    let global = ready["global"].as_str().unwrap();
    assert!(global.starts_with("http://127.0.0.1:"));
    assert_eq!(ready["regions"].as_object().unwrap().len(), 2);
    let key = ready["key"].as_str().unwrap();

    let client = TestClient::new(key);
    let doc = client.get(global, ACCOUNT).await.json();
    assert_eq!(doc["writableLocations"][0]["name"], "East US");
    let east = ready["regions"]["East US"].as_str().unwrap();
    assert_eq!(client.get(east, ACCOUNT).await.status, 200);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit within 10 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
}

#[test]
fn help_and_bad_arguments() {
    let help = Command::new(env!("CARGO_BIN_EXE_meridian-emulator"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--regions",
        "--port",
        "--write-region",
        "--multi-write",
        "--key",
        "--bind",
        "--tls",
    ] {
        assert!(text.contains(flag), "--help lists {flag}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_meridian-emulator"))
        .args(["--port", "0", "--key", "not base64!"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("base64"));
}

#[test]
fn tls_mode_names_the_certificate_in_the_ready_line() {
    let mut child = spawn(&["--port", "0", "--tls"]);
    let line = ready_line(&mut child);
    let _ = child.kill();
    let _ = child.wait();
    let ready: Value = serde_json::from_str(&line).unwrap();
    assert!(ready["global"].as_str().unwrap().starts_with("https://"));
    let pem = std::fs::read_to_string(ready["certificate"].as_str().unwrap()).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
}

#[tokio::test]
async fn outage_shapes_can_be_set_from_the_command_line() {
    let mut child = spawn(&[
        "--port",
        "0",
        "--regions",
        "West US,East US",
        "--outage",
        "East US=unavailable",
        "--outage",
        r#"West US={"shape":"slow","delay_ms":1,"applies_to":"writes"}"#,
    ]);
    let ready: Value = serde_json::from_str(&ready_line(&mut child)).unwrap();
    let client = TestClient::new(ready["key"].as_str().unwrap());
    let east = ready["regions"]["East US"].as_str().unwrap();
    let west = ready["regions"]["West US"].as_str().unwrap();
    assert_eq!(client.get(east, ACCOUNT).await.status, 503);
    assert_eq!(client.get(west, ACCOUNT).await.status, 200);
    let _ = child.kill();
    let _ = child.wait();
}
