//! The judging rules: what about a port or a script result deserves a
//! severity, and the one-line remediation that goes with it. They are data,
//! read from a YAML rules file (`--rules FILE`); the built-in set is
//! config/vuln-rules.yaml compiled in, so the shipped file and the defaults
//! can never drift apart, and an operator starts from a copy of it.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

use secops_common::record::now_rfc3339;
use secops_common::{Error, Severity};

use crate::matchers::{Pattern, PortMatch, TextMatch, VersionMatch};
use crate::records::service_text;
use crate::scan::{Port, Script};

/// config/vuln-rules.yaml, the rules used without `--rules`.
const BUILTIN_RULES: &str = include_str!("../../../config/vuln-rules.yaml");

/// One judgement about a port or a script result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule id for a port rule (`cleartext-admin`), the NSE script id
    /// for a script result (`ssl-cert`).
    pub id: String,
    /// The rule that judged it; `None` for a script result no rule matched.
    pub rule: Option<String>,
    pub title: String,
    pub severity: Severity,
    pub cves: Vec<String>,
    pub evidence: String,
    pub remediation: String,
    /// `rule` (from the port's service) or `script` (from an NSE result).
    pub source: &'static str,
    /// The URL of a web finding.
    pub url: Option<String>,
    pub references: Vec<String>,
}

/// A loaded rules file, in file order.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

/// The file: a list of rules, so new keys can be added beside it later.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<Rule>,
}

/// One rule: when every condition of `when` holds, a finding with this
/// severity, title and remediation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    id: String,
    severity: Severity,
    /// May name `{service}`, `{product}`, `{version}`, `{proto}`, `{port}`,
    /// `{script}`, `{match}` and `{vulnerability}`.
    title: String,
    #[serde(default)]
    remediation: String,
    #[serde(default)]
    cves: Vec<String>,
    #[serde(default)]
    when: Conditions,
}

/// The conditions of a rule; all that are given must hold. A rule with
/// `script`, `output` or `check` judges script results, any other judges
/// open ports.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Conditions {
    port: Option<PortMatch>,
    service: Option<TextMatch>,
    product: Option<TextMatch>,
    version: Option<VersionMatch>,
    exposure: Option<Exposure>,
    script: Option<TextMatch>,
    output: Option<Pattern>,
    check: Option<Check>,
}

/// Where the scanned address is, for rules about what others can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Exposure {
    Loopback,
    BeyondLoopback,
}

/// What a pattern cannot say about script output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Check {
    /// ssl-cert's `Not valid after:` is in the past.
    CertificateExpired,
    /// ssl-cert's `Subject:` equals its `Issuer:`.
    CertificateSelfSigned,
}

/// What a rule is matched against: the address, the port (none for a host
/// script) and the script result (none for a port rule).
struct Subject<'a> {
    addr: &'a str,
    port: Option<&'a Port>,
    script: Option<&'a Script>,
}

impl RuleSet {
    /// The built-in rules (config/vuln-rules.yaml as shipped).
    pub fn builtin() -> Result<RuleSet, Error> {
        Self::parse(BUILTIN_RULES).map_err(|err| {
            Error::failed(format!(
                "the built-in rules (config/vuln-rules.yaml) are broken: {err}"
            ))
        })
    }

    /// A rules file; YAML, or JSON when its name does not end in .yaml/.yml.
    /// Errors name the file, line, column and field, and exit 2.
    pub fn load(path: &Path) -> Result<RuleSet, Error> {
        let file: RulesFile = secops_common::config::load(path)?;
        Ok(RuleSet { rules: file.rules })
    }

    /// Rules file text (YAML), as [`RuleSet::load`] reads a file.
    pub fn parse(text: &str) -> Result<RuleSet, String> {
        let file: RulesFile =
            secops_common::config::parse(text, secops_common::config::Syntax::Yaml)?;
        Ok(RuleSet { rules: file.rules })
    }

    /// The findings of the port rules on an open port of `addr` (the first
    /// rule of each id that matches), then one per script result on it.
    pub fn judge_port(&self, addr: &str, port: &Port) -> Vec<Finding> {
        let subject = Subject {
            addr,
            port: Some(port),
            script: None,
        };
        let mut findings: Vec<Finding> = Vec::new();
        for rule in self.rules.iter().filter(|r| !r.when.is_script_rule()) {
            if findings.iter().any(|f| f.id == rule.id) {
                continue;
            }
            if let Some(found) = rule.when.test(&subject) {
                findings.push(rule.finding(&subject, found, port_evidence(port), "rule"));
            }
        }
        findings.extend(
            port.scripts
                .iter()
                .map(|script| self.judge_script(addr, Some(port), script)),
        );
        findings
    }

