//! The web receivers' settings: each one's section of the settings file
//! and its flags (a flag wins over its key), resolved into the
//! [`Api`] it sends through. A receiver is configured when its key setting
//! is given (a URL, a token, a number); every other setting of it without
//! that is refused, so a half-written section never passes for a working
//! receiver.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secops_common::{Error, Severity};
use serde::Deserialize;

use crate::cli::Args;
use crate::secret::{self, Redactor, Secret, Source};
use crate::sink::http::is_web_url;
use crate::sink::template::{Custom, Per, Template};
use crate::sink::{Api, Common, matrix, ntfy, opsgenie, pagerduty, slack, sms, teams, telegram};
use crate::tls::PrivateCa;

/// Slack's or Teams' section: a webhook URL.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlFile {
    pub url_env: Option<String>,
    pub url_file: Option<PathBuf>,
    pub min_severity: Option<Severity>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsFile {
    pub url: Option<String>,
    pub account_sid: Option<String>,
    pub auth_token_env: Option<String>,
    pub auth_token_file: Option<PathBuf>,
    pub from: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    pub min_severity: Option<Severity>,
    pub max_per_hour: Option<u32>,
    pub segments: Option<u32>,
    pub ca_file: Option<PathBuf>,
}

/// PagerDuty's or Opsgenie's section: an API URL and a key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub url: Option<String>,
    pub key_env: Option<String>,
    pub key_file: Option<PathBuf>,
    pub min_severity: Option<Severity>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramFile {
    pub url: Option<String>,
    pub chat: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    pub min_severity: Option<Severity>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixFile {
    pub homeserver: Option<String>,
    pub room: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    pub min_severity: Option<Severity>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NtfyFile {
    pub url: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    pub min_severity: Option<Severity>,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpFile {
    pub url: Option<Template>,
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, Template>,
    pub content_type: Option<String>,
    pub body: Option<Template>,
    pub per: Option<Per>,
    pub secret_env: Option<String>,
    pub secret_file: Option<PathBuf>,
    pub min_severity: Option<Severity>,
    pub ca_file: Option<PathBuf>,
}

/// What resolving a receiver needs besides its own settings.
pub struct Context<'a> {
    pub args: &'a Args,
    pub age_identity: Option<&'a Path>,
    pub min_severity: Severity,
    pub redactor: &'a mut Redactor,
    /// `--https-ca`, read once.
    pub https_ca: Option<PrivateCa>,
    pub place: &'a dyn Fn(&str) -> String,
}

impl Context<'_> {
    /// A secret from a flag pair or else a key pair; scrubbed from errors
    /// from now on.
    fn secret(
        &mut self,
        flags: (&Option<String>, &Option<PathBuf>),
        keys: (Option<&String>, Option<&PathBuf>),
        what: &str,
    ) -> Result<Option<Secret>, Error> {
        let source = match (flags, keys) {
            ((Some(var), _), _) => Source::Env(var.clone()),
            ((None, Some(path)), _) => Source::File(path.clone()),
            (_, (Some(var), _)) => Source::Env(var.clone()),
            (_, (None, Some(path))) => Source::File(path.clone()),
            _ => return Ok(None),
        };
        let secret = secret::load(&source, what, self.age_identity)?;
        self.redactor.add_url(&secret);
        Ok(Some(secret))
    }

    fn common(
        &self,
        min: Option<Severity>,
        ca_file: Option<&PathBuf>,
        section: &str,
    ) -> Result<Common, Error> {
        let ca = match ca_file {
            Some(path) => Some(PrivateCa::load(
                path,
                &(self.place)(&format!("{section}.ca_file")),
            )?),
            None => self.https_ca.clone(),
        };
        Ok(Common {
            min_severity: min.unwrap_or(self.min_severity),
            ca,
        })
    }

    fn bad(&self, field: &str, why: impl std::fmt::Display) -> Error {
        Error::bad_input(format!("{}: {why}", (self.place)(field)))
    }

    /// `url`, which must be http(s); named by `field`, and quoted unless
    /// it is a secret.
    fn web_url(&self, url: &str, field: &str) -> Result<String, Error> {
        if is_web_url(url) {
            Ok(url.trim_end_matches('/').to_string())
        } else {
            Err(self.bad(
                field,
                format!("{url:?} must start with https:// or http://"),
            ))
        }
    }
}

/// Every web receiver the flags and `file` configure, in a fixed order.
pub struct Sections<'a> {
    pub slack: Option<&'a UrlFile>,
    pub teams: Option<&'a UrlFile>,
    pub sms: Option<&'a SmsFile>,
    pub pagerduty: Option<&'a KeyFile>,
    pub opsgenie: Option<&'a KeyFile>,
    pub telegram: Option<&'a TelegramFile>,
    pub matrix: Option<&'a MatrixFile>,
    pub ntfy: Option<&'a NtfyFile>,
    pub http: Option<&'a HttpFile>,
}

