//! Where messages go. Each sink takes a whole [`Digest`] and either
//! delivers it or says why not; retries and records are the caller's
//! ([`crate::delivery`]). Errors are plain text that the caller scrubs of
//! secrets before anyone sees it.
//!
//! The web receivers (everything but email, a command and syslog) are an
//! [`Api`]: they turn a digest into HTTP requests, and [`http::Client`]
//! sends them. A receiver whose API takes one alert per call (PagerDuty,
//! Opsgenie) makes several requests; a retry sends only the ones not yet
//! accepted, the same bytes again (Matrix's transaction id included), so a
//! retry never doubles what the service already took.

mod email;
mod exec;
pub mod http;
pub mod matrix;
pub mod ntfy;
pub mod opsgenie;
pub mod pagerduty;
pub mod slack;
pub mod sms;
mod syslog;
pub mod teams;
pub mod telegram;
pub mod template;
pub mod webhook;

use std::time::Duration;

use secops_common::{Error, Severity};

use crate::digest::Digest;
use crate::settings::Settings;
use crate::tls::PrivateCa;
use http::{Client, Request};

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub text: String,
    /// The service asked to be left alone this long (HTTP 429).
    pub retry_after: Option<Duration>,
    /// The service refused the request itself (400, 401, 403, 404, 422):
    /// the same bytes would be refused again, so it is not retried in
    /// this run.
    pub permanent: bool,
}

impl From<String> for SendError {
    fn from(text: String) -> SendError {
        SendError {
            text,
            retry_after: None,
            permanent: false,
        }
    }
}

/// One message's delivery across its tries: the requests it was made into
/// (the first try makes them), how far the service has taken them, and
/// the ones it refused outright.
#[derive(Debug, Default)]
pub struct Attempt {
    requests: Option<Vec<Request>>,
    done: usize,
    refused: Vec<SendError>,
}

pub struct Sink {
    pub name: &'static str,
    /// Alerts below this are not sent here.
    pub min_severity: Severity,
    /// Messages an hour at most; the rest wait, and the next message says
    /// how many alerts were held back.
    pub max_per_hour: Option<u32>,
    target: String,
    kind: Kind,
}

enum Kind {
    Email(email::EmailSink),
    Exec(exec::ExecSink),
    Syslog(syslog::SyslogSink),
    Web(Client, Api),
}

/// A receiver reached over HTTP.
#[derive(Debug, Clone)]
pub enum Api {
    Webhook(webhook::Webhook),
    Slack(slack::Slack),
    Teams(teams::Teams),
    Sms(sms::Sms),
    PagerDuty(pagerduty::PagerDuty),
    Opsgenie(opsgenie::Opsgenie),
    Telegram(telegram::Telegram),
    Matrix(matrix::Matrix),
    Ntfy(ntfy::Ntfy),
    Template(template::Custom),
}

/// What every web receiver's settings share.
#[derive(Debug, Clone)]
pub struct Common {
    pub min_severity: Severity,
    /// Trusted besides the system store.
    pub ca: Option<PrivateCa>,
}

impl Api {
    fn name(&self) -> &'static str {
        match self {
            Api::Webhook(_) => "webhook",
            Api::Slack(_) => "slack",
            Api::Teams(_) => "teams",
            Api::Sms(_) => "sms",
            Api::PagerDuty(_) => "pagerduty",
            Api::Opsgenie(_) => "opsgenie",
            Api::Telegram(_) => "telegram",
            Api::Matrix(_) => "matrix",
            Api::Ntfy(_) => "ntfy",
            Api::Template(_) => "http",
        }
    }

    /// The URL the client is made for (its scheme decides TLS) and where
    /// the receiver's private CA is set.
    fn endpoint(&self) -> (&str, &'static str) {
        match self {
            Api::Webhook(w) => (w.url.expose(), "--webhook-ca FILE (webhook.ca_file)"),
            Api::Slack(s) => (s.url.expose(), "--https-ca FILE (slack.ca_file)"),
            Api::Teams(t) => (t.url.expose(), "--https-ca FILE (teams.ca_file)"),
            Api::Sms(s) => (&s.api, "--https-ca FILE (sms.ca_file)"),
            Api::PagerDuty(p) => (&p.url, "--https-ca FILE (pagerduty.ca_file)"),
            Api::Opsgenie(o) => (&o.api, "--https-ca FILE (opsgenie.ca_file)"),
            Api::Telegram(t) => (&t.api, "--https-ca FILE (telegram.ca_file)"),
            Api::Matrix(m) => (&m.homeserver, "--https-ca FILE (matrix.ca_file)"),
            Api::Ntfy(n) => (&n.server, "--https-ca FILE (ntfy.ca_file)"),
            Api::Template(c) => (c.shown.expose(), "--https-ca FILE (http.ca_file)"),
        }
    }

    fn common(&self) -> &Common {
        match self {
            Api::Webhook(w) => &w.common,
            Api::Slack(s) => &s.common,
            Api::Teams(t) => &t.common,
            Api::Sms(s) => &s.common,
            Api::PagerDuty(p) => &p.common,
            Api::Opsgenie(o) => &o.common,
            Api::Telegram(t) => &t.common,
            Api::Matrix(m) => &m.common,
            Api::Ntfy(n) => &n.common,
            Api::Template(c) => &c.common,
        }
    }

    /// Where it delivers, safe to show.
    fn target(&self) -> String {
        let name = self.name();
        match self {
            Api::Sms(s) => format!("sms {} number(s) by {}", s.to.len(), s.api),
            Api::Telegram(t) => format!("telegram chat {} by {}", t.chat, t.api),
            Api::Matrix(m) => format!("matrix room {} on {}", m.room, m.homeserver),
            Api::Ntfy(n) => format!("ntfy topic {} on {}", n.topic, n.server),
            _ => format!("{name} {}", http::shown_url(self.endpoint().0)),
        }
    }

    /// Whether a 2xx answer really is delivery. A Teams connector answers
    /// 200 whatever happened, with "1" when it took the message and the
    /// error's text when it did not ("... returned HTTP error 429").
    fn check(&self, answer: &str) -> Result<(), SendError> {
        match self {
            Api::Teams(_) if answer.contains("error") || answer.contains("failed") => {
                let mut err =
                    SendError::from(format!("Teams refused the message: {}", answer.trim()));
                if answer.contains("429") {
                    err.retry_after = Some(http::UNHINTED_RATE_LIMIT);
                } else {
                    err.permanent = true;
                }
                Err(err)
            }
            _ => Ok(()),
        }
    }

    /// The requests that deliver `digest`.
    fn requests(&self, digest: &Digest<'_>) -> Vec<Request> {
        match self {
            Api::Webhook(w) => vec![w.request(digest)],
            Api::Slack(s) => vec![s.request(digest)],
            Api::Teams(t) => vec![t.request(digest)],
            Api::Sms(s) => s.requests(digest),
            Api::PagerDuty(p) => p.requests(digest),
            Api::Opsgenie(o) => o.requests(digest),
            Api::Telegram(t) => vec![t.request(digest)],
            Api::Matrix(m) => vec![m.request(digest)],
            Api::Ntfy(n) => vec![n.request(digest)],
            Api::Template(c) => c.requests(digest),
        }
    }
}

