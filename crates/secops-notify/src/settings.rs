//! The settings of one run: `--config notify.yaml` (read with
//! secops_common::config, so errors name file:line:column:field and unknown
//! keys are refused) overlaid with the command-line flags, which win.
//! Secrets are loaded here, once, so a missing or loose secret file stops
//! the run before any input is read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secops_common::{Error, Severity};
use serde::{Deserialize, Deserializer};

use crate::cli::{Args, SmtpTls, WebhookFormat};
use crate::receivers::{
    self, HttpFile, KeyFile, MatrixFile, NtfyFile, SmsFile, TelegramFile, UrlFile,
};
use crate::secret::{self, Redactor, Secret, Source};
use crate::sink::http::is_web_url;
use crate::sink::webhook::Webhook;
use crate::sink::{Api, Common};
use crate::tls::PrivateCa;

/// The settings file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub min_severity: Option<Severity>,
    #[serde(default, deserialize_with = "duration")]
    pub repeat_interval: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub group_wait: Option<Duration>,
    pub max_items: Option<u32>,
    pub state_dir: Option<PathBuf>,
    pub age_identity: Option<PathBuf>,
    pub attempts: Option<u32>,
    #[serde(default, deserialize_with = "duration")]
    pub retry_delay: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    pub email: Option<EmailFile>,
    pub webhook: Option<WebhookFile>,
    pub exec: Option<String>,
    pub syslog: Option<SyslogFile>,
    pub slack: Option<UrlFile>,
    pub teams: Option<UrlFile>,
    pub sms: Option<SmsFile>,
    pub pagerduty: Option<KeyFile>,
    pub opsgenie: Option<KeyFile>,
    pub telegram: Option<TelegramFile>,
    pub matrix: Option<MatrixFile>,
    pub ntfy: Option<NtfyFile>,
    pub http: Option<HttpFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailFile {
    pub smtp: Option<String>,
    pub tls: Option<SmtpTls>,
    pub ca_file: Option<PathBuf>,
    pub user: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFile {
    pub url_env: Option<String>,
    pub url_file: Option<PathBuf>,
    pub format: Option<WebhookFormat>,
    pub min_severity: Option<Severity>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogFile {
    pub socket: Option<PathBuf>,
}

/// `30s`, `4h`: the humantime forms the flags take. A visitor rather than
/// parsing a deserialized String, so the YAML reader still knows the line
/// and column when the text is refused.
fn duration<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = Duration;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a duration such as 30s, 5m or 4h")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
            secops_common::cli::parse_duration(text).map_err(E::custom)
        }
    }
    de.deserialize_str(Text).map(Some)
}

/// Where email goes and how.
#[derive(Debug, Clone)]
pub struct Email {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// `--smtp-ca`, trusted besides the system store.
    pub ca: Option<PrivateCa>,
    pub credentials: Option<(String, Secret)>,
    pub from: String,
    pub to: Vec<String>,
}

/// Everything a run needs, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub min_severity: Severity,
    pub repeat_interval: Duration,
    pub group_wait: Duration,
    pub max_items: usize,
    pub state_dir: Option<PathBuf>,
    pub attempts: u32,
    pub retry_delay: Duration,
    pub timeout: Duration,
    pub email: Option<Email>,
    /// The web receivers: the webhook, Slack, Teams, SMS, the pagers,
    /// chat and the templated webhook.
    pub apis: Vec<Api>,
    pub exec: Option<String>,
    pub syslog: Option<PathBuf>,
    /// Scrubs every secret above out of error texts.
    pub redactor: Redactor,
}

/// Alertmanager's default repeat interval.
const REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);
const GROUP_WAIT: Duration = Duration::from_secs(30);

/// The settings read when the command line names no receiver and no
/// `--config`: where scripts/install and the package put the example.
pub const SYSTEM_CONFIG: &str = "/etc/secops/notify.yaml";

impl Settings {
    /// The settings `args` give, or, when they name no receiver and no
    /// `--config`, those of [`SYSTEM_CONFIG`] where it exists (flags still
    /// win over it): `tool | secops-notify` then alerts as the machine is
    /// set up to, as cron/ and the units do with `--config`.
    pub fn load(args: &Args) -> Result<Settings, Error> {
        let settings = Settings::resolve(args)?;
        let has_receiver = settings.email.is_some()
            || !settings.apis.is_empty()
            || settings.exec.is_some()
            || settings.syslog.is_some();
        if has_receiver || args.config.is_some() || !Path::new(SYSTEM_CONFIG).exists() {
            return Ok(settings);
        }
        Settings::resolve(&Args {
            config: Some(SYSTEM_CONFIG.into()),
            ..args.clone()
        })
    }

