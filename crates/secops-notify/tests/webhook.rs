//! The webhook against a real HTTP listener on loopback: Slack and JSON
//! bodies, retries with backoff, a hung server, and the URL (a secret,
//! token in its path) never appearing in any output.

mod support;

use secops_testkit::{closed_port, of_kind, records, stderr};
use serde_json::Value;
use support::*;

const TOKEN_PATH: &str = "/services/T0ABC/B0DEF/SeCrEtToKeN0123456789";

fn notify(url: &str, state: &std::path::Path, extra: &[&str], input: &str) -> std::process::Output {
    let mut args = vec![
        "--webhook-url-env",
        "NOTIFY_TEST_HOOK",
        "--state-dir",
        state.to_str().unwrap(),
        "--fail-on",
        "critical",
    ];
    args.extend_from_slice(extra);
    run_env(&args, input, &[("NOTIFY_TEST_HOOK", url)])
}

#[test]
fn slack_body_is_one_text_message_at_the_secret_path() {
    let http = Http::start(&[200]);
    let state = tempfile::tempdir().unwrap();
    let out = notify(
        &http.url(TOKEN_PATH),
        state.path(),
        &[],
        &(disk_alert("/var", 93, "high") + &disk_alert("/srv", 95, "high")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = http.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, TOKEN_PATH);
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("*[secops] HIGH: 2 alerts on web1: /var is 93% full"),
        "{text}"
    );
    assert!(text.contains("- [high] web1 disk-alert disk.alert: /srv is 95% full"));
    assert_eq!(body.as_object().unwrap().len(), 1, "Slack wants only text");
    let recs = records(&out.stdout);
    let sent = of_kind(&recs, "notify.sent");
    assert_eq!(
        sent[0]["target"],
        format!("webhook http://127.0.0.1:{}/…", http.port)
    );
}

