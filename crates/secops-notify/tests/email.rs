//! Email through a real SMTP server (aiosmtpd) on loopback: plain,
//! STARTTLS with AUTH, implicit TLS with an age-encrypted password, and the
//! failures: an untrusted certificate, a wrong password, a hung server.

mod support;

use std::process::Command;

use secops_testkit::{closed_port, of_kind, records, stderr};
use support::*;

#[test]
fn a_batch_is_one_mail_with_count_recipients_and_items() {
    let smtp = Smtp::start(SmtpMode::Plain, None);
    let state = tempfile::tempdir().unwrap();
    let input = disk_alert("/var", 93, "high")
        + &disk_alert("/srv", 97, "critical")
        + &record(
            "healthmon",
            "health.sample",
            "info",
            "cpu 12%",
            serde_json::json!({}),
        );
    let out = run(
        &[
            "--smtp",
            &smtp.addr(),
            "--smtp-tls",
            "none",
            "--from",
            "secops@web1.test",
            "--to",
            "ops@example.com",
            "--to",
            "oncall@example.com",
            "--state-dir",
            state.path().to_str().unwrap(),
        ],
        &input,
    );
    // Input held a high record: exit 1, as the tool that wrote it would.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "one mail for the batch");
    let mail = &mails[0];
    assert_eq!(
        mail["rcpt_tos"],
        serde_json::json!(["ops@example.com", "oncall@example.com"])
    );
    assert_eq!(mail["mail_from"], "secops@web1.test");
    assert_eq!(
        mail["subject"],
        "[secops] CRITICAL: 2 alerts on web1: /srv is 97% full, above the critical level of 90% (+1 more)"
    );
    let body = mail["body"].as_str().unwrap();
    assert!(
        body.contains("2 alerts firing on web1 (1 critical, 1 high)."),
        "{body}"
    );
    assert!(body.contains("- [critical] web1 disk-alert disk.alert: /srv is 97% full"));
    assert!(body.contains("- [high] web1 disk-alert disk.alert: /var is 93% full"));
    assert!(!body.contains("cpu 12%"), "below --min-severity");

    let recs = records(&out.stdout);
    let sent = of_kind(&recs, "notify.sent");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["sink"], "email");
    assert_eq!(sent[0]["firing"], 2);
    assert_eq!(sent[0]["attempts"], 1);
    assert_eq!(
        sent[0]["alerts"],
        serde_json::json!([
            "web1: /srv is 97% full, above the critical level of 90%",
            "web1: /var is 93% full, above the critical level of 90%"
        ])
    );
    assert_eq!(
        sent[0]["target"],
        format!(
            "smtp {} (plain) to ops@example.com, oncall@example.com",
            smtp.addr()
        )
    );
}

#[test]
fn starttls_with_auth_and_a_private_ca() {
    let certs = certs();
    let smtp = Smtp::start(SmtpMode::Starttls(&certs), Some(("alerts", "s3cret-pw")));
    let state = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let password = private_file(secrets.path(), "smtp-password", "s3cret-pw\n");
    let out = run(
        &[
            "--smtp",
            &format!("smtp://{}", smtp.addr()),
            "--smtp-ca",
            certs.ca.to_str().unwrap(),
            "--smtp-user",
            "alerts",
            "--smtp-password-file",
            password.to_str().unwrap(),
            "--to",
            "ops@example.com",
            "--state-dir",
            state.path().to_str().unwrap(),
            "--fail-on",
            "critical",
        ],
        &disk_alert("/var", 93, "high"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["login"], "alerts");
    assert_eq!(mails[0]["tls"], true, "sent after STARTTLS");
    assert!(
        mails[0]["subject"]
            .as_str()
            .unwrap()
            .starts_with("[secops] HIGH web1: /var is 93% full")
    );
}

#[test]
fn an_untrusted_certificate_is_a_failed_send_not_a_plain_one() {
    let certs = certs();
    let smtp = Smtp::start(SmtpMode::Starttls(&certs), None);
    let state = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "--smtp",
            &smtp.addr(),
            "--to",
            "ops@example.com",
            "--state-dir",
            state.path().to_str().unwrap(),
            "--attempts",
            "1",
        ],
        &disk_alert("/var", 93, "high"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(smtp.messages().is_empty());
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "notify.failed");
    assert_eq!(failed.len(), 1);
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("the server's TLS certificate is not trusted (UnknownIssuer): its issuer is not in the system store (/etc/ssl/certs, ")
            && error.ends_with("; for a private CA give --smtp-ca FILE (email.ca_file)"),
        "{error}"
    );
}

