//! The certificates every TLS connection of secops-notify trusts, email and
//! webhook alike: the system store (Debian's `ca-certificates`, or what
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` name instead, as OpenSSL reads them),
//! plus the sink's own private CA file (`--smtp-ca`, `--webhook-ca`).
//!
//! No roots are bundled in the binary: a bundled set would keep trusting a
//! CA that the distribution has since removed, and would not know an
//! operator's internal CA. A host without a system store gets a warning
//! when a TLS sink is opened and a failed send that says why.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use secops_common::Error;

/// Largest CA file read: Debian's whole bundle is about 220 KB.
const MAX_CA_FILE: u64 = 16 << 20;

/// A private CA file, read and checked when the settings are loaded.
#[derive(Debug, Clone)]
pub struct PrivateCa {
    pub path: PathBuf,
    certs: Vec<CertificateDer<'static>>,
}

impl PrivateCa {
    /// Reads the PEM certificates in `path`. A file that cannot be read,
    /// holds no PEM certificate, or one that is not a usable CA
    /// certificate is bad settings (exit 2), named with `place` (the flag
    /// or the settings key it came from).
    pub fn load(path: &Path, place: &str) -> Result<PrivateCa, Error> {
        let bad = |why: String| Error::bad_input(format!("{place}: {}: {why}", path.display()));
        let mut bytes = Vec::new();
        let file =
            std::fs::File::open(path).map_err(|err| bad(format!("cannot read it: {err}")))?;
        file.take(MAX_CA_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| bad(format!("cannot read it: {err}")))?;
        if bytes.len() as u64 > MAX_CA_FILE {
            return Err(bad(format!(
                "over {} MiB: not a CA file",
                MAX_CA_FILE >> 20
            )));
        }
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| bad(format!("not a valid PEM file: {err}")))?;
        if certs.is_empty() {
            return Err(bad(
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----); a DER file converts with: openssl x509 -inform der -in FILE -out FILE.pem".to_string(),
            ));
        }
        for (n, cert) in certs.iter().enumerate() {
            RootCertStore::empty()
                .add(cert.clone())
                .map_err(|err| bad(format!("certificate {} is not usable: {err}", n + 1)))?;
        }
        Ok(PrivateCa {
            path: path.to_path_buf(),
            certs,
        })
    }
}

/// What one sink trusts.
pub struct Roots {
    /// The system's certificates, then the private CA's.
    pub certs: Vec<CertificateDer<'static>>,
    /// How many came from the system store.
    pub system: usize,
    /// The private CA file, if any.
    pub private: Option<PathBuf>,
}

/// The trust roots of a TLS sink: the system store and `private`. The one
/// place either sink gets its roots from.
pub fn roots(private: Option<&PrivateCa>) -> Roots {
    let system = system_store();
    let mut certs = system.to_vec();
    if let Some(ca) = private {
        certs.extend(ca.certs.iter().cloned());
    }
    if certs.is_empty() {
        secops_common::warn!(
            "no CA certificates found in the system store ({}): TLS connections will fail; install ca-certificates, set SSL_CERT_FILE, or give the sink a private CA file",
            store_location()
        );
    }
    Roots {
        certs,
        system: system.len(),
        private: private.map(|ca| ca.path.clone()),
    }
}

/// The system store, read once per run. Certificates that rustls cannot
/// use are left out (as OpenSSL skips them), and the bundle file and the
/// hashed directory that both hold Debian's roots count once.
fn system_store() -> &'static [CertificateDer<'static>] {
    static STORE: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    STORE.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for err in &found.errors {
            secops_common::info!("system CA store: {err}");
        }
        let mut certs: Vec<CertificateDer<'static>> = found
            .certs
            .into_iter()
            .filter(|cert| RootCertStore::empty().add(cert.clone()).is_ok())
            .collect();
        certs.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
        certs.dedup_by(|a, b| a.as_ref() == b.as_ref());
        secops_common::info!(
            "system CA store ({}): {} certificates",
            store_location(),
            certs.len()
        );
        certs
    })
}

/// Where the system store was looked for, for messages.
fn store_location() -> String {
    let vars: Vec<String> = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .filter_map(|var| std::env::var_os(var).map(|v| format!("{var}={}", v.to_string_lossy())))
        .collect();
    if vars.is_empty() {
        "/etc/ssl/certs".to_string()
    } else {
        vars.join(", ")
    }
}

/// A rustls client configuration with the ring provider (as lettre uses)
/// and `roots`, for the webhook.
pub fn ureq_config(roots: &Roots) -> ureq::tls::TlsConfig {
    let certs: Vec<ureq::tls::Certificate<'static>> = roots
        .certs
        .iter()
        .map(|cert| ureq::tls::Certificate::from_der(cert.as_ref()).to_owned())
        .collect();
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)))
        .build()
}

/// When `err` (or one of its causes) is a refused server certificate, a
/// sentence that says so and, when its issuer is unknown, where it was
/// looked for and what to do: `option` names the sink's CA setting
/// (`--webhook-ca FILE (webhook.ca_file)`). `None` for every other error.
pub fn explain(
    err: &(dyn std::error::Error + 'static),
    roots: &Roots,
    option: &str,
) -> Option<String> {
    let mut cause = Some(err);
    while let Some(now) = cause {
        let found = now.downcast_ref::<rustls::Error>().or_else(|| {
            now.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(rustls::Error::InvalidCertificate(why)) = found {
            if !matches!(why, rustls::CertificateError::UnknownIssuer) {
                return Some(format!(
                    "the server's TLS certificate is not trusted: {why}"
                ));
            }
            let store = format!(
                "the system store ({}, {} certificates)",
                store_location(),
                roots.system
            );
            let missing = match &roots.private {
                Some(path) => format!("neither in {store} nor in {}", path.display()),
                None => format!("not in {store}; for a private CA give {option}"),
            };
            return Some(format!(
                "the server's TLS certificate is not trusted (UnknownIssuer): its issuer is {missing}"
            ));
        }
        cause = now.source();
    }
    None
}