#[test]
fn json_body_carries_the_records() {
    let http = Http::start(&[200]);
    let state = tempfile::tempdir().unwrap();
    let out = notify(
        &http.url("/hook"),
        state.path(),
        &["--webhook-format", "json", "--min-severity", "medium"],
        &(disk_alert("/var", 85, "medium")
            + &record(
                "fim-check",
                "fim.changed",
                "critical",
                "/etc/passwd changed: sha256",
                serde_json::json!({"path": "/etc/passwd", "attributes": ["sha256"]}),
            )),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let body: Value = serde_json::from_str(&http.received()[0].body).unwrap();
    assert_eq!(body["firing_count"], 2);
    assert_eq!(body["resolved_count"], 0);
    assert_eq!(body["firing"][0]["kind"], "fim.changed", "worst first");
    assert_eq!(body["firing"][0]["path"], "/etc/passwd");
    assert_eq!(body["firing"][1]["mount"], "/var");
    assert!(
        body["subject"]
            .as_str()
            .unwrap()
            .starts_with("[secops] CRITICAL: 2 alerts")
    );
}

#[test]
fn server_errors_are_retried_with_backoff_then_delivered() {
    let http = Http::start(&[500, 503, 200]);
    let state = tempfile::tempdir().unwrap();
    let out = notify(
        &http.url("/hook"),
        state.path(),
        &["--attempts", "3", "--retry-delay", "50ms"],
        &disk_alert("/var", 93, "high"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(http.received().len(), 3);
    let recs = records(&out.stdout);
    assert_eq!(of_kind(&recs, "notify.sent")[0]["attempts"], 3);
    let err = stderr(&out);
    assert!(
        err.contains("try 1 of 3 failed: the server answered HTTP 500"),
        "{err}"
    );
    assert!(
        err.contains("try 2 of 3 failed: the server answered HTTP 503"),
        "{err}"
    );
}

#[test]
fn the_url_never_appears_in_output_whatever_happens() {
    let state = tempfile::tempdir().unwrap();
    let secret = "SeCrEtToKeN0123456789";
    // Refused connection, with every diagnostic on.
    let dead = format!(
        "http://127.0.0.1:{}{TOKEN_PATH}?token={secret}x",
        closed_port()
    );
    let out = notify(
        &dead,
        state.path(),
        &["-vv", "--attempts", "2", "--retry-delay", "10ms"],
        &disk_alert("/var", 93, "high"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // A 404 answer, as a revoked Slack hook gives.
    let http = Http::start(&[404]);
    let out2 = notify(
        &http.url(TOKEN_PATH),
        state.path(),
        &["-vv", "--attempts", "1"],
        &disk_alert("/var", 93, "high"),
    );
    assert_eq!(out2.status.code(), Some(3));
    // And success.
    let ok = Http::start(&[200]);
    let out3 = notify(&ok.url(TOKEN_PATH), state.path(), &["-vv"], "");
    assert_eq!(out3.status.code(), Some(0), "{}", stderr(&out3));
    assert_eq!(ok.received().len(), 1, "the debt was paid");

    for out in [&out, &out2, &out3] {
        let all = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(out);
        assert!(!all.contains(secret), "the webhook token leaked: {all}");
        assert!(
            !all.contains("/services/"),
            "the webhook path leaked: {all}"
        );
    }
    let err = stderr(&out);
    assert!(err.contains("webhook http://127.0.0.1:"), "{err}");
    let state_text = std::fs::read_to_string(state.path().join("notify.json")).unwrap();
    assert!(!state_text.contains(secret));
}

#[test]
fn a_hung_webhook_times_out_and_leaves_the_alert_owed() {
    let stall = Stall::start();
    let state = tempfile::tempdir().unwrap();
    let out = notify(
        &format!("http://127.0.0.1:{}/hook", stall.port),
        state.path(),
        &["--timeout", "1s", "--attempts", "1"],
        &disk_alert("/var", 93, "high"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "notify.failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["error"], "timed out");
    assert_eq!(failed[0]["severity"], "high");
    let entry = ledger(state.path());
    let entry = entry.as_object().unwrap().values().next().unwrap();
    assert_eq!(entry["told"], serde_json::json!({}));
}

#[test]
fn a_plain_webhook_file_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = private_file(dir.path(), "hook", "http://127.0.0.1:1/services/X/Y/Z\n");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o604)).unwrap();
    let out = run(
        &[
            "--webhook-url-file",
            file.to_str().unwrap(),
            "--state-dir",
            dir.path().join("state").to_str().unwrap(),
        ],
        &disk_alert("/var", 93, "high"),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("permissions 0604") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!err.contains("/services/X"));
}

/// A webhook alert to `url` over HTTPS, with `extra` flags and `env`.
fn notify_https(
    url: &str,
    state: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut args = vec![
        "--webhook-url-env",
        "NOTIFY_TEST_HOOK",
        "--state-dir",
        state.to_str().unwrap(),
        "--fail-on",
        "critical",
        "--attempts",
        "1",
    ];
    args.extend_from_slice(extra);
    let mut env = env.to_vec();
    env.push(("NOTIFY_TEST_HOOK", url));
    run_env(&args, &disk_alert("/var", 93, "high"), &env)
}

/// An HTTPS listener whose certificate `certs`' CA signed, taking every
/// request.
fn accepting(certs: &Certs) -> Service {
    Service::start("http", certs, serde_json::json!({}), 0)
}

/// The one Slack body an HTTPS listener received, checked.
fn delivered_once(https: &Service, out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    let got = https.received();
    assert_eq!(got.len(), 1, "{}", stderr(out));
    assert_eq!(got[0].path, TOKEN_PATH);
    let body: Value = serde_json::from_str(&got[0].body).unwrap();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("*[secops] HIGH web1: /var is 93% full"),
        "{body}"
    );
    let recs = records(&out.stdout);
    assert_eq!(
        of_kind(&recs, "notify.sent")[0]["target"],
        format!("webhook https://127.0.0.1:{}/…", https.port)
    );
}

#[test]
fn an_https_webhook_signed_by_an_unknown_ca_fails_naming_the_certificate() {
    let certs = certs();
    let https = accepting(&certs);
    let state = tempfile::tempdir().unwrap();
    // The system store (/etc/ssl/certs) does not hold the test's CA.
    let out = notify_https(&https.url(TOKEN_PATH), state.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(https.received().is_empty());
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "notify.failed");
    assert_eq!(failed.len(), 1, "{recs:?}");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("the server's TLS certificate is not trusted (UnknownIssuer): its issuer is not in the system store (/etc/ssl/certs, "),
        "{error}"
    );
    assert!(
        error.ends_with("; for a private CA give --webhook-ca FILE (webhook.ca_file)"),
        "{error}"
    );
    assert!(stderr(&out).contains(error), "{}", stderr(&out));
    // Another CA than the server's, given as the private one, is named.
    let other = certs_of("another test CA");
    let out = notify_https(
        &https.url(TOKEN_PATH),
        state.path(),
        &["--webhook-ca", other.ca.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let error = of_kind(&recs, "notify.failed")[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.ends_with(&format!("certificates) nor in {}", other.ca.display())),
        "{error}"
    );
    assert!(https.received().is_empty());
}

#[test]
fn an_https_webhook_with_its_private_ca_is_delivered() {
    let certs = certs();
    let https = accepting(&certs);
    let state = tempfile::tempdir().unwrap();
    let out = notify_https(
        &https.url(TOKEN_PATH),
        state.path(),
        &["--webhook-ca", certs.ca.to_str().unwrap()],
        &[],
    );
    delivered_once(&https, &out);

    // The same from the settings file, as email's ca_file.
    let https = accepting(&certs);
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("notify.yaml");
    std::fs::write(
        &config,
        format!(
            "webhook:\n  url_env: NOTIFY_TEST_HOOK\n  ca_file: {}\n",
            certs.ca.display()
        ),
    )
    .unwrap();
    let out = run_env(
        &[
            "--config",
            config.to_str().unwrap(),
            "--state-dir",
            state.path().to_str().unwrap(),
            "--fail-on",
            "critical",
        ],
        &disk_alert("/var", 93, "high"),
        &[("NOTIFY_TEST_HOOK", &https.url(TOKEN_PATH))],
    );
    delivered_once(&https, &out);
}

#[test]
fn an_https_webhook_trusts_the_system_store_without_the_option() {
    let certs = certs();
    // The CA as the whole system store: a file (SSL_CERT_FILE) ...
    let https = accepting(&certs);
    let state = tempfile::tempdir().unwrap();
    let out = notify_https(
        &https.url(TOKEN_PATH),
        state.path(),
        &[],
        &[("SSL_CERT_FILE", certs.ca.to_str().unwrap())],
    );
    delivered_once(&https, &out);
    // ... or a directory (SSL_CERT_DIR), as /etc/ssl/certs is.
    let store = tempfile::tempdir().unwrap();
    std::fs::copy(&certs.ca, store.path().join("secops-test-ca.pem")).unwrap();
    let https = accepting(&certs);
    let state = tempfile::tempdir().unwrap();
    let out = notify_https(
        &https.url(TOKEN_PATH),
        state.path(),
        &[],
        &[("SSL_CERT_DIR", store.path().to_str().unwrap())],
    );
    delivered_once(&https, &out);
}

#[test]
fn a_webhook_ca_file_that_is_missing_or_not_pem_is_refused_at_settings_load() {
    let certs = certs();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-ca.pem");
    let not_pem = dir.path().join("ca.der");
    let der = std::process::Command::new("openssl")
        .args(["x509", "-outform", "der", "-in"])
        .arg(&certs.ca)
        .output()
        .unwrap();
    assert!(der.status.success());
    std::fs::write(&not_pem, &der.stdout).unwrap();
    let garbage = dir.path().join("ca.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let config = dir.path().join("notify.yaml");
    std::fs::write(
        &config,
        format!(
            "webhook:\n  url_env: NOTIFY_TEST_HOOK\n  ca_file: {}\n",
            missing.display()
        ),
    )
    .unwrap();
    let https = accepting(&certs);
    let state = dir.path().join("state");
    let cases: [(Vec<&str>, String); 4] = [
        (
            vec!["--webhook-ca", missing.to_str().unwrap()],
            format!(
                "--webhook-ca: {}: cannot read it: No such file",
                missing.display()
            ),
        ),
        (
            vec!["--webhook-ca", not_pem.to_str().unwrap()],
            format!(
                "--webhook-ca: {}: holds no PEM certificate",
                not_pem.display()
            ),
        ),
        (
            vec!["--webhook-ca", garbage.to_str().unwrap()],
            format!(
                "--webhook-ca: {}: certificate 1 is not usable",
                garbage.display()
            ),
        ),
        (
            vec!["--config", config.to_str().unwrap()],
            format!(
                "{} (webhook.ca_file): {}: cannot read it",
                config.display(),
                missing.display()
            ),
        ),
    ];
    for (flags, expected) in cases {
        let out = notify_https(
            &https.url(TOKEN_PATH),
            &state,
            &flags,
            &[("SSL_CERT_FILE", certs.ca.to_str().unwrap())],
        );
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&expected), "{flags:?}: {err}");
        // Nothing but the run's own failure record.
        let recs = records(&out.stdout);
        assert_eq!(recs.len(), 1, "{flags:?}: {recs:?}");
        assert_eq!(recs[0]["kind"], "run.failed");
        assert!(recs[0]["error"].as_str().unwrap().contains(&expected));
        assert!(!state.exists(), "refused before the state was touched");
    }
    assert!(https.received().is_empty());
}