/// Email and the webhook trust the same roots (one function builds them):
/// a CA that is the system store (SSL_CERT_FILE) needs no --smtp-ca.
#[test]
fn email_trusts_the_system_store_without_the_option() {
    let certs = certs();
    let smtp = Smtp::start(SmtpMode::Starttls(&certs), None);
    let state = tempfile::tempdir().unwrap();
    let out = run_env(
        &[
            "--smtp",
            &smtp.addr(),
            "--to",
            "ops@example.com",
            "--state-dir",
            state.path().to_str().unwrap(),
            "--fail-on",
            "critical",
            "--attempts",
            "1",
        ],
        &disk_alert("/var", 93, "high"),
        &[("SSL_CERT_FILE", certs.ca.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["tls"], true, "sent after STARTTLS");
}

/// A --smtp-ca that holds no certificate was taken as an empty list of
/// them, and every send then failed on the server's certificate (exit 3).
#[test]
fn an_smtp_ca_file_that_is_missing_or_not_pem_is_refused_at_settings_load() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.txt");
    std::fs::write(&not_pem, "this is not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let state = dir.path().join("state");
    for (ca, expected) in [
        (&not_pem, "holds no PEM certificate"),
        (&missing, "cannot read it: No such file"),
    ] {
        let out = run(
            &[
                "--smtp",
                "127.0.0.1:1",
                "--smtp-ca",
                ca.to_str().unwrap(),
                "--to",
                "ops@example.com",
                "--state-dir",
                state.to_str().unwrap(),
            ],
            &disk_alert("/var", 93, "high"),
        );
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("--smtp-ca: {}: {expected}", ca.display())),
            "{err}"
        );
        assert!(!state.exists(), "refused before the state was touched");
    }
}

