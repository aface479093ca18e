//! secops-notify's command line. Every setting can also come from
//! `--config notify.yaml`; a flag given here wins over the file.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use secops_common::Severity;
use secops_common::cli::{CommonArgs, StateArgs, parse_duration};
use serde::Deserialize;

const EXAMPLES: &str = "\
Examples:
  disk-alert --all --format jsonl | secops-notify --smtp mail.example.com:587 --from secops@web1.example.com --to ops@example.com --smtp-user alerts --smtp-password-file /etc/secops/smtp.age --age-identity /etc/secops/notify.key
  fim-check verify | secops-notify --min-severity medium --webhook-url-env SLACK_WEBHOOK_URL
  healthmon --interval 10s --alerts-only | secops-notify --group-wait 30s --syslog --exec '/usr/local/bin/page-oncall'
  disk-alert --all --format jsonl | secops-notify --pagerduty-key-file /etc/secops/pagerduty-key --sms-to +15551230001 --sms-from +15557654321 --sms-account-sid AC0123456789abcdef0123456789abcdef --sms-token-file /etc/secops/twilio-token
  secops-notify --config /etc/secops/notify.yaml alerts.jsonl

Records with `alert` firing at or above --min-severity are alerts, one per
host and `alert_id`; `alert` resolved ends one that was sent and becomes a
recovery notice; `alert` none (an observation) never pages. Records without
an alert field (older programs) are alerts by severity alone, one per host,
kind and message. A still-firing alert is repeated only after
--repeat-interval, or at once when its severity rises. Records that arrive within --group-wait go out as one
message. Every message sent writes a notify.sent record, every delivery that
failed after all attempts a notify.failed record.

Exit status: 0 delivered everything (or nothing was due), 1 an input record
was at or above --fail-on, 2 bad usage, settings, secrets or input lines,
3 a delivery failed after all attempts (it stays owed and is retried by the
next run).";

/// Deliver secops records as alerts people do not mute: email, SMS,
/// PagerDuty, Opsgenie, Slack, Teams, Telegram, Matrix, ntfy, webhooks, a
/// command, syslog; deduplicated, repeated, grouped, with recoveries.
#[derive(Debug, Clone, Parser)]
#[command(name = "secops-notify", version, after_help = EXAMPLES)]
pub struct Args {
    /// Record files to read (JSON Lines); `-` or none reads stdin
    #[arg(value_name = "FILE")]
    pub inputs: Vec<PathBuf>,

    /// Settings file (YAML or JSON); flags given here win over it
    /// [default: /etc/secops/notify.yaml, when it exists and no flag names
    /// a receiver]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Notify about records at or above SEVERITY [default: high]
    #[arg(long, value_name = "SEVERITY", help_heading = "Alerting")]
    pub min_severity: Option<Severity>,

    /// Repeat a still-firing alert only after DURATION [default: 4h]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Alerting")]
    pub repeat_interval: Option<Duration>,

    /// Collect records for DURATION after the first one and send them as one
    /// message; the end of input sends at once [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Alerting")]
    pub group_wait: Option<Duration>,

