//! Email over SMTP with lettre: STARTTLS (required, never silently skipped),
//! implicit TLS, or plain for a relay on this host; AUTH when a user is
//! given. TLS is rustls with the roots of [`crate::tls::roots`]: the
//! system store plus `--smtp-ca`.

use std::io::ErrorKind;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use secops_common::Error;

use crate::cli::SmtpTls;
use crate::digest::Digest;
use crate::settings::Email;
use crate::tls::{self, Roots};

pub struct EmailSink {
    transport: SmtpTransport,
    from: Mailbox,
    to: Vec<Mailbox>,
    target: String,
    timeout: Duration,
    /// What TLS trusts; `None` for plain SMTP.
    roots: Option<Roots>,
}

impl EmailSink {
    pub fn open(email: &Email, timeout: Duration) -> Result<EmailSink, Error> {
        let tls_failed = |err: lettre::transport::smtp::Error| {
            Error::failed(format!("cannot set up TLS: {err}"))
        };
        let roots = (email.tls != SmtpTls::None).then(|| tls::roots(email.ca.as_ref()));
        let params = match &roots {
            Some(roots) => {
                // lettre loads no roots of its own: only these.
                let mut params = TlsParameters::builder(email.host.clone())
                    .certificate_store(CertificateStore::None);
                for cert in &roots.certs {
                    params = params.add_root_certificate(
                        Certificate::from_der(cert.to_vec()).map_err(tls_failed)?,
                    );
                }
                Some(params.build().map_err(tls_failed)?)
            }
            None => None,
        };
        let tls = match (email.tls, params) {
            (SmtpTls::Starttls, Some(params)) => Tls::Required(params),
            (SmtpTls::Implicit, Some(params)) => Tls::Wrapper(params),
            _ => Tls::None,
        };
        let mut builder = SmtpTransport::builder_dangerous(email.host.as_str())
            .port(email.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some((user, password)) = &email.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        let mailbox = |address: &str| {
            address
                .parse::<Mailbox>()
                .map_err(|err| Error::bad_input(format!("{address:?} is not an address: {err}")))
        };
        let tls = match email.tls {
            SmtpTls::Starttls => "starttls",
            SmtpTls::Implicit => "tls",
            SmtpTls::None => "plain",
        };
        Ok(EmailSink {
            transport: builder.build(),
            from: mailbox(&email.from)?,
            to: email
                .to
                .iter()
                .map(|a| mailbox(a))
                .collect::<Result<_, _>>()?,
            timeout,
            roots,
            target: format!(
                "smtp {}:{} ({tls}) to {}",
                email.host,
                email.port,
                email.to.join(", ")
            ),
        })
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn send(&self, digest: &Digest<'_>) -> Result<(), String> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(digest.subject.as_str())
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = message
            .body(digest.body.clone())
            .map_err(|err| format!("cannot build the message: {err}"))?;
        self.transport.send(&message).map(|_| ()).map_err(|err| {
            self.roots
                .as_ref()
                .and_then(|roots| tls::explain(&err, roots, "--smtp-ca FILE (email.ca_file)"))
                .unwrap_or_else(|| describe(&err, self.timeout))
        })
    }
}

/// lettre's error, with the cause chain (a refused connection is in the
/// source, not the top line). A socket timeout surfaces as EAGAIN
/// ("resource temporarily unavailable"), which says nothing to an
/// operator, so it is named for what it is.
fn describe(err: &lettre::transport::smtp::Error, timeout: Duration) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
        {
            return format!(
                "timed out after {} waiting for the server",
                humantime::format_duration(timeout)
            );
        }
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
