//! The preview's HTTP server: the page, its JSON, each letter's page, PDF and email, and a stream
//! of change events. Only GET requests, only on 127.0.0.1, only for this computer's browser.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt};

use super::{Fetched, Snapshot};
use crate::clock::Clock;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// The page may load its own script, style and frames, and nothing from anywhere else.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; frame-src 'self'; img-src 'self' data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";
/// A letter's page runs no script at all, whatever its text holds.
const LETTER_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// What every request sees: the newest reading of the campaign, and news of the next.
#[derive(Clone)]
pub struct Preview {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    clock: Clock,
    snapshot: RwLock<Arc<Snapshot>>,
    changes: broadcast::Sender<u64>,
    /// The Host headers this server answers to (`127.0.0.1:PORT`, `localhost:PORT`): a web page
    /// elsewhere cannot reach the preview through a name of its own that points at 127.0.0.1.
    hosts: [String; 2],
}

impl Preview {
    /// Reads the campaign once, before the first page is asked for, to serve on `port`.
    pub fn new(dir: PathBuf, clock: Clock, port: u16) -> Preview {
        let snapshot = Snapshot::load(&dir, &clock, 1);
        let (changes, _) = broadcast::channel(16);
        Preview {
            inner: Arc::new(Inner {
                dir,
                clock,
                snapshot: RwLock::new(Arc::new(snapshot)),
                changes,
                hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
            }),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.inner.dir
    }

    /// The newest reading.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let guard = self
            .inner
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner());
        Arc::clone(&guard)
    }

    /// Reads the campaign again and tells every open page.
    pub fn reload(&self) -> Arc<Snapshot> {
        let version = self.snapshot().version + 1;
        let snapshot = Arc::new(Snapshot::load(&self.inner.dir, &self.inner.clock, version));
        *self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::clone(&snapshot);
        // No page open is not an error.
        let _ = self.inner.changes.send(version);
        snapshot
    }

    /// Every route of the preview.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/app.js", get(script))
            .route("/app.css", get(style))
            .route("/api/campaign", get(campaign))
            .route("/api/letters/{key}", get(letter))
            .route("/letters/{id}/page", get(page))
            .route("/letters/{id}/pdf", get(pdf))
            .route("/letters/{id}/eml", get(eml))
            .route("/events", get(events))
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(self.clone(), guard))
            .with_state(self.clone())
    }
}

/// Refuses requests for another host name, and marks every answer as not to be cached.
async fn guard(State(preview): State<Preview>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !preview.inner.hosts.contains(&host) {
        return (
            StatusCode::FORBIDDEN,
            "the preview answers only at http://127.0.0.1 on its own port\n",
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn typed(content_type: &'static str, policy: Option<&'static str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(policy) = policy {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(policy),
        );
    }
    headers
}

/// The page, with the newest reading of the campaign in it: the list is drawn without waiting
/// for a second request. JSON has `<` only inside strings, where `\u003c` means the same, so
/// no text in it can end the script element.
async fn index(State(preview): State<Preview>) -> impl IntoResponse {
    let snapshot = preview.snapshot();
    let data = String::from_utf8_lossy(snapshot.summary()).replace('<', "\\u003c");
    let page = INDEX.replacen(
        "<!--campaign-->",
        &format!("<script id=\"campaign-data\" type=\"application/json\">{data}</script>"),
        1,
    );
    (typed("text/html; charset=utf-8", Some(PAGE_POLICY)), page)
}

async fn script() -> impl IntoResponse {
    (typed("text/javascript; charset=utf-8", None), SCRIPT)
}

async fn style() -> impl IntoResponse {
    (typed("text/css; charset=utf-8", None), STYLE)
}

async fn campaign(State(preview): State<Preview>) -> Response {
    let snapshot = preview.snapshot();
    (typed("application/json", None), snapshot.summary().to_vec()).into_response()
}

async fn letter(State(preview): State<Preview>, UrlPath(key): UrlPath<String>) -> Response {
    let snapshot = preview.snapshot();
    let clock = preview.inner.clock;
    let view = blocking(move || {
        snapshot
            .letter_view(&key, &clock)
            .map(|v| serde_json::to_vec(&v))
    })
    .await;
    match view {
        Some(Ok(json)) => (typed("application/json", None), json).into_response(),
        Some(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        None => not_found().await.into_response(),
    }
}

async fn page(State(preview): State<Preview>, UrlPath(id): UrlPath<String>) -> Response {
    let snapshot = preview.snapshot();
    let fetched = blocking(move || snapshot.page(&id)).await;
    answer(
        fetched,
        typed("text/html; charset=utf-8", Some(LETTER_POLICY)),
    )
}

async fn pdf(State(preview): State<Preview>, UrlPath(id): UrlPath<String>) -> Response {
    let snapshot = preview.snapshot();
    let mut headers = typed("application/pdf", None);
    headers.insert(
        header::CONTENT_DISPOSITION,
        disposition("inline", &id, "pdf"),
    );
    answer(blocking(move || snapshot.pdf(&id)).await, headers)
}

async fn eml(State(preview): State<Preview>, UrlPath(id): UrlPath<String>) -> Response {
    let snapshot = preview.snapshot();
    let clock = preview.inner.clock;
    let mut headers = typed("message/rfc822", None);
    headers.insert(
        header::CONTENT_DISPOSITION,
        disposition("attachment", &id, "eml"),
    );
    answer(blocking(move || snapshot.eml(&id, &clock)).await, headers)
}

/// `inline; filename="<id>.pdf"`: ids are lowercase letters, digits and hyphens, and only
/// files of known ids are served.
fn disposition(how: &str, id: &str, extension: &str) -> HeaderValue {
    let safe: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    HeaderValue::from_str(&format!("{how}; filename=\"{safe}.{extension}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("inline"))
}

fn answer(fetched: Fetched, headers: HeaderMap) -> Response {
    match fetched {
        Fetched::Found(bytes) => (headers, bytes).into_response(),
        Fetched::Unknown => (
            StatusCode::NOT_FOUND,
            "there is no recipient with this id\n",
        )
            .into_response(),
        Fetched::Unavailable(why) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            typed("text/plain; charset=utf-8", None),
            format!("{why}\n"),
        )
            .into_response(),
    }
}

/// Server-sent events: `version` now, then `change` with the new version after each reading.
async fn events(
    State(preview): State<Preview>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let now = preview.snapshot().version;
    let changes = BroadcastStream::new(preview.inner.changes.subscribe()).map(move |v| {
        // A page that fell behind only needs to know that something changed.
        let version = v.unwrap_or(now);
        Ok(Event::default().event("change").data(version.to_string()))
    });
    let first = tokio_stream::once(Ok(Event::default().event("version").data(now.to_string())));
    Sse::new(first.chain(changes)).keep_alive(KeepAlive::default())
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found\n")
}

/// Runs CPU work (merging, typesetting) off the server's threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
