//! A real headless Chromium, driven through chromedriver's WebDriver HTTP
//! API with a tiny HTTP/1.1 client (one request per connection), so a test
//! can load a report, run the page's own controls, read the DOM after the
//! page's script ran, and collect the browser console.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use secops_testkit::{Daemon, free_port, wait_until};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver (its profile and logs in the daemon's dir) and the
/// WebDriver session it holds; both end on drop.
pub struct Browser {
    driver: Daemon,
    port: u16,
    session: String,
}

/// How a page is loaded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scripts {
    On,
    Off,
}

impl Browser {
    pub fn start(scripts: Scripts) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: apt-get install chromium chromium-driver"
        );
        secops_testkit::require("chromedriver", "chromium-driver");
        let port = free_port("127.0.0.1");
        let profile = tempfile::tempdir().unwrap();
        let log = profile.path().join("chromedriver.log");
        let driver = Daemon::start(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display())),
            profile,
            "127.0.0.1",
            port,
        );
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
        };
        // The machine may be busy compiling: wait generously for readiness.
        let ready = wait_until(Duration::from_secs(120), || {
            matches!(browser.try_call("GET", "/status", None),
                Ok((200, status)) if status["value"]["ready"] == true)
        });
        assert!(
            ready,
            "chromedriver never became ready: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--hide-scrollbars".into(),
            "--window-size=1280,900".into(),
            format!(
                "--user-data-dir={}",
                browser.driver.path("chromium").display()
            ),
        ];
        if scripts == Scripts::Off {
            args.push("--blink-settings=scriptEnabled=false".into());
        }
        let created = browser.call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
                "goog:loggingPrefs": {"browser": "ALL"},
            }}})),
        );
        browser.session = created["value"]["sessionId"]
            .as_str()
            .expect("a WebDriver session id")
            .to_string();
        browser
    }

    /// Loads a local file and waits for it to finish loading.
    pub fn open(&self, file: &Path) {
        self.command(
            "POST",
            "url",
            json!({"url": format!("file://{}", file.display())}),
        );
    }

    /// Runs `script` (a function body) in the page and returns its result.
    pub fn eval(&self, script: &str) -> Value {
        self.try_eval(script)
            .unwrap_or_else(|err| panic!("script failed: {err}"))
    }

    /// The same, returning WebDriver's error (an alert open, say).
    pub fn try_eval(&self, script: &str) -> Result<Value, Value> {
        let path = format!("/session/{}/execute/sync", self.session);
        let body = json!({"script": script, "args": []});
        match self.try_call("POST", &path, Some(body)) {
            Ok((200, mut reply)) => Ok(reply["value"].take()),
            Ok((_, reply)) => Err(reply),
            Err(err) => panic!("chromedriver: {err}"),
        }
    }

    /// Everything the page wrote to the console, and every error it raised.
    pub fn console(&self) -> Vec<Value> {
        match self.command("POST", "se/log", json!({"type": "browser"})) {
            Value::Array(entries) => entries,
            other => panic!("unexpected browser log: {other}"),
        }
    }

    /// A WebDriver element reference for the first match of `css`.
    pub fn find(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            "element",
            json!({"using": "css selector", "value": css}),
        );
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    /// Clicks as a user does (scrolled into view, a real mouse event).
    pub fn click(&self, element: &str) {
        self.command("POST", &format!("element/{element}/click"), json!({}));
    }

    /// Types into an element as a user does.
    pub fn type_into(&self, element: &str, text: &str) {
        self.command(
            "POST",
            &format!("element/{element}/value"),
            json!({"text": text}),
        );
    }

    pub fn resize(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "window/rect",
            json!({"width": width, "height": height}),
        );
    }

    /// A Chrome DevTools Protocol command (print media emulation).
    pub fn devtools(&self, cmd: &str, params: Value) -> Value {
        self.command(
            "POST",
            "goog/cdp/execute",
            json!({"cmd": cmd, "params": params}),
        )
    }

    /// Saves a PNG of the window.
    pub fn screenshot(&self, path: &Path) {
        let png = self.command("GET", "screenshot", Value::Null);
        let bytes = base64_decode(png.as_str().expect("base64 PNG"));
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, bytes).unwrap();
    }

    /// The page printed to PDF, as a browser's print dialog would.
    pub fn print_pdf(&self) -> Vec<u8> {
        let pdf = self.command("POST", "print", json!({}));
        base64_decode(pdf.as_str().expect("base64 PDF"))
    }

    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let body = (!body.is_null()).then_some(body);
        self.call(method, &format!("/session/{}/{path}", self.session), body)["value"].take()
    }

    /// A WebDriver call that must succeed; its error (an unexpected alert
    /// open, say) fails the test with WebDriver's own message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, reply) = self
            .try_call(method, path, body)
            .unwrap_or_else(|err| panic!("chromedriver {method} {path}: {err}"));
        assert_eq!(status, 200, "chromedriver {method} {path}: {reply}");
        reply
    }

    fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> std::io::Result<(u16, Value)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(300)))?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        // chromedriver keeps the connection open despite `Connection:
        // close`, so the reply ends where its Content-Length says.
        let mut reply = Vec::new();
        let mut chunk = [0u8; 16384];
        let (head, body_start, length) = loop {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::Error::other("chromedriver closed the connection"));
            }
            reply.extend_from_slice(&chunk[..n]);
            if let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&reply[..end]).into_owned();
                let length = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                break (head, end + 4, length);
            }
        };
        while reply.len() < body_start + length {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&reply[body_start..]);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.try_call("DELETE", &format!("/session/{}", self.session), None);
        }
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut bytes = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        bytes.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    bytes
}
