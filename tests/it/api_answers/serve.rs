//! Finding 1 through `mapsync serve`: a record the API refuses inside a 202 is dead-lettered
//! at once when its class is `permanent`, and retried (not dead-lettered) when an error rule
//! calls it `transient`. Deliveries list home ids: `{"ids": ["p1", "p2"]}`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Dir, Fake, mapping};

const TOKEN: &str = "a-long-random-webhook-token-0123456789";

fn with_webhook() -> String {
    let out = mapping(false).replace(
        "    update: { path: \"/people/{{ id }}\" }\n",
        &format!(
            "    update: {{ path: \"/people/{{{{ id }}}}\" }}\n    read: {{ path: \"/people/{{{{ id }}}}\" }}\n    webhook:\n      path: /webhooks/home\n      verify: {{ token: {{ in: header, name: X-Token, secrets: [{TOKEN}] }} }}\n      events: $.ids[*]\n      record_id: $\n"
        ),
    );
    assert!(
        out.contains("/webhooks/home"),
        "the people collection moved"
    );
    out
}

/// Kills the server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dead_letters(dir: &Dir, fake: &Fake) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args(["dead-letters", "--mapping"])
        .arg(&dir.mapping)
        .args(["list", "--json"])
        .current_dir(dir.dir.path())
        .env_clear()
        .env("HOME_URL", &fake.url)
        .env("CRM_URL", &fake.url)
        .output()
        .expect("run mapsync dead-letters");
    let text = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(Value::Array(a)) => a,
        Ok(other) => other["dead_letters"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_dead_letters_a_permanent_per_record_refusal_and_retries_a_transient_one() {
    let fake = Fake::start(&[
        ("p1", "Ada", "ada-refuse@example.com"),
        ("p2", "Bob", "bob-busy@example.com"),
    ])
    .await;
    let dir = Dir::new(&with_webhook());
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapsync"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--mapping",
        ])
        .arg(&dir.mapping)
        .current_dir(dir.dir.path())
        .env_clear()
        .env("HOME_URL", &fake.url)
        .env("CRM_URL", &fake.url)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mapsync serve");
    let stdout = child.stdout.take().expect("stdout");
    let _server = Server(child);
    let base = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(addr) = line.trim().strip_prefix("Listening on ") {
                let addr = addr.to_string();
                std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
                return addr;
            }
            line.clear();
        }
        panic!("mapsync serve ended before listening");
    })
    .await
    .expect("read the address");
    let base = if base.starts_with("http") {
        base
    } else {
        format!("http://{base}")
    };

    mapsync::init_crypto();
    let answer = reqwest::Client::new()
        .post(format!("{base}/webhooks/home"))
        .header("X-Token", TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"ids": ["p1", "p2"]}"#)
        .send()
        .await
        .expect("deliver");
    assert!(answer.status().is_success(), "{answer:?}");

    // Poll under a deadline until the permanent refusal is a dead letter and the transient
    // one was tried (a transient failure waits a backoff of 1 s, doubling, before its next
    // attempt, and becomes a dead letter only after 8).
    let deadline = Instant::now() + Duration::from_secs(20);
    let tried = || {
        fake.data
            .lock()
            .unwrap()
            .attempts
            .iter()
            .any(|a| a.contains("busy"))
    };
    let letters = loop {
        let letters = dead_letters(&dir, &fake);
        if !letters.is_empty() && tried() || Instant::now() > deadline {
            break letters;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let keys: Vec<String> = letters
        .iter()
        .map(|l| l["record_key"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(keys, ["p1"], "{letters:#?}");
    let text = letters[0].to_string();
    assert!(text.contains("INVALID_DATA"), "{text}");
    let attempts = fake.data.lock().unwrap().attempts.clone();
    // Refused for good on its first attempt; the transient one was tried and is not a dead
    // letter; nothing was ever created.
    assert_eq!(
        attempts.iter().filter(|a| a.contains("refuse")).count(),
        1,
        "{attempts:?}"
    );
    assert!(attempts.iter().any(|a| a.contains("busy")), "{attempts:?}");
    assert!(fake.contacts().is_empty());
    assert!(fake.people().values().all(|p| p["crm_id"].is_null()));
}