    /// A script result as a finding: judged by the first script rule that
    /// matches, else reported at `info`.
    pub fn judge_script(&self, addr: &str, port: Option<&Port>, script: &Script) -> Finding {
        if let Some(verdict) = &script.verdict {
            return verdict.clone();
        }
        let subject = Subject {
            addr,
            port,
            script: Some(script),
        };
        let evidence = script.output.trim().to_string();
        let mut finding = self
            .rules
            .iter()
            .filter(|r| r.when.is_script_rule())
            .find_map(|rule| {
                let found = rule.when.test(&subject)?;
                Some(rule.finding(&subject, found, evidence.clone(), "script"))
            })
            .unwrap_or_else(|| Finding {
                id: String::new(),
                rule: None,
                // A web finding says what it is; an NSE result is named by
                // its script.
                title: match &script.url {
                    Some(_) => script.output.trim().to_string(),
                    None => format!("{} result", script.id),
                },
                severity: Severity::Info,
                cves: Vec::new(),
                evidence,
                remediation: String::new(),
                source: "script",
                url: None,
                references: Vec::new(),
            });
        finding
            .id
            .clone_from(script.key.as_ref().unwrap_or(&script.id));
        finding.url.clone_from(&script.url);
        finding.references.clone_from(&script.references);
        for cve in cves(&script.output) {
            if !finding.cves.contains(&cve) {
                finding.cves.push(cve);
            }
        }
        finding
    }
}

impl Rule {
    fn finding(
        &self,
        subject: &Subject,
        found: Option<&str>,
        evidence: String,
        source: &'static str,
    ) -> Finding {
        Finding {
            id: self.id.clone(),
            rule: Some(self.id.clone()),
            title: fill(&self.title, subject, found),
            severity: self.severity,
            cves: self.cves.clone(),
            evidence,
            remediation: self.remediation.clone(),
            source,
            url: None,
            references: Vec::new(),
        }
    }
}

impl Conditions {
    fn is_script_rule(&self) -> bool {
        self.script.is_some() || self.output.is_some() || self.check.is_some()
    }

    /// `None` when a condition fails, else `Some` of what `output`
    /// matched (its first group), for the title's `{match}`.
    fn test<'s>(&self, subject: &Subject<'s>) -> Option<Option<&'s str>> {
        let port = subject.port;
        if let Some(ports) = &self.port
            && !port.is_some_and(|p| ports.matches(p.port))
        {
            return None;
        }
        let fields = [
            (&self.service, port.and_then(|p| p.service.as_deref())),
            (&self.product, port.and_then(|p| p.product.as_deref())),
        ];
        if fields
            .iter()
            .any(|(cond, value)| cond.as_ref().is_some_and(|c| !c.matches(*value)))
        {
            return None;
        }
        if let Some(version) = &self.version
            && !version.matches(port.and_then(|p| p.version.as_deref()))
        {
            return None;
        }
        if let Some(exposure) = self.exposure {
            let loopback = subject
                .addr
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
            if loopback != (exposure == Exposure::Loopback) {
                return None;
            }
        }
        let script = subject.script;
        if let Some(ids) = &self.script
            && !ids.matches(script.map(|s| s.id.as_str()))
        {
            return None;
        }
        if let Some(check) = self.check {
            let output = script.map_or("", |s| s.output.as_str());
            let holds = match check {
                Check::CertificateExpired => cert_expired(output),
                Check::CertificateSelfSigned => cert_self_signed(output),
            };
            if !holds {
                return None;
            }
        }
        match &self.output {
            Some(pattern) => pattern.find(&script?.output).map(Some),
            None => Some(None),
        }
    }
}

/// What a port rule saw: `ftp (vsftpd 2.3.4)`.
fn port_evidence(port: &Port) -> String {
    service_text(
        port.service.as_deref(),
        port.product.as_deref(),
        port.version.as_deref(),
    )
}