pub fn resolve(cx: &mut Context<'_>, sections: &Sections<'_>) -> Result<Vec<Api>, Error> {
    let mut apis = Vec::new();
    let a = cx.args;
    for (name, file, flags) in [
        (
            "slack",
            sections.slack,
            (&a.slack_url_env, &a.slack_url_file),
        ),
        (
            "teams",
            sections.teams,
            (&a.teams_url_env, &a.teams_url_file),
        ),
    ] {
        let empty = UrlFile::default();
        let f = file.unwrap_or(&empty);
        let keys = (f.url_env.as_ref(), f.url_file.as_ref());
        let Some(url) = cx.secret(flags, keys, &format!("the {name} webhook URL"))? else {
            if file.is_some() {
                return Err(cx.bad(&format!("{name}.url_env"), "give url_env or url_file"));
            }
            continue;
        };
        if !is_web_url(url.expose()) {
            // Not quoted: a mistyped URL may still hold the token.
            return Err(cx.bad(
                &format!("{name}.url_env"),
                "the URL must start with https:// or http://",
            ));
        }
        let common = cx.common(f.min_severity, f.ca_file.as_ref(), name)?;
        apis.push(match name {
            "slack" => Api::Slack(slack::Slack { url, common }),
            _ => Api::Teams(teams::Teams { url, common }),
        });
    }
    if let Some(api) = sms(cx, sections.sms)? {
        apis.push(api);
    }
    for (name, file, flags, url_flag) in [
        (
            "pagerduty",
            sections.pagerduty,
            (&a.pagerduty_key_env, &a.pagerduty_key_file),
            &a.pagerduty_url,
        ),
        (
            "opsgenie",
            sections.opsgenie,
            (&a.opsgenie_key_env, &a.opsgenie_key_file),
            &a.opsgenie_url,
        ),
    ] {
        let empty = KeyFile::default();
        let f = file.unwrap_or(&empty);
        let keys = (f.key_env.as_ref(), f.key_file.as_ref());
        let what = if name == "pagerduty" {
            "the PagerDuty routing key"
        } else {
            "the Opsgenie API key"
        };
        let Some(key) = cx.secret(flags, keys, what)? else {
            if file.is_some() || url_flag.is_some() {
                return Err(cx.bad(&format!("{name}.key_env"), "give key_env or key_file"));
            }
            continue;
        };
        let common = cx.common(f.min_severity, f.ca_file.as_ref(), name)?;
        let url = url_flag.clone().or(f.url.clone());
        apis.push(if name == "pagerduty" {
            Api::PagerDuty(pagerduty::PagerDuty {
                url: cx.web_url(
                    url.as_deref().unwrap_or(pagerduty::EVENTS_URL),
                    "pagerduty.url",
                )?,
                routing_key: key,
                common,
            })
        } else {
            Api::Opsgenie(opsgenie::Opsgenie {
                api: cx.web_url(url.as_deref().unwrap_or(opsgenie::API), "opsgenie.url")?,
                api_key: key,
                common,
            })
        });
    }
    if let Some(api) = telegram(cx, sections.telegram)? {
        apis.push(api);
    }
    if let Some(api) = matrix(cx, sections.matrix)? {
        apis.push(api);
    }
    if let Some(api) = ntfy(cx, sections.ntfy)? {
        apis.push(api);
    }
    if let Some(api) = http(cx, sections.http)? {
        apis.push(api);
    }
    Ok(apis)
}