impl Sink {
    /// The sinks the settings name, in a fixed order.
    pub fn open_all(settings: &Settings) -> Result<Vec<Sink>, Error> {
        let mut sinks = Vec::new();
        if let Some(email) = &settings.email {
            let sink = email::EmailSink::open(email, settings.timeout)?;
            sinks.push(Sink {
                name: "email",
                min_severity: settings.min_severity,
                max_per_hour: None,
                target: sink.target().to_string(),
                kind: Kind::Email(sink),
            });
        }
        if let Some(command) = &settings.exec {
            let sink = exec::ExecSink::new(command, settings.timeout);
            sinks.push(Sink {
                name: "exec",
                min_severity: settings.min_severity,
                max_per_hour: None,
                target: sink.target().to_string(),
                kind: Kind::Exec(sink),
            });
        }
        if let Some(socket) = &settings.syslog {
            let sink = syslog::SyslogSink::new(socket.clone());
            sinks.push(Sink {
                name: "syslog",
                min_severity: settings.min_severity,
                max_per_hour: None,
                target: sink.target().to_string(),
                kind: Kind::Syslog(sink),
            });
        }
        for api in settings.apis.iter().cloned() {
            let (url, ca_option) = api.endpoint();
            let client = Client::new(url, api.common().ca.as_ref(), ca_option, settings.timeout);
            sinks.push(Sink {
                name: api.name(),
                min_severity: api.common().min_severity,
                max_per_hour: match &api {
                    Api::Sms(s) => Some(s.max_per_hour),
                    _ => None,
                },
                target: api.target(),
                kind: Kind::Web(client, api),
            });
        }
        Ok(sinks)
    }

    /// Where it delivers, safe to show: no password, no token.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// One try at delivering `digest`, going on from what `attempt` says
    /// earlier tries got accepted.
    pub fn send(&self, digest: &Digest<'_>, attempt: &mut Attempt) -> Result<(), SendError> {
        match &self.kind {
            Kind::Email(s) => s.send(digest).map_err(SendError::from),
            Kind::Exec(s) => s.send(digest).map_err(SendError::from),
            Kind::Syslog(s) => s.send(digest).map_err(SendError::from),
            // A request the service refuses outright does not hold back
            // the others (one bad PagerDuty event must not keep the rest
            // of the message's incidents from opening); the message then
            // fails as refused, and stays owed.
            Kind::Web(client, api) => {
                let requests = attempt.requests.get_or_insert_with(|| api.requests(digest));
                let total = requests.len();
                while let Some(request) = requests.get(attempt.done) {
                    let sent = client.send(request).and_then(|answer| api.check(&answer));
                    if let Err(mut err) = sent {
                        if total > 1 {
                            err.text =
                                format!("request {} of {total}: {}", attempt.done + 1, err.text);
                        }
                        if !err.permanent {
                            return Err(err);
                        }
                        attempt.refused.push(err);
                    }
                    attempt.done += 1;
                }
                match attempt.refused.first() {
                    None => Ok(()),
                    Some(first) if attempt.refused.len() == 1 => Err(first.clone()),
                    Some(first) => Err(SendError {
                        text: format!(
                            "{} requests refused; the first: {}",
                            attempt.refused.len(),
                            first.text
                        ),
                        ..first.clone()
                    }),
                }
            }
        }
    }
}

/// A short, stable key for an alert in a service that deduplicates by one
/// (PagerDuty's dedup_key, Opsgenie's alias): the ledger's key when it
/// fits in `max` bytes, else a hash of it.
pub fn service_key(key: &str, max: usize) -> String {
    if key.len() <= max {
        key.to_string()
    } else {
        secops_common::alert::alert_id("secops-notify", &[key])
    }
}
