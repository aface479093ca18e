//! The web receivers (SMS, PagerDuty, Opsgenie, Slack Block Kit, Teams,
//! Telegram, Matrix, ntfy, the templated webhook) against local stand-ins
//! for their services over HTTPS (a CA made in the test), each checking the
//! requests as the service's API documentation describes them and
//! answering as the service does, rate limits included.

mod support;

use std::path::Path;
use std::time::Instant;

use secops_testkit::{of_kind, records, stderr};
use serde_json::{Value, json};
use support::*;

/// Runs secops-notify trusting `certs`' CA for the web receivers.
fn notify(
    certs: &Certs,
    state: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    input: &str,
) -> std::process::Output {
    let mut all = vec![
        "--state-dir",
        state.to_str().unwrap(),
        "--https-ca",
        certs.ca.to_str().unwrap(),
        "--retry-delay",
        "10ms",
    ];
    all.extend_from_slice(args);
    run_env(&all, input, env)
}

fn form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            let decode = |s: &str| {
                let s = s.replace('+', " ");
                let mut out = Vec::new();
                let bytes = s.as_bytes();
                let mut i = 0;
                while i < bytes.len() {
                    if bytes[i] == b'%' {
                        out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                        i += 3;
                    } else {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
                String::from_utf8(out).unwrap()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    &form.iter().find(|(k, _)| k == name).unwrap().1
}

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "tw1l10-s3cr3t-t0k3n";

fn twilio(certs: &Certs) -> Service {
    Service::start(
        "twilio",
        certs,
        json!({"account_sid": SID, "auth_token": TWILIO_TOKEN}),
        0,
    )
}

fn sms_args<'a>(service: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--sms-to",
        "+15551230001",
        "--sms-to",
        "+447700900123",
        "--sms-from",
        "+15557654321",
        "--sms-account-sid",
        SID,
        "--sms-token-env",
        "TWILIO_TOKEN",
        "--sms-url",
        service,
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn sms_texts_only_critical_alerts_in_one_segment_worst_first() {
    let certs = certs();
    let twilio = twilio(&certs);
    let state = tempfile::tempdir().unwrap();
    let url = twilio.url("");
    let long = "x".repeat(300);
    let input = disk_alert("/var", 93, "high")
        + &disk_alert("/srv", 99, "critical")
        + &record(
            "fim-check",
            "fim.changed",
            "critical",
            &format!("/etc/passwd changed {long}"),
            json!({"alert": "firing", "alert_id": "fim-check:passwd"}),
        );
    let out = notify(
        &certs,
        state.path(),
        &sms_args(&url, &[]),
        &[("TWILIO_TOKEN", TWILIO_TOKEN)],
        &input,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let sent = twilio.accepted();
    assert_eq!(sent.len(), 2, "one message per number");
    let to: Vec<String> = sent
        .iter()
        .map(|r| field(&form(&r.body), "To").to_string())
        .collect();
    assert_eq!(to, ["+15551230001", "+447700900123"]);
    let body = form(&sent[0].body);
    let text = field(&body, "Body");
    assert!(
        text.chars().count() <= 160,
        "{} characters: {text}",
        text.len()
    );
    assert!(
        text.starts_with("CRITICAL web1: /srv is 99% full"),
        "{text}"
    );
    assert!(text.contains("(+1 more on web1)"), "{text}");
    assert!(
        !text.contains("/var"),
        "high is below SMS's minimum: {text}"
    );
    assert_eq!(field(&body, "From"), "+15557654321");
    // The token is nowhere in what the run said.
    assert!(!String::from_utf8_lossy(&out.stdout).contains(TWILIO_TOKEN));
    assert!(!stderr(&out).contains(TWILIO_TOKEN));

    // A high alert alone sends no text.
    let out = notify(
        &certs,
        state.path(),
        &sms_args(&url, &[]),
        &[("TWILIO_TOKEN", TWILIO_TOKEN)],
        &disk_alert("/home", 91, "high"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(of_kind(&records(&out.stdout), "notify.sent").is_empty());
    assert_eq!(twilio.received().len(), 2);
}

#[test]
fn the_sms_cap_holds_messages_back_and_the_next_one_says_how_many() {
    let certs = certs();
    let twilio = twilio(&certs);
    let state = tempfile::tempdir().unwrap();
    let url = twilio.url("");
    let args = sms_args(&url, &["--sms-max-per-hour", "1"]);
    let env = [("TWILIO_TOKEN", TWILIO_TOKEN)];
    let out = notify(
        &certs,
        state.path(),
        &args,
        &env,
        &disk_alert("/a", 99, "critical"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(twilio.accepted().len(), 2);
    for mount in ["/b", "/c"] {
        let out = notify(
            &certs,
            state.path(),
            &args,
            &env,
            &disk_alert(mount, 99, "critical"),
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let recs = records(&out.stdout);
        assert_eq!(of_kind(&recs, "notify.held").len(), 1, "{recs:?}");
        assert!(of_kind(&recs, "notify.sent").is_empty());
    }
    assert_eq!(twilio.received().len(), 2, "the cap held both back");
    // An hour passes: the message sent is an hour old in the state.
    let path = state.path().join("notify.json");
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let sent = &mut saved["pace"]["sms"]["sent"];
    *sent = json!([sent[0].as_u64().unwrap() - 3601]);
    std::fs::write(&path, saved.to_string()).unwrap();
    let out = notify(&certs, state.path(), &args, &env, "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sent = twilio.accepted();
    assert_eq!(sent.len(), 4);
    let text = field(&form(&sent[2].body), "Body").to_string();
    assert!(
        text.contains("(+1 more on web1)"),
        "both held alerts go out: {text}"
    );
    assert!(text.contains("2 held back by the hourly cap"), "{text}");
}

#[test]
fn pagerduty_triggers_and_a_recovery_resolves_the_same_incident() {
    let certs = certs();
    let key = "R0123456789abcdef0123456789abcde";
    let pd = Service::start("pagerduty", &certs, json!({"routing_key": key}), 0);
    let state = tempfile::tempdir().unwrap();
    let url = pd.url("/v2/enqueue");
    let args = ["--pagerduty-key-env", "PD_KEY", "--pagerduty-url", &url];
    let env = [("PD_KEY", key)];
    let out = notify(
        &certs,
        state.path(),
        &args,
        &env,
        &(disk_alert("/var", 99, "critical") + &disk_alert("/srv", 93, "high")),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let events: Vec<Value> = pd.accepted().iter().map(Seen::json).collect();
    assert_eq!(events.len(), 2, "one event per alert");
    assert_eq!(events[0]["event_action"], "trigger");
    assert_eq!(events[0]["payload"]["severity"], "critical");
    assert_eq!(events[1]["payload"]["severity"], "error");
    assert_eq!(events[0]["payload"]["source"], "web1");
    assert_eq!(events[0]["payload"]["custom_details"]["mount"], "/var");
    assert_ne!(events[0]["dedup_key"], events[1]["dedup_key"]);

    let out = notify(&certs, state.path(), &args, &env, &disk_recovered("/var"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let events: Vec<Value> = pd.accepted().iter().map(Seen::json).collect();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["event_action"], "resolve");
    assert_eq!(
        events[2]["dedup_key"], events[0]["dedup_key"],
        "the /var incident is the one resolved"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(key));
}

#[test]
fn opsgenie_creates_by_alias_and_closes_by_it() {
    let certs = certs();
    let key = "0a1b2c3d-opsgenie-key";
    let og = Service::start("opsgenie", &certs, json!({"api_key": key}), 0);
    let state = tempfile::tempdir().unwrap();
    let url = og.url("");
    let args = ["--opsgenie-key-env", "OG_KEY", "--opsgenie-url", &url];
    let env = [("OG_KEY", key)];
    let long = "y".repeat(600);
    let out = notify(
        &certs,
        state.path(),
        &args,
        &env,
        &disk_alert(&format!("/data/{long}"), 99, "critical"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = notify(
        &certs,
        state.path(),
        &args,
        &env,
        &disk_recovered(&format!("/data/{long}")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seen = og.accepted();
    assert_eq!(seen.len(), 2);
    let create = seen[0].json();
    assert_eq!(seen[0].path, "/v2/alerts");
    assert_eq!(create["priority"], "P1");
    assert!(create["message"].as_str().unwrap().chars().count() <= 130);
    assert_eq!(seen[1].query, "identifierType=alias");
    assert_eq!(
        seen[1].saved["alias"], create["alias"],
        "closed by the alias it was created with"
    );
}

#[test]
fn slack_gets_block_kit_with_a_colour_per_severity_and_escaped_text() {
    let certs = certs();
    let path = "/services/T0ABC/B0DEF/SeCrEtToKeN";
    let slack = Service::start("slack", &certs, json!({"path": path}), 0);
    let state = tempfile::tempdir().unwrap();
    let url = slack.url(path);
    let input = disk_alert("/var", 99, "critical")
        + &disk_alert("/srv", 93, "high")
        + &record(
            "anomalizer",
            "log.anomaly",
            "high",
            "<script>alert(1)</script> & more",
            json!({"alert": "firing", "alert_id": "anomalizer:x"}),
        );
    let out = notify(
        &certs,
        state.path(),
        &["--slack-url-env", "SLACK_URL"],
        &[("SLACK_URL", &url)],
        &input,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let body = slack.accepted()[0].json();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .starts_with("[secops] CRITICAL: 3 alerts")
    );
    assert_eq!(body["blocks"][0]["type"], "header");
    let colours: Vec<&str> = body["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["color"].as_str().unwrap())
        .collect();
    assert_eq!(colours, ["#b60205", "#d93f0b"], "critical, then high");
    let high = body["attachments"][1]["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap();
    assert!(
        high.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
        "{high}"
    );
    let recs = records(&out.stdout);
    let sent = of_kind(&recs, "notify.sent");
    assert_eq!(
        sent[0]["target"],
        format!("slack https://127.0.0.1:{}/…", slack.port)
    );
}

#[test]
fn teams_gets_an_adaptive_card_that_stays_under_its_size_limit() {
    let certs = certs();
    let path = "/workflows/abc/triggers/manual/paths/invoke";
    let teams = Service::start("teams", &certs, json!({"path": path}), 0);
    let state = tempfile::tempdir().unwrap();
    let url = teams.url(path);
    let input: String = (0..300)
        .map(|i| disk_alert(&format!("/srv/{i}/{}", "z".repeat(80)), 95, "high"))
        .collect();
    let out = notify(
        &certs,
        state.path(),
        &["--teams-url-env", "TEAMS_URL", "--max-items", "300"],
        &[("TEAMS_URL", &url)],
        &input,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let seen = teams.accepted();
    assert!(
        seen[0].body.len() <= 28 * 1024,
        "{} bytes",
        seen[0].body.len()
    );
    let card = &seen[0].json()["attachments"][0]["content"];
    assert_eq!(card["body"][0]["color"], "Attention");
    let last = card["body"].as_array().unwrap().last().unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        last.starts_with("… and ") && last.ends_with(" more"),
        "what did not fit is counted: {last}"
    );
}

#[test]
fn telegram_html_is_escaped_and_a_rate_limit_is_waited_out() {
    let certs = certs();
    let token = "123456:ABC-telegram-token";
    let tg = Service::start(
        "telegram",
        &certs,
        json!({"token": token, "chat": -1001234567890_i64}),
        1,
    );
    let state = tempfile::tempdir().unwrap();
    let url = tg.url("");
    let out = notify(
        &certs,
        state.path(),
        &[
            "--telegram-token-env",
            "TG_TOKEN",
            "--telegram-chat",
            "-1001234567890",
            "--telegram-url",
            &url,
        ],
        &[("TG_TOKEN", token)],
        &record(
            "traffic-cop",
            "port.opened",
            "high",
            "new listener <unknown> on 0.0.0.0:4444 & 4445",
            json!({"alert": "firing", "alert_id": "traffic-cop:4444"}),
        ),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let seen = tg.received();
    assert_eq!(seen.len(), 2, "the 429, then the message");
    assert!(
        seen[1].at() - seen[0].at() >= 0.9,
        "retry_after 1 was honoured, not the 10ms retry delay"
    );
    assert!(
        tg.accepted()[0].json()["text"]
            .as_str()
            .unwrap()
            .contains("&lt;unknown&gt;")
    );
    let err = stderr(&out);
    assert!(err.contains("HTTP 429") && !err.contains(token), "{err}");
}

#[test]
fn matrix_retries_a_rate_limited_message_under_the_same_transaction() {
    let certs = certs();
    let token = "syt_matrix_token";
    let room = "!AbCdEf:example.org";
    let mx = Service::start("matrix", &certs, json!({"token": token, "room": room}), 1);
    let state = tempfile::tempdir().unwrap();
    let url = mx.url("");
    let out = notify(
        &certs,
        state.path(),
        &[
            "--matrix-homeserver",
            &url,
            "--matrix-room",
            room,
            "--matrix-token-env",
            "MX_TOKEN",
        ],
        &[("MX_TOKEN", token)],
        &disk_alert("/var", 99, "critical"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let seen = mx.received();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, seen[1].path, "the same transaction id");
    assert!(
        seen[1].at() - seen[0].at() >= 0.9,
        "retry_after_ms was honoured"
    );
    let event = mx.accepted()[0].json();
    assert!(
        event["formatted_body"]
            .as_str()
            .unwrap()
            .starts_with("<p><strong>[secops] CRITICAL web1")
    );
}

#[test]
fn ntfy_publishes_with_priority_and_token() {
    let certs = certs();
    let ntfy = Service::start(
        "ntfy",
        &certs,
        json!({"topic": "ops-alerts", "token": "tk_secret"}),
        0,
    );
    let state = tempfile::tempdir().unwrap();
    let url = ntfy.url("/ops-alerts");
    let args = ["--ntfy-url", &url, "--ntfy-token-env", "NTFY_TOKEN"];
    let env = [("NTFY_TOKEN", "tk_secret")];
    let out = notify(
        &certs,
        state.path(),
        &args,
        &env,
        &disk_alert("/var", 99, "critical"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = notify(&certs, state.path(), &args, &env, &disk_recovered("/var"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let seen: Vec<Value> = ntfy.accepted().iter().map(Seen::json).collect();
    assert_eq!(
        (seen[0]["priority"].as_u64(), seen[0]["tags"][0].as_str()),
        (Some(5), Some("rotating_light"))
    );
    assert_eq!(seen[1]["tags"][0], "white_check_mark");
    assert!(
        seen[1]["title"]
            .as_str()
            .unwrap()
            .starts_with("[secops] RESOLVED web1")
    );
}

#[test]
fn the_templated_webhook_sends_per_alert_with_a_secret_header() {
    let certs = certs();
    let api = Service::start("http", &certs, json!({}), 0);
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("notify.yaml");
    std::fs::write(
        &settings,
        format!(
            "http:\n  url: {}/v1/alerts/{{{{ alert_id | url }}}}\n  method: put\n  per: alert\n  secret_env: API_TOKEN\n  headers:\n    Authorization: 'Bearer {{{{ secret }}}}'\n  body: |\n    {{\"host\": {{{{ host | json }}}}, \"text\": {{{{ message | json }}}}, \"status\": {{{{ status | json }}}}, \"record\": {{{{ record }}}}}}\n",
            api.url("")
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let input = record(
        "fim-check",
        "fim.changed",
        "critical",
        "\"/etc/passwd\"\nchanged",
        json!({"alert": "firing", "alert_id": "fim-check:a/b"}),
    ) + &disk_alert("/var", 93, "high");
    let out = notify(
        &certs,
        &state,
        &["--config", settings.to_str().unwrap()],
        &[("API_TOKEN", "t0p-s3cr3t")],
        &input,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let seen = api.accepted();
    assert_eq!(seen.len(), 2, "one request per alert");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("PUT", "/v1/alerts/fim%2Dcheck%3Aa%2Fb")
    );
    assert_eq!(seen[0].headers["authorization"], "Bearer t0p-s3cr3t");
    let body = seen[0].json();
    assert_eq!(
        body["text"], "\"/etc/passwd\"\nchanged",
        "quotes and line breaks survive as JSON"
    );
    assert_eq!(body["record"]["alert_id"], "fim-check:a/b");
    assert_eq!(seen[1].json()["record"]["mount"], "/var");
    assert!(!stderr(&out).contains("t0p-s3cr3t"));
}

#[test]
fn a_bad_template_is_refused_naming_the_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("notify.yaml");
    std::fs::write(&settings, "min_severity: high\nhttp:\n  url: https://api.example.com/\n  body: '{\"t\": {{ sevrity | json }}}'\n").unwrap();
    let out = run(&["--config", settings.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:4:", settings.display()))
            && err.contains("http.body")
            && err.contains("{{ sevrity }}"),
        "{err}"
    );
    // A field that would break the JSON is refused before any alert.
    std::fs::write(
        &settings,
        "http:\n  url: https://api.example.com/\n  body: '{\"t\": \"{{ subject }}\"}'\n",
    )
    .unwrap();
    let out = run(&["--config", settings.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("{{ subject | json }}"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_receiver_that_hangs_holds_up_no_other() {
    let certs = certs();
    let ntfy = Service::start("ntfy", &certs, json!({"topic": "ops"}), 0);
    let stall = Stall::start();
    let state = tempfile::tempdir().unwrap();
    let hung = format!("http://127.0.0.1:{}/v2/enqueue", stall.port);
    let url = ntfy.url("/ops");
    let started = Instant::now();
    let out = notify(
        &certs,
        state.path(),
        &[
            "--pagerduty-key-env",
            "PD_KEY",
            "--pagerduty-url",
            &hung,
            "--ntfy-url",
            &url,
            "--timeout",
            "3s",
            "--attempts",
            "2",
        ],
        &[("PD_KEY", "R0123456789abcdef0123456789abcde")],
        &disk_alert("/var", 99, "critical"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let took = started.elapsed().as_secs_f64();
    assert!(took >= 6.0, "pagerduty was tried twice for 3 s: {took}");
    let seen = ntfy.accepted();
    assert_eq!(seen.len(), 1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        now - seen[0].at() >= took - 2.0,
        "ntfy went out at the start, not after pagerduty gave up"
    );
    let recs = records(&out.stdout);
    assert_eq!(of_kind(&recs, "notify.sent")[0]["sink"], "ntfy");
    assert_eq!(of_kind(&recs, "notify.failed")[0]["sink"], "pagerduty");
}

#[test]
fn a_rate_limit_of_an_hour_is_not_waited_for_and_stays_owed() {
    let certs = certs();
    let ntfy = Service::limited("ntfy", &certs, json!({"topic": "ops"}), 1, 3600);
    let state = tempfile::tempdir().unwrap();
    let url = ntfy.url("/ops");
    let started = Instant::now();
    let out = notify(
        &certs,
        state.path(),
        &["--ntfy-url", &url],
        &[],
        &disk_alert("/var", 99, "critical"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(started.elapsed().as_secs() < 30);
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "notify.failed");
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("rate limited: the service asked for 1h"),
        "{failed:?}"
    );
    // The next run sends it.
    let out = notify(&certs, state.path(), &["--ntfy-url", &url], &[], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(ntfy.accepted().len(), 1);
}

#[test]
fn a_teams_connector_that_answers_200_with_an_error_is_not_delivered() {
    let certs = certs();
    let path = "/webhookb2/0000@1111/IncomingWebhook/2222/3333";
    let teams = Service::start("teams", &certs, json!({"path": path}), 1);
    let state = tempfile::tempdir().unwrap();
    let url = teams.url(path);
    let args = ["--teams-url-env", "TEAMS_URL", "--attempts", "1"];
    let env = [("TEAMS_URL", url.as_str())];
    let out = notify(
        &certs,
        state.path(),
        &args,
        &env,
        &disk_alert("/var", 99, "critical"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "notify.failed");
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("returned HTTP error 429"),
        "{failed:?}"
    );
    // Owed, and delivered by the next run ("1").
    let out = notify(&certs, state.path(), &args, &env, "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(of_kind(&records(&out.stdout), "notify.sent").len(), 1);
    assert_eq!(
        teams.accepted().len(),
        2,
        "the refused message, then its delivery"
    );
}

#[test]
fn refused_requests_are_not_retried_and_hold_back_no_other() {
    let certs = certs();
    let pd = Service::start(
        "pagerduty",
        &certs,
        json!({"routing_key": "R0123456789abcdef0123456789abcde"}),
        0,
    );
    let state = tempfile::tempdir().unwrap();
    let url = pd.url("/v2/enqueue");
    let out = notify(
        &certs,
        state.path(),
        &[
            "--pagerduty-key-env",
            "PD_KEY",
            "--pagerduty-url",
            &url,
            "--attempts",
            "3",
        ],
        &[("PD_KEY", "Rwrongwrongwrongwrongwrongwrong0")],
        &(disk_alert("/var", 99, "critical") + &disk_alert("/srv", 99, "critical")),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        pd.received().len(),
        2,
        "each event once: a 400 is not retried, and the first does not stop the second"
    );
    let recs = records(&out.stdout);
    let failed = of_kind(&recs, "notify.failed");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "2 requests refused; the first: request 1 of 2: the server answered HTTP 400"
        ),
        "{error}"
    );
    assert!(
        error.contains("'routing_key' is invalid") && !error.contains("Rwrong"),
        "{error}"
    );
    assert_eq!(failed[0]["attempts"], 1);
}