fn sms(cx: &mut Context<'_>, file: Option<&SmsFile>) -> Result<Option<Api>, Error> {
    let a = cx.args;
    let empty = SmsFile::default();
    let f = file.unwrap_or(&empty);
    let to = if a.sms_to.is_empty() {
        f.to.clone()
    } else {
        a.sms_to.clone()
    };
    if to.is_empty() {
        if file.is_some() || a.sms_from.is_some() || a.sms_account_sid.is_some() {
            return Err(cx.bad("sms.to", "SMS needs at least one number to text"));
        }
        return Ok(None);
    }
    for number in &to {
        if !e164(number) {
            return Err(cx.bad(
                "sms.to",
                format!("{number:?} is not an E.164 number such as +15551234567"),
            ));
        }
    }
    let from = a.sms_from.clone().or(f.from.clone()).ok_or_else(|| {
        cx.bad(
            "sms.from",
            "SMS needs the sending number (or messaging service SID)",
        )
    })?;
    let account_sid = a
        .sms_account_sid
        .clone()
        .or(f.account_sid.clone())
        .ok_or_else(|| cx.bad("sms.account_sid", "SMS needs the Twilio account SID"))?;
    if account_sid.is_empty() || !account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(cx.bad(
            "sms.account_sid",
            format!("{account_sid:?} is not an account SID (AC followed by 32 hex digits)"),
        ));
    }
    let auth_token = cx
        .secret(
            (&a.sms_token_env, &a.sms_token_file),
            (f.auth_token_env.as_ref(), f.auth_token_file.as_ref()),
            "the Twilio auth token",
        )?
        .ok_or_else(|| {
            cx.bad(
                "sms.auth_token_env",
                "SMS needs the auth token: give auth_token_env or auth_token_file",
            )
        })?;
    let segments = a.sms_segments.or(f.segments).unwrap_or(1);
    let max_per_hour = a.sms_max_per_hour.or(f.max_per_hour).unwrap_or(4);
    if !(1..=sms::MAX_SEGMENTS).contains(&segments) || max_per_hour == 0 {
        return Err(cx.bad(
            "sms.segments",
            format!(
                "segments must be 1 to {} and max_per_hour at least 1",
                sms::MAX_SEGMENTS
            ),
        ));
    }
    let url = a.sms_url.clone().or(f.url.clone());
    let api = cx.web_url(
        url.as_deref().unwrap_or("https://api.twilio.com"),
        "sms.url",
    )?;
    let common = cx.common(
        Some(
            a.sms_min_severity
                .or(f.min_severity)
                .unwrap_or(Severity::Critical),
        ),
        f.ca_file.as_ref(),
        "sms",
    )?;
    Ok(Some(Api::Sms(sms::Sms {
        api,
        account_sid,
        auth_token,
        from,
        to,
        max_per_hour,
        segments,
        common,
    })))
}