/// A rule's title with its placeholders filled in.
fn fill(template: &str, subject: &Subject, found: Option<&str>) -> String {
    if !template.contains('{') {
        return template.to_string();
    }
    let port = subject.port;
    let text = |value: Option<&str>| value.unwrap_or("").to_string();
    let output = subject.script.map_or("", |s| s.output.as_str());
    let values = [
        (
            "{service}",
            port.and_then(|p| p.service.clone().or_else(|| p.product.clone()))
                .unwrap_or_else(|| "unknown service".to_string()),
        ),
        ("{product}", text(port.and_then(|p| p.product.as_deref()))),
        ("{version}", text(port.and_then(|p| p.version.as_deref()))),
        ("{proto}", text(port.map(|p| p.proto.as_str()))),
        (
            "{port}",
            port.map(|p| p.port.to_string()).unwrap_or_default(),
        ),
        ("{script}", text(subject.script.map(|s| s.id.as_str()))),
        ("{match}", text(found.map(str::trim))),
        (
            "{vulnerability}",
            vulnerability_name(output)
                .unwrap_or("a vulnerability")
                .to_string(),
        ),
    ];
    let mut title = template.to_string();
    for (name, value) in values {
        if title.contains(name) {
            title = title.replace(name, &value);
        }
    }
    title.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The vuln library's report starts `VULNERABLE:` then the name.
fn vulnerability_name(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.ends_with("VULNERABLE:"))
}

/// ssl-cert's `Not valid after:  2026-01-01T00:00:00`, compared as text:
/// both sides are ISO 8601 in UTC, so text order is time order.
fn cert_expired(out: &str) -> bool {
    let now = now_rfc3339();
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Not valid after:"))
        .is_some_and(|after| after.trim() < &now[..19.min(now.len())])
}

/// ssl-cert prints `Subject:` and `Issuer:`; equal means self-signed.
fn cert_self_signed(out: &str) -> bool {
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(name).map(str::trim))
    };
    matches!((field("Subject:"), field("Issuer:")), (Some(s), Some(i)) if s == i)
}