#[test]
fn implicit_tls_with_an_age_encrypted_password() {
    let certs = certs();
    let smtp = Smtp::start(SmtpMode::Implicit(&certs), Some(("alerts", "age-pw-42")));
    let state = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let identity = secrets.path().join("notify.key");
    let made = Command::new("age-keygen")
        .arg("-o")
        .arg(&identity)
        .output()
        .expect("age-keygen runs (install the Debian package age)");
    assert!(made.status.success());
    let recipient = String::from_utf8(
        Command::new("age-keygen")
            .arg("-y")
            .arg(&identity)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let encrypted = secrets.path().join("smtp.age");
    let plain = private_file(secrets.path(), "plain", "age-pw-42\n");
    let status = Command::new("age")
        .args(["-e", "-r", recipient.trim(), "-o"])
        .arg(&encrypted)
        .arg(&plain)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_file(&plain).unwrap();
    use std::os::unix::fs::PermissionsExt;
    // The encrypted file may be world-readable; the identity may not.
    std::fs::set_permissions(&encrypted, std::fs::Permissions::from_mode(0o644)).unwrap();

    let smtps = format!("smtps://{}", smtp.addr());
    let args = [
        "--smtp",
        &smtps,
        "--smtp-ca",
        certs.ca.to_str().unwrap(),
        "--smtp-user",
        "alerts",
        "--smtp-password-file",
        encrypted.to_str().unwrap(),
        "--age-identity",
        identity.to_str().unwrap(),
        "--to",
        "ops@example.com",
        "--state-dir",
        state.path().to_str().unwrap(),
    ];

    std::fs::set_permissions(&identity, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = run(&args, &disk_alert("/var", 93, "high"));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    assert!(smtp.messages().is_empty());

    std::fs::set_permissions(&identity, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&args, &disk_alert("/var", 93, "high"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["login"], "alerts");
}

#[test]
fn a_wrong_password_never_shows_in_any_output() {
    let certs = certs();
    let smtp = Smtp::start(SmtpMode::Starttls(&certs), Some(("alerts", "right-pw")));
    let state = tempfile::tempdir().unwrap();
    let out = run_env(
        &[
            "--smtp",
            &smtp.addr(),
            "--smtp-ca",
            certs.ca.to_str().unwrap(),
            "--smtp-user",
            "alerts",
            "--smtp-password-env",
            "NOTIFY_TEST_PW",
            "--to",
            "ops@example.com",
            "--state-dir",
            state.path().to_str().unwrap(),
            "--attempts",
            "2",
            "--retry-delay",
            "100ms",
            "-vv",
        ],
        &disk_alert("/var", 93, "high"),
        &[("NOTIFY_TEST_PW", "Wr0ngPassw0rd-XYZ")],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(smtp.messages().is_empty());
    let all = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out);
    assert!(all.contains("notify.failed"));
    assert!(all.contains("try 1 of 2 failed"), "{all}");
    assert!(
        !all.contains("Wr0ngPassw0rd-XYZ"),
        "the password leaked: {all}"
    );
    let ledger = std::fs::read_to_string(state.path().join("notify.json")).unwrap();
    assert!(!ledger.contains("Wr0ngPassw0rd-XYZ"));
}

#[test]
fn a_loose_password_file_is_refused_before_anything_is_read() {
    use std::os::unix::fs::PermissionsExt;
    let secrets = tempfile::tempdir().unwrap();
    let password = private_file(secrets.path(), "pw", "hunter2\n");
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o644)).unwrap();
    let state = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "--smtp",
            &format!("127.0.0.1:{}", closed_port()),
            "--smtp-user",
            "alerts",
            "--smtp-password-file",
            password.to_str().unwrap(),
            "--to",
            "ops@example.com",
            "--state-dir",
            state.path().to_str().unwrap(),
        ],
        &disk_alert("/var", 93, "high"),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("permissions 0644") && err.contains("chmod 600") && err.contains("pw"),
        "{err}"
    );
    assert!(!err.contains("hunter2"));
    // The refusal is a record too (for the log secops-notify writes to),
    // and it carries no secret either.
    let failed = secops_testkit::only_failure(&out.stdout);
    assert!(!failed.to_string().contains("hunter2"), "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("chmod 600"),
        "{failed}"
    );
}

#[test]
fn a_hung_server_times_out_is_reported_and_is_not_recorded_as_sent() {
    let stall = Stall::start();
    let state = tempfile::tempdir().unwrap();
    let state_arg = state.path().to_str().unwrap().to_string();
    let out = run(
        &[
            "--smtp",
            &format!("127.0.0.1:{}", stall.port),
            "--smtp-tls",
            "none",
            "--to",
            "ops@example.com",
            "--state-dir",
            &state_arg,
            "--timeout",
            "1s",
            "--attempts",
            "2",
            "--retry-delay",
            "100ms",
        ],
        &disk_alert("/var", 93, "high"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "notify.failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["attempts"], 2);
    let error = failed[0]["error"].as_str().unwrap().to_lowercase();
    assert!(
        error.contains("timed out") || error.contains("timeout"),
        "{error}"
    );
    assert!(of_kind(&recs, "notify.sent").is_empty());
    assert!(stall.accepted() >= 2, "both tries connected");
    // Owed, never told.
    let ledger = ledger(state.path());
    let entry = ledger.as_object().unwrap().values().next().unwrap();
    assert_eq!(entry["told"], serde_json::json!({}));
    assert_eq!(entry["owed"], serde_json::json!(["email"]));

    // The next run, with the server back, pays the debt without new input.
    let smtp = Smtp::start(SmtpMode::Plain, None);
    let out = run(
        &[
            "--smtp",
            &smtp.addr(),
            "--smtp-tls",
            "none",
            "--to",
            "ops@example.com",
            "--state-dir",
            &state_arg,
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]["subject"]
            .as_str()
            .unwrap()
            .contains("/var is 93% full")
    );
}