/// `+` and 8 to 15 digits.
fn e164(number: &str) -> bool {
    number
        .strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

fn telegram(cx: &mut Context<'_>, file: Option<&TelegramFile>) -> Result<Option<Api>, Error> {
    let a = cx.args;
    let empty = TelegramFile::default();
    let f = file.unwrap_or(&empty);
    let token = cx.secret(
        (&a.telegram_token_env, &a.telegram_token_file),
        (f.token_env.as_ref(), f.token_file.as_ref()),
        "the Telegram bot token",
    )?;
    let chat = a.telegram_chat.clone().or(f.chat.clone());
    let (token, chat) = match (token, chat) {
        (None, None) if file.is_none() => return Ok(None),
        (Some(token), Some(chat)) => (token, chat),
        (None, _) => {
            return Err(cx.bad(
                "telegram.token_env",
                "Telegram needs the bot token: give token_env or token_file",
            ));
        }
        (Some(_), None) => {
            return Err(cx.bad("telegram.chat", "Telegram needs the chat to message"));
        }
    };
    let valid_chat = chat.parse::<i64>().is_ok()
        || chat.strip_prefix('@').is_some_and(|n| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    if !valid_chat {
        return Err(cx.bad(
            "telegram.chat",
            format!("{chat:?} is not a chat id (-1001234567890) or @channelusername"),
        ));
    }
    let url = a.telegram_url.clone().or(f.url.clone());
    Ok(Some(Api::Telegram(telegram::Telegram {
        api: cx.web_url(url.as_deref().unwrap_or(telegram::API), "telegram.url")?,
        token,
        chat,
        common: cx.common(f.min_severity, f.ca_file.as_ref(), "telegram")?,
    })))
}

fn matrix(cx: &mut Context<'_>, file: Option<&MatrixFile>) -> Result<Option<Api>, Error> {
    let a = cx.args;
    let empty = MatrixFile::default();
    let f = file.unwrap_or(&empty);
    let homeserver = a.matrix_homeserver.clone().or(f.homeserver.clone());
    let room = a.matrix_room.clone().or(f.room.clone());
    if homeserver.is_none()
        && room.is_none()
        && file.is_none()
        && a.matrix_token_env.is_none()
        && a.matrix_token_file.is_none()
    {
        return Ok(None);
    }
    let homeserver =
        homeserver.ok_or_else(|| cx.bad("matrix.homeserver", "Matrix needs the homeserver URL"))?;
    let homeserver = cx.web_url(&homeserver, "matrix.homeserver")?;
    let room = room.ok_or_else(|| cx.bad("matrix.room", "Matrix needs the room id"))?;
    if !room.starts_with('!') || !room.contains(':') {
        return Err(cx.bad(
            "matrix.room",
            format!("{room:?} is not a room id (!opaque:example.org); an alias (#room:example.org) shows its id in the client's room settings, Advanced"),
        ));
    }
    let token = cx
        .secret(
            (&a.matrix_token_env, &a.matrix_token_file),
            (f.token_env.as_ref(), f.token_file.as_ref()),
            "the Matrix access token",
        )?
        .ok_or_else(|| {
            cx.bad(
                "matrix.token_env",
                "Matrix needs an access token: give token_env or token_file",
            )
        })?;
    Ok(Some(Api::Matrix(matrix::Matrix {
        homeserver,
        room,
        token,
        common: cx.common(f.min_severity, f.ca_file.as_ref(), "matrix")?,
    })))
}

fn ntfy(cx: &mut Context<'_>, file: Option<&NtfyFile>) -> Result<Option<Api>, Error> {
    let a = cx.args;
    let empty = NtfyFile::default();
    let f = file.unwrap_or(&empty);
    let Some(url) = a.ntfy_url.clone().or(f.url.clone()) else {
        if file.is_some() || a.ntfy_token_env.is_some() || a.ntfy_token_file.is_some() {
            return Err(cx.bad(
                "ntfy.url",
                "ntfy needs the topic URL (https://ntfy.sh/TOPIC)",
            ));
        }
        return Ok(None);
    };
    let (server, topic) = ntfy::split_topic_url(&url).map_err(|why| cx.bad("ntfy.url", why))?;
    let token = cx.secret(
        (&a.ntfy_token_env, &a.ntfy_token_file),
        (f.token_env.as_ref(), f.token_file.as_ref()),
        "the ntfy access token",
    )?;
    Ok(Some(Api::Ntfy(ntfy::Ntfy {
        server,
        topic,
        token,
        common: cx.common(f.min_severity, f.ca_file.as_ref(), "ntfy")?,
    })))
}

fn http(cx: &mut Context<'_>, file: Option<&HttpFile>) -> Result<Option<Api>, Error> {
    let a = cx.args;
    let empty = HttpFile::default();
    let f = file.unwrap_or(&empty);
    let url = match &a.http_url {
        Some(text) => Template::parse(text).map_err(|why| cx.bad("http_url", why))?,
        None => match &f.url {
            Some(url) => url.clone(),
            None => {
                if file.is_some() || a.http_body.is_some() || !a.http_header.is_empty() {
                    return Err(cx.bad("http.url", "the templated webhook needs a URL"));
                }
                return Ok(None);
            }
        },
    };
    let shown = url.to_string();
    cx.web_url(&shown, "http.url")?;
    let body = match &a.http_body {
        Some(path) => {
            let text = secops_common::config::read_text(path, 1 << 20, "the body template")?;
            Template::parse(&text)
                .map_err(|why| Error::bad_input(format!("--http-body {}: {why}", path.display())))?
        }
        None => f.body.clone().unwrap_or_else(|| {
            Template::parse(r#"{"subject": {{ subject | json }}, "body": {{ body | json }}}"#)
                .expect("the default template parses")
        }),
    };
    let mut headers: Vec<(String, Template)> = Vec::new();
    if a.http_header.is_empty() {
        headers.extend(f.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
    } else {
        for header in &a.http_header {
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| cx.bad("http_header", format!("{header:?} is not 'Name: value'")))?;
            let value = Template::parse(value.trim()).map_err(|why| cx.bad("http_header", why))?;
            headers.push((name.trim().to_string(), value));
        }
    }
    for (name, _) in &headers {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(cx.bad("http.headers", format!("{name:?} is not a header name")));
        }
        if name.eq_ignore_ascii_case("content-type") {
            return Err(cx.bad("http.headers", "give the content type as content_type"));
        }
    }
    let method = a
        .http_method
        .clone()
        .or(f.method.clone())
        .unwrap_or("POST".into())
        .to_ascii_uppercase();
    if !["POST", "PUT", "PATCH", "GET", "DELETE"].contains(&method.as_str()) {
        return Err(cx.bad(
            "http.method",
            format!("{method:?}: use POST, PUT, PATCH, GET or DELETE"),
        ));
    }
    let content_type = a
        .http_content_type
        .clone()
        .or(f.content_type.clone())
        .unwrap_or("application/json".into());
    let secret = cx.secret(
        (&a.http_secret_env, &a.http_secret_file),
        (f.secret_env.as_ref(), f.secret_file.as_ref()),
        "the templated webhook's secret",
    )?;
    let custom = Custom {
        method,
        url,
        shown: Secret::new(shown),
        headers,
        content_type,
        body,
        per: a.http_per.or(f.per).unwrap_or_default(),
        secret,
        common: cx.common(f.min_severity, f.ca_file.as_ref(), "http")?,
    };
    cx.redactor.add_url(&custom.shown);
    custom.check().map_err(|why| cx.bad("http", why))?;
    Ok(Some(Api::Template(custom)))
}