/// CVE ids in a script's output, in order, without repeats.
fn cves(out: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = out;
    while let Some(at) = rest.find("CVE-") {
        let tail = &rest[at + 4..];
        let year: String = tail.chars().take_while(char::is_ascii_digit).collect();
        let number: String = tail
            .get(year.len() + 1..)
            .filter(|_| year.len() == 4 && tail[4..].starts_with('-'))
            .map(|t| t.chars().take_while(char::is_ascii_digit).collect())
            .unwrap_or_default();
        if number.len() >= 4 {
            let id = format!("CVE-{year}-{number}");
            if !found.contains(&id) {
                found.push(id);
            }
        }
        rest = tail;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RuleSet {
        RuleSet::builtin().unwrap()
    }

    fn port(service: &str) -> Port {
        Port {
            proto: "tcp".into(),
            port: 1,
            state: "open".into(),
            service: Some(service.into()),
            ..Port::default()
        }
    }

    fn script(id: &str, output: &str) -> Finding {
        let script = Script {
            id: id.into(),
            output: output.into(),
            ..Script::default()
        };
        rules().judge_script("127.0.0.1", None, &script)
    }

    #[test]
    fn cleartext_protocols_are_high_and_data_stores_critical_off_loopback() {
        let rules = rules();
        assert_eq!(
            rules.judge_port("127.0.0.1", &port("telnet"))[0].severity,
            Severity::High
        );
        assert!(rules.judge_port("127.0.0.1", &port("redis")).is_empty());
        let exposed = rules.judge_port("10.0.0.5", &port("redis"));
        assert_eq!(exposed[0].severity, Severity::Critical);
        assert_eq!(exposed[0].title, "redis is reachable beyond loopback");
        assert!(rules.judge_port("10.0.0.5", &port("http")).is_empty());
        let mut elastic = port("http");
        elastic.product = Some("Elasticsearch REST API".into());
        let found = rules.judge_port("10.0.0.5", &elastic);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].id, "datastore-exposed");
    }

    #[test]
    fn script_results_get_their_severity_and_cves() {
        let vuln = script(
            "ssl-heartbleed",
            "\n  VULNERABLE:\n  The Heartbleed Bug\n    State: VULNERABLE\n    IDs:  CVE:CVE-2014-0160\n    https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2014-0160\n",
        );
        assert_eq!(vuln.severity, Severity::High);
        assert_eq!(vuln.title, "The Heartbleed Bug (vulnerable)");
        assert_eq!(vuln.cves, ["CVE-2014-0160"]);
        assert_eq!(vuln.id, "ssl-heartbleed");
        assert_eq!(vuln.rule.as_deref(), Some("nse-vulnerable"));
        let auth = script(
            "ssh-auth-methods",
            "\n  Supported authentication methods: \n    publickey\n    password",
        );
        assert_eq!(auth.severity, Severity::Medium);
        let grade = script("ssl-enum-ciphers", "\n  TLSv1.0: \n  least strength: C");
        assert_eq!(
            (grade.severity, grade.title.as_str()),
            (Severity::Medium, "TLS grade C is below B")
        );
        let good = script("ssl-enum-ciphers", "\n  least strength: A");
        assert_eq!((good.severity, good.rule), (Severity::Info, None));
        let weak = script(
            "ssh2-enum-algos",
            "  kex_algorithms: (2)\n      curve25519-sha256\n      diffie-hellman-group1-sha1\n",
        );
        assert_eq!(
            weak.title,
            "SSH offers the weak algorithm diffie-hellman-group1-sha1"
        );
        let expired = script(
            "ssl-cert",
            "Subject: commonName=a\nIssuer: commonName=b\nNot valid after:  2001-01-01T00:00:00",
        );
        assert_eq!(expired.severity, Severity::High);
        let own = script(
            "ssl-cert",
            "Subject: commonName=a\nIssuer: commonName=a\nNot valid after:  2999-01-01T00:00:00",
        );
        assert_eq!(own.title, "the TLS certificate is self-signed");
        let trusted = script(
            "ssl-cert",
            "Subject: commonName=a\nIssuer: commonName=CA\nNot valid after:  2999-01-01T00:00:00",
        );
        assert_eq!(trusted.severity, Severity::Info);
    }

    #[test]
    fn backdoored_releases_are_critical_with_their_cve() {
        let mut p = port("ftp");
        p.product = Some("vsftpd".into());
        p.version = Some("2.3.4".into());
        let findings = rules().judge_port("127.0.0.1", &p);
        let backdoor = findings
            .iter()
            .find(|f| f.id == "backdoored-release")
            .unwrap();
        assert_eq!(
            (backdoor.severity, backdoor.cves.as_slice()),
            (Severity::Critical, &["CVE-2011-2523".to_string()][..])
        );
        p.version = Some("3.0.3".into());
        let findings = rules().judge_port("127.0.0.1", &p);
        assert!(findings.iter().all(|f| f.id != "backdoored-release"));
    }

    #[test]
    fn a_custom_rule_set_judges_by_port_version_and_exposure() {
        let rules = RuleSet::parse(
            "rules:\n\
             - id: old-openssh\n  severity: high\n  title: '{product} {version} on {port} is old'\n  \
               remediation: upgrade\n  when: {port: '22,2222', product: OpenSSH, version: '< 8.0'}\n\
             - id: local-only\n  severity: low\n  title: loopback\n  when: {exposure: loopback}\n",
        )
        .unwrap();
        let mut ssh = port("ssh");
        ssh.port = 2222;
        ssh.product = Some("OpenSSH".into());
        ssh.version = Some("7.4p1 Debian 10".into());
        let found = rules.judge_port("10.0.0.1", &ssh);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].title, "OpenSSH 7.4p1 Debian 10 on 2222 is old");
        assert_eq!(found[0].remediation, "upgrade");
        assert_eq!(rules.judge_port("127.0.0.1", &ssh).len(), 2);
        ssh.version = Some("9.2p1".into());
        assert!(rules.judge_port("10.0.0.1", &ssh).is_empty());
    }

    #[test]
    fn every_built_in_rule_is_documented() {
        let docs = include_str!("../../../docs/vulnscan.md");
        for rule in &rules().rules {
            let id = format!("`{}`", rule.id);
            assert!(docs.contains(&id), "docs/vulnscan.md does not list {id}");
        }
    }

    #[test]
    fn bad_rules_name_the_line_and_field() {
        let err = RuleSet::parse(
            "rules:\n  - id: x\n    severity: high\n    title: t\n    when:\n      servce: ssh\n",
        )
        .unwrap_err();
        assert!(err.starts_with("6:") && err.contains("servce"), "{err}");
        let err = RuleSet::parse(
            "rules:\n  - id: x\n    severity: high\n    title: t\n    when:\n      output: '(unclosed'\n",
        )
        .unwrap_err();
        assert!(
            err.starts_with("6:") && err.contains("rules[0].when.output"),
            "{err}"
        );
        let err =
            RuleSet::parse("rules:\n  - id: x\n    severity: severe\n    title: t\n").unwrap_err();
        assert!(err.starts_with("3:") && err.contains("severity"), "{err}");
        let err = RuleSet::parse(
            "rules:\n  - id: x\n    severity: low\n    title: t\n    when: {version: '<'}\n",
        )
        .unwrap_err();
        assert!(err.contains("rules[0].when.version"), "{err}");
    }
}
