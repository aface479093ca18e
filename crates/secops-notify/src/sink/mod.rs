//! Where messages go. Each sink takes a whole [`Digest`] and either
//! delivers it or says why not; retries and records are the caller's
//! ([`crate::delivery`]). Errors are plain text that the caller scrubs of
//! secrets before anyone sees it.

mod email;
mod exec;
mod syslog;
mod webhook;

use secops_common::Error;

use crate::digest::Digest;
use crate::settings::Settings;

pub enum Sink {
    Email(email::EmailSink),
    Webhook(webhook::WebhookSink),
    Exec(exec::ExecSink),
    Syslog(syslog::SyslogSink),
}

impl Sink {
    /// The sinks the settings name, in a fixed order.
    pub fn open_all(settings: &Settings) -> Result<Vec<Sink>, Error> {
        let mut sinks = Vec::new();
        if let Some(email) = &settings.email {
            sinks.push(Sink::Email(email::EmailSink::open(
                email,
                settings.timeout,
            )?));
        }
        if let Some(webhook) = &settings.webhook {
            sinks.push(Sink::Webhook(webhook::WebhookSink::open(
                webhook,
                settings.timeout,
            )));
        }
        if let Some(command) = &settings.exec {
            sinks.push(Sink::Exec(exec::ExecSink::new(command, settings.timeout)));
        }
        if let Some(socket) = &settings.syslog {
            sinks.push(Sink::Syslog(syslog::SyslogSink::new(socket.clone())));
        }
        Ok(sinks)
    }

    /// The name alert state is kept under.
    pub fn name(&self) -> &'static str {
        match self {
            Sink::Email(_) => "email",
            Sink::Webhook(_) => "webhook",
            Sink::Exec(_) => "exec",
            Sink::Syslog(_) => "syslog",
        }
    }

    /// Where it delivers, safe to show: no password, no webhook path.
    pub fn target(&self) -> &str {
        match self {
            Sink::Email(s) => s.target(),
            Sink::Webhook(s) => s.target(),
            Sink::Exec(s) => s.target(),
            Sink::Syslog(s) => s.target(),
        }
    }

    pub fn send(&self, digest: &Digest<'_>) -> Result<(), String> {
        match self {
            Sink::Email(s) => s.send(digest),
            Sink::Webhook(s) => s.send(digest),
            Sink::Exec(s) => s.send(digest),
            Sink::Syslog(s) => s.send(digest),
        }
    }
}