    fn resolve(args: &Args) -> Result<Settings, Error> {
        let file: File = match &args.config {
            Some(path) => secops_common::config::load(path)?,
            None => File::default(),
        };
        let place = |field: &str| match &args.config {
            Some(path) => format!("{} ({field})", path.display()),
            None => format!("--{}", field.replace('_', "-")),
        };
        let age_identity = args.age_identity.clone().or(file.age_identity.clone());
        let mut redactor = Redactor::default();

        let email = email(args, file.email.as_ref(), age_identity.as_deref(), &place)?;
        if let Some(Email {
            credentials: Some((_, password)),
            ..
        }) = &email
        {
            redactor.add(password);
        }
        let min_severity = args
            .min_severity
            .or(file.min_severity)
            .unwrap_or(Severity::High);
        let mut apis = Vec::new();
        if let Some(webhook) = webhook(
            args,
            file.webhook.as_ref(),
            age_identity.as_deref(),
            min_severity,
            &place,
        )? {
            redactor.add_url(&webhook.url);
            apis.push(Api::Webhook(webhook));
        }
        let https_ca = match &args.https_ca {
            Some(path) => Some(PrivateCa::load(path, "--https-ca")?),
            None => None,
        };
        let mut context = receivers::Context {
            args,
            age_identity: age_identity.as_deref(),
            min_severity,
            redactor: &mut redactor,
            https_ca,
            place: &place,
        };
        apis.extend(receivers::resolve(
            &mut context,
            &receivers::Sections {
                slack: file.slack.as_ref(),
                teams: file.teams.as_ref(),
                sms: file.sms.as_ref(),
                pagerduty: file.pagerduty.as_ref(),
                opsgenie: file.opsgenie.as_ref(),
                telegram: file.telegram.as_ref(),
                matrix: file.matrix.as_ref(),
                ntfy: file.ntfy.as_ref(),
                http: file.http.as_ref(),
            },
        )?);
        let syslog = match (&args.syslog_socket, args.syslog, &file.syslog) {
            (Some(path), _, _) => Some(path.clone()),
            (None, true, _) => Some(PathBuf::from("/dev/log")),
            (None, false, Some(s)) => Some(s.socket.clone().unwrap_or("/dev/log".into())),
            (None, false, None) => None,
        };
        let max_items = args.max_items.or(file.max_items).unwrap_or(10);
        let attempts = args.attempts.or(file.attempts).unwrap_or(3);
        if max_items == 0 || !(1..=20).contains(&attempts) {
            return Err(Error::bad_input(format!(
                "{}: max_items must be at least 1 and attempts between 1 and 20",
                place("attempts")
            )));
        }
        Ok(Settings {
            min_severity,
            repeat_interval: args
                .repeat_interval
                .or(file.repeat_interval)
                .unwrap_or(REPEAT_INTERVAL),
            group_wait: args.group_wait.or(file.group_wait).unwrap_or(GROUP_WAIT),
            max_items: max_items as usize,
            state_dir: args.state.state_dir.clone().or(file.state_dir),
            attempts,
            retry_delay: args
                .retry_delay
                .or(file.retry_delay)
                .unwrap_or(Duration::from_secs(2)),
            timeout: args
                .timeout
                .or(file.timeout)
                .unwrap_or(Duration::from_secs(30)),
            email,
            apis,
            exec: args.exec.clone().or(file.exec),
            syslog,
            redactor,
        })
    }
}