    /// List at most N alerts in a message; the rest are counted [default: 10]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
          help_heading = "Alerting")]
    pub max_items: Option<u32>,

    /// Where what was sent is remembered
    #[command(flatten)]
    pub state: StateArgs,

    /// SMTP server: HOST:PORT, smtp://HOST:PORT (STARTTLS) or
    /// smtps://HOST:PORT (implicit TLS)
    #[arg(long, value_name = "SERVER", help_heading = "Email")]
    pub smtp: Option<String>,

    /// How to secure SMTP [default: implicit for smtps:// and port 465,
    /// else starttls]
    #[arg(long, value_enum, value_name = "MODE", help_heading = "Email")]
    pub smtp_tls: Option<SmtpTls>,

    /// Also trust the CA certificates in FILE (PEM) for SMTP, besides the
    /// system store
    #[arg(long, value_name = "FILE", help_heading = "Email")]
    pub smtp_ca: Option<PathBuf>,

    /// SMTP AUTH user name
    #[arg(long, value_name = "USER", help_heading = "Email")]
    pub smtp_user: Option<String>,

    /// Read the SMTP password from environment variable VAR
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "smtp_password_file",
        help_heading = "Email"
    )]
    pub smtp_password_env: Option<String>,

    /// Read the SMTP password from FILE (mode 0600, or age-encrypted)
    #[arg(long, value_name = "FILE", help_heading = "Email")]
    pub smtp_password_file: Option<PathBuf>,

    /// Sender address
    #[arg(long, value_name = "ADDRESS", help_heading = "Email")]
    pub from: Option<String>,

    /// Recipient address (repeatable)
    #[arg(long, value_name = "ADDRESS", help_heading = "Email")]
    pub to: Vec<String>,

    /// Read the webhook URL from environment variable VAR
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "webhook_url_file",
        help_heading = "Webhook"
    )]
    pub webhook_url_env: Option<String>,

    /// Read the webhook URL from FILE (mode 0600, or age-encrypted)
    #[arg(long, value_name = "FILE", help_heading = "Webhook")]
    pub webhook_url_file: Option<PathBuf>,

    /// Also trust the CA certificates in FILE (PEM) for the webhook's
    /// HTTPS, besides the system store
    #[arg(long, value_name = "FILE", help_heading = "Webhook")]
    pub webhook_ca: Option<PathBuf>,

    /// Body to POST [default: slack]
    #[arg(long, value_enum, value_name = "FORMAT", help_heading = "Webhook")]
    pub webhook_format: Option<WebhookFormat>,

    /// Run CMD (with sh -c) for each message; it reads the records on stdin
    #[arg(long, value_name = "CMD", help_heading = "Command")]
    pub exec: Option<String>,

    /// Log each alert to the local syslog (/dev/log)
    #[arg(long, help_heading = "Syslog")]
    pub syslog: bool,

    /// Log to the datagram socket PATH instead of /dev/log (implies --syslog)
    #[arg(long, value_name = "PATH", help_heading = "Syslog")]
    pub syslog_socket: Option<PathBuf>,

    /// Post Slack Block Kit messages to the incoming-webhook URL in
    /// environment variable VAR
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "slack_url_file",
        help_heading = "Slack"
    )]
    pub slack_url_env: Option<String>,

    /// The same, with the URL in FILE (mode 0600, or age-encrypted)
    #[arg(long, value_name = "FILE", help_heading = "Slack")]
    pub slack_url_file: Option<PathBuf>,

    /// Post Adaptive Cards to the Microsoft Teams webhook URL in
    /// environment variable VAR
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "teams_url_file",
        help_heading = "Teams"
    )]
    pub teams_url_env: Option<String>,

    /// The same, with the URL in FILE (mode 0600, or age-encrypted)
    #[arg(long, value_name = "FILE", help_heading = "Teams")]
    pub teams_url_file: Option<PathBuf>,

    /// Text this number (E.164, +15551234567; repeatable) through Twilio
    #[arg(long, value_name = "NUMBER", help_heading = "SMS")]
    pub sms_to: Vec<String>,

    /// The sending number (or messaging service SID)
    #[arg(long, value_name = "NUMBER", help_heading = "SMS")]
    pub sms_from: Option<String>,

    /// The Twilio account SID (AC...)
    #[arg(long, value_name = "SID", help_heading = "SMS")]
    pub sms_account_sid: Option<String>,

    /// Read the Twilio auth token from environment variable VAR
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "sms_token_file",
        help_heading = "SMS"
    )]
    pub sms_token_env: Option<String>,

    /// Read the Twilio auth token from FILE (mode 0600, or age-encrypted)
    #[arg(long, value_name = "FILE", help_heading = "SMS")]
    pub sms_token_file: Option<PathBuf>,

    /// Text only alerts at or above SEVERITY [default: critical]
    #[arg(long, value_name = "SEVERITY", help_heading = "SMS")]
    pub sms_min_severity: Option<Severity>,

    /// Send at most N texts an hour; the next one says what was held back
    /// [default: 4]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..),
          help_heading = "SMS")]
    pub sms_max_per_hour: Option<u32>,

    /// Cut each text to N SMS segments (1 to 10) [default: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10),
          help_heading = "SMS")]
    pub sms_segments: Option<u32>,

    /// The Messages API's base URL [default: https://api.twilio.com]
    #[arg(long, value_name = "URL", help_heading = "SMS")]
    pub sms_url: Option<String>,

    /// Trigger and resolve PagerDuty incidents with the Events API v2
    /// routing key in environment variable VAR
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "pagerduty_key_file",
        help_heading = "PagerDuty"
    )]
    pub pagerduty_key_env: Option<String>,

    /// The same, with the routing key in FILE (mode 0600, or age-encrypted)
    #[arg(long, value_name = "FILE", help_heading = "PagerDuty")]
    pub pagerduty_key_file: Option<PathBuf>,

    /// The Events API URL [default: https://events.pagerduty.com/v2/enqueue]
    #[arg(long, value_name = "URL", help_heading = "PagerDuty")]
    pub pagerduty_url: Option<String>,

    /// Create and close Opsgenie alerts with the API key in environment
    /// variable VAR
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "opsgenie_key_file",
        help_heading = "Opsgenie"
    )]
    pub opsgenie_key_env: Option<String>,

    /// The same, with the API key in FILE (mode 0600, or age-encrypted)
    #[arg(long, value_name = "FILE", help_heading = "Opsgenie")]
    pub opsgenie_key_file: Option<PathBuf>,

    /// The API's base URL [default: https://api.opsgenie.com; EU:
    /// https://api.eu.opsgenie.com]
    #[arg(long, value_name = "URL", help_heading = "Opsgenie")]
    pub opsgenie_url: Option<String>,

    /// Message this Telegram chat (a numeric id or @channel)
    #[arg(
        long,
        value_name = "CHAT",
        allow_hyphen_values = true,
        help_heading = "Telegram"
    )]
    pub telegram_chat: Option<String>,

    /// Read the bot token from environment variable VAR
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "telegram_token_file",
        help_heading = "Telegram"
    )]
    pub telegram_token_env: Option<String>,

    /// Read the bot token from FILE (mode 0600, or age-encrypted)
    #[arg(long, value_name = "FILE", help_heading = "Telegram")]
    pub telegram_token_file: Option<PathBuf>,

    /// The Bot API's base URL [default: https://api.telegram.org]
    #[arg(long, value_name = "URL", help_heading = "Telegram")]
    pub telegram_url: Option<String>,

    /// The Matrix homeserver's URL (https://matrix.example.org)
    #[arg(long, value_name = "URL", help_heading = "Matrix")]
    pub matrix_homeserver: Option<String>,

    /// The room to post in: its id, !opaque:example.org
    #[arg(long, value_name = "ROOM_ID", help_heading = "Matrix")]
    pub matrix_room: Option<String>,

    /// Read the access token from environment variable VAR
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "matrix_token_file",
        help_heading = "Matrix"
    )]
    pub matrix_token_env: Option<String>,

    /// Read the access token from FILE (mode 0600, or age-encrypted)
    #[arg(long, value_name = "FILE", help_heading = "Matrix")]
    pub matrix_token_file: Option<PathBuf>,

    /// Publish to this ntfy topic URL (https://ntfy.sh/TOPIC)
    #[arg(long, value_name = "URL", help_heading = "ntfy")]
    pub ntfy_url: Option<String>,

    /// Read an ntfy access token from environment variable VAR
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "ntfy_token_file",
        help_heading = "ntfy"
    )]
    pub ntfy_token_env: Option<String>,

    /// Read an ntfy access token from FILE (mode 0600, or age-encrypted)
    #[arg(long, value_name = "FILE", help_heading = "ntfy")]
    pub ntfy_token_file: Option<PathBuf>,

    /// Send to any HTTP API: the URL template ({{ field }}, {{ field | url }})
    #[arg(long, value_name = "TEMPLATE", help_heading = "Templated webhook")]
    pub http_url: Option<String>,

    /// The method [default: POST]
    #[arg(long, value_name = "METHOD", help_heading = "Templated webhook")]
    pub http_method: Option<String>,

    /// A header, 'Name: template' (repeatable)
    #[arg(long, value_name = "HEADER", help_heading = "Templated webhook")]
    pub http_header: Vec<String>,

    /// The body template, read from FILE ({{ field | json }} in JSON)
    #[arg(long, value_name = "FILE", help_heading = "Templated webhook")]
    pub http_body: Option<PathBuf>,

    /// The body's content type [default: application/json]
    #[arg(long, value_name = "TYPE", help_heading = "Templated webhook")]
    pub http_content_type: Option<String>,

    /// One request per message or per alert [default: message]
    #[arg(
        long,
        value_enum,
        value_name = "PER",
        help_heading = "Templated webhook"
    )]
    pub http_per: Option<crate::sink::template::Per>,

    /// The value of {{ secret }}, from environment variable VAR
    #[arg(
        long,
        value_name = "VAR",
        conflicts_with = "http_secret_file",
        help_heading = "Templated webhook"
    )]
    pub http_secret_env: Option<String>,

    /// The value of {{ secret }}, from FILE (mode 0600, or age-encrypted)
    #[arg(long, value_name = "FILE", help_heading = "Templated webhook")]
    pub http_secret_file: Option<PathBuf>,

    /// Also trust the CA certificates in FILE (PEM) for Slack, Teams, SMS,
    /// PagerDuty, Opsgenie, Telegram, Matrix, ntfy and the templated
    /// webhook, besides the system store
    #[arg(long, value_name = "FILE", help_heading = "Secrets")]
    pub https_ca: Option<PathBuf>,

    /// age identity file (mode 0600) that decrypts age-encrypted secret files
    #[arg(long, value_name = "FILE", help_heading = "Secrets")]
    pub age_identity: Option<PathBuf>,

    /// Tries per message before it counts as failed [default: 3]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20),
          help_heading = "Delivery")]
    pub attempts: Option<u32>,

    /// Wait DURATION before the first retry, doubling up to 1m [default: 2s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Delivery")]
    pub retry_delay: Option<Duration>,

    /// Give up on one try after DURATION (connect, each read and write)
    /// [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Delivery")]
    pub timeout: Option<Duration>,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS; refuse servers without it
    Starttls,
    /// TLS from the first byte (SMTPS, port 465)
    Implicit,
    /// No encryption: only for a relay on this host
    None,
}

/// The webhook body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `{"text": "..."}`, as Slack, Mattermost and Rocket.Chat accept
    Slack,
    /// `{"subject": ..., "firing": [records], "resolved": [records]}`
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn recipients_repeat_and_secrets_have_one_source() {
        let args =
            Args::try_parse_from(["secops-notify", "--to", "a@x", "--to", "b@x", "in.jsonl"])
                .unwrap();
        assert_eq!(args.to, ["a@x", "b@x"]);
        assert!(
            Args::try_parse_from([
                "secops-notify",
                "--webhook-url-env",
                "V",
                "--webhook-url-file",
                "f"
            ])
            .is_err()
        );
    }
}
