//! `lettermerge preview` running on a campaign, and plain HTTP requests to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::time::Duration;

use crate::common::{Ran, Running, Test};

/// A preview server on a free port.
pub struct Served {
    pub url: String,
    running: Running,
    agent: ureq::Agent,
}

/// An answer: status, headers and body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Served {
    /// Starts `lettermerge preview --port 0` on the test's campaign and reads its address.
    pub fn start(test: Test) -> Served {
        Served::start_with(test, &[])
    }

    /// [`Served::start`] with more arguments for `preview`.
    pub fn start_with(test: Test, more: &[&str]) -> Served {
        let mut running = test
            .args(["preview", "--port", "0"])
            .args(more.iter().copied())
            .spawn();
        let url = running.stdout_line();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
            "the first line of stdout is not the address: {url:?}"
        );
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Served {
            url,
            running,
            agent,
        }
    }

    /// The port the preview listens on.
    pub fn port(&self) -> u16 {
        self.url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the address")
    }

    pub fn get(&self, path: &str) -> Answer {
        self.request("GET", path, &[])
    }

    /// A request with any method and extra headers.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
        let url = format!("{}{}", self.url, path.trim_start_matches('/'));
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(ureq::SendBody::none()).expect("a request");
        let mut response = self
            .agent
            .run(request)
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        Answer {
            status: response.status().as_u16(),
            headers,
            body: response
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_vec()
                .expect("read the body"),
        }
    }

    /// Opens the event stream; [`Events::next`] reads one event at a time.
    pub fn events(&self) -> Events {
        let response = self
            .agent
            .get(format!("{}events", self.url))
            .call()
            .expect("open /events");
        assert_eq!(response.status().as_u16(), 200);
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Events {
            lines: BufReader::new(Box::new(response.into_body().into_reader())),
        }
    }

    /// Reads change events until `/api/campaign` meets `done`, and returns it. A preview that
    /// never gets there ends the stream after a minute and fails the test.
    pub fn until(
        &self,
        events: &mut Events,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        loop {
            let (event, _) = events.next();
            if event == "change" {
                let campaign = self.get("/api/campaign").json();
                if done(&campaign) {
                    return campaign;
                }
            }
        }
    }

    /// A file of the campaign, written while the preview runs.
    pub fn write(&self, path: &str, text: &str) {
        self.running.write(path, text);
    }

    /// The campaign folder.
    pub fn path(&self) -> std::path::PathBuf {
        self.running.path()
    }

    /// Presses Ctrl-C and collects what the preview printed.
    pub fn stop(self) -> Ran {
        self.running.interrupt()
    }
}

/// Server-sent events, as (event, data).
pub struct Events {
    lines: BufReader<Box<dyn std::io::Read + Send>>,
}

impl Events {
    /// The next event; comments (keep-alives) are skipped.
    pub fn next(&mut self) -> (String, String) {
        let (mut event, mut data) = (String::new(), String::new());
        loop {
            let mut line = String::new();
            let n = self.lines.read_line(&mut line).expect("read an event");
            assert!(n > 0, "the event stream ended");
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if !event.is_empty() || !data.is_empty() {
                    return (event, data);
                }
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data = v.trim().to_string();
            }
        }
    }
}