fn email(
    args: &Args,
    file: Option<&EmailFile>,
    age_identity: Option<&Path>,
    place: &dyn Fn(&str) -> String,
) -> Result<Option<Email>, Error> {
    let empty = EmailFile::default();
    let file = file.unwrap_or(&empty);
    let server = args.smtp.clone().or(file.smtp.clone());
    let to = if args.to.is_empty() {
        file.to.clone()
    } else {
        args.to.clone()
    };
    let Some(server) = server else {
        if !to.is_empty() || args.from.is_some() {
            return Err(Error::bad_input(format!(
                "{}: recipients are given but no SMTP server",
                place("smtp")
            )));
        }
        if args.smtp_ca.is_some() || file.ca_file.is_some() {
            return Err(Error::bad_input(format!(
                "{}: a CA file is given but no SMTP server",
                place("smtp")
            )));
        }
        return Ok(None);
    };
    let (host, port, url_tls) = parse_server(&server)
        .map_err(|why| Error::bad_input(format!("{}: {why}", place("smtp"))))?;
    if to.is_empty() {
        return Err(Error::bad_input(format!(
            "{}: email needs at least one recipient",
            place("to")
        )));
    }
    let from = args.from.clone().or(file.from.clone()).unwrap_or_else(|| {
        format!(
            "secops-notify@{}",
            secops_common::record::hostname().trim_end_matches('.')
        )
    });
    for address in to.iter().chain([&from]) {
        address.parse::<lettre::Address>().map_err(|err| {
            Error::bad_input(format!(
                "{}: {address:?} is not an address: {err}",
                place("to")
            ))
        })?;
    }
    let tls = args
        .smtp_tls
        .or(file.tls)
        .or(url_tls)
        .unwrap_or(if port == 465 {
            SmtpTls::Implicit
        } else {
            SmtpTls::Starttls
        });
    let password_source = match (&args.smtp_password_env, &args.smtp_password_file) {
        (Some(var), _) => Some(Source::Env(var.clone())),
        (None, Some(path)) => Some(Source::File(path.clone())),
        (None, None) => match (&file.password_env, &file.password_file) {
            (Some(var), _) => Some(Source::Env(var.clone())),
            (None, Some(path)) => Some(Source::File(path.clone())),
            (None, None) => None,
        },
    };
    let user = args.smtp_user.clone().or(file.user.clone());
    let credentials = match (user, password_source) {
        (Some(user), Some(source)) => Some((
            user,
            secret::load(&source, "the SMTP password", age_identity)?,
        )),
        (None, None) => None,
        _ => {
            return Err(Error::bad_input(format!(
                "{}: SMTP AUTH needs both a user and a password source",
                place("smtp_user")
            )));
        }
    };
    if credentials.is_some() && tls == SmtpTls::None && !is_loopback(&host) {
        return Err(Error::bad_input(format!(
            "{}: refusing to send the SMTP password unencrypted to {host}; use starttls or implicit",
            place("smtp_tls")
        )));
    }
    let ca = private_ca(
        args.smtp_ca.as_deref(),
        file.ca_file.as_deref(),
        "--smtp-ca",
        "email.ca_file",
        place,
    )?;
    Ok(Some(Email {
        host,
        port,
        tls,
        ca,
        credentials,
        from,
        to,
    }))
}

fn webhook(
    args: &Args,
    file: Option<&WebhookFile>,
    age_identity: Option<&Path>,
    min_severity: Severity,
    place: &dyn Fn(&str) -> String,
) -> Result<Option<Webhook>, Error> {
    let file_ca = file.and_then(|f| f.ca_file.as_deref());
    let source = match (&args.webhook_url_env, &args.webhook_url_file, file) {
        (Some(var), _, _) => Source::Env(var.clone()),
        (None, Some(path), _) => Source::File(path.clone()),
        (
            None,
            None,
            Some(WebhookFile {
                url_env: Some(var), ..
            }),
        ) => Source::Env(var.clone()),
        (
            None,
            None,
            Some(WebhookFile {
                url_file: Some(path),
                ..
            }),
        ) => Source::File(path.clone()),
        _ => {
            if let Some(ca) = args.webhook_ca.as_deref().or(file_ca) {
                return Err(Error::bad_input(format!(
                    "a webhook CA file is given ({}) but no webhook: give --webhook-url-env or --webhook-url-file",
                    ca.display()
                )));
            }
            return Ok(None);
        }
    };
    let url = secret::load(&source, "the webhook URL", age_identity)?;
    if !is_web_url(url.expose()) {
        // Not quoted: a mistyped URL may still hold the token.
        return Err(Error::bad_input(
            "the webhook URL must start with https:// or http://",
        ));
    }
    Ok(Some(Webhook {
        url,
        format: args
            .webhook_format
            .or(file.and_then(|f| f.format))
            .unwrap_or(WebhookFormat::Slack),
        common: Common {
            min_severity: file.and_then(|f| f.min_severity).unwrap_or(min_severity),
            ca: private_ca(
                args.webhook_ca.as_deref(),
                file_ca,
                "--webhook-ca",
                "webhook.ca_file",
                place,
            )?,
        },
    }))
}

/// A sink's private CA file, from its flag or else its settings key, read
/// and checked now: a missing or unreadable file, or one that is not PEM
/// certificates, is bad settings naming the file and where it was given.
fn private_ca(
    flag: Option<&Path>,
    key: Option<&Path>,
    flag_name: &str,
    key_name: &str,
    place: &dyn Fn(&str) -> String,
) -> Result<Option<PrivateCa>, Error> {
    match (flag, key) {
        (Some(path), _) => PrivateCa::load(path, flag_name).map(Some),
        (None, Some(path)) => PrivateCa::load(path, &place(key_name)).map(Some),
        (None, None) => Ok(None),
    }
}

/// `HOST:PORT`, `HOST` (port 587), `smtp://HOST[:PORT]` (587, STARTTLS),
/// `smtps://HOST[:PORT]` (465, implicit TLS); `[::1]:25` for IPv6.
pub fn parse_server(text: &str) -> Result<(String, u16, Option<SmtpTls>), String> {
    let (rest, tls, default_port) = if let Some(rest) = text.strip_prefix("smtps://") {
        (rest, Some(SmtpTls::Implicit), 465)
    } else if let Some(rest) = text.strip_prefix("smtp://") {
        (rest, None, 587)
    } else if text.contains("://") {
        return Err(format!("{text:?}: use HOST:PORT, smtp:// or smtps://"));
    } else {
        (text, None, 587)
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('@') || rest.contains('/') {
        return Err(format!(
            "{text:?}: give only the host and port (the user goes in --smtp-user, the password in a secret)"
        ));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{text:?}: unclosed ["))?;
        (host, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{text:?}: no host"));
    }
    let port = match port {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{text:?}: {port:?} is not a port"))?,
        None => default_port,
    };
    Ok((host.to_string(), port, tls))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::template::Per;
    use secops_common::config::{Syntax, parse};

    #[test]
    fn servers_read_as_operators_write_them() {
        assert_eq!(parse_server("mail:587"), Ok(("mail".into(), 587, None)));
        assert_eq!(
            parse_server("smtps://mail.example.com"),
            Ok(("mail.example.com".into(), 465, Some(SmtpTls::Implicit)))
        );
        assert_eq!(
            parse_server("smtp://127.0.0.1:2525/"),
            Ok(("127.0.0.1".into(), 2525, None))
        );
        assert_eq!(parse_server("[::1]:25"), Ok(("::1".into(), 25, None)));
        assert!(
            parse_server("smtp://user:pw@mail")
                .unwrap_err()
                .contains("--smtp-user")
        );
        assert!(parse_server("http://mail").is_err());
        assert!(parse_server("mail:0").is_err());
    }

    #[test]
    fn the_settings_file_refuses_unknown_keys_and_bad_durations() {
        let err =
            parse::<File>("email:\n  smtp: mail:587\n  too: [a@b]\n", Syntax::Yaml).unwrap_err();
        assert!(err.starts_with("3:") && err.contains("email.too"), "{err}");
        let err =
            parse::<File>("min_severity: high\nrepeat_interval: soon\n", Syntax::Yaml).unwrap_err();
        assert!(
            err.starts_with("2:") && err.contains("repeat_interval"),
            "{err}"
        );
        let ok = parse::<File>(
            "repeat_interval: 4h\ngroup_wait: 30s\nwebhook:\n  url_env: HOOK\n  format: json\n",
            Syntax::Yaml,
        )
        .unwrap();
        assert_eq!(ok.repeat_interval, Some(REPEAT_INTERVAL));
        assert_eq!(ok.webhook.unwrap().format, Some(WebhookFormat::Json));
    }

    #[test]
    fn a_template_with_an_unknown_field_is_refused_at_its_line() {
        let text = "min_severity: high\nhttp:\n  url: https://api.example.com/alerts\n  body: '{\"t\": {{ sevrity | json }}}'\n";
        let err = parse::<File>(text, Syntax::Yaml).unwrap_err();
        assert!(err.starts_with("4:") && err.contains("http.body"), "{err}");
        assert!(err.contains("unknown field {{ sevrity }}"), "{err}");
        let ok = parse::<File>(
            "http:\n  url: https://x/{{ secret | url }}\n  per: alert\n  headers:\n    X-Key: '{{ secret }}'\n",
            Syntax::Yaml,
        )
        .unwrap();
        assert_eq!(ok.http.unwrap().headers.len(), 1);
    }

    #[test]
    fn the_example_settings_file_is_valid() {
        let text = include_str!("../../../config/notify.yaml");
        let file = parse::<File>(text, Syntax::Yaml).unwrap();
        assert_eq!(file.email.unwrap().to, ["ops@example.com"]);
        // Its commented-out receivers are valid too, once uncommented.
        let receivers = text.split_once("# Uncomment the ones you use.").unwrap().1;
        let uncommented: String = receivers
            .lines()
            .map(|line| format!("{}\n", line.strip_prefix("# ").unwrap_or("")))
            .collect();
        let file = parse::<File>(&uncommented, Syntax::Yaml).unwrap();
        assert!(file.slack.is_some() && file.teams.is_some() && file.pagerduty.is_some());
        assert!(file.opsgenie.is_some() && file.telegram.is_some() && file.matrix.is_some());
        assert!(file.ntfy.is_some() && file.http.unwrap().per == Some(Per::Alert));
        assert_eq!(file.sms.unwrap().max_per_hour, Some(4));
    }
}
