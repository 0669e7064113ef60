//! Closing a connection honestly when a request's body was not read.
//!
//! Some handlers answer without reading the body (`POST .../audit/verify` with `{}`,
//! every refusal made before the handler). hyper then drains the body if it is already
//! buffered; if it is still on the wire, hyper closes the connection *after* an answer
//! that did not say `Connection: close`. A keep-alive client (ureq, undici) puts that
//! connection back in its pool and its next request fails with "peer disconnected" — a
//! flake seen in CI under load. This layer watches whether the handler read the body to
//! its end; when it did not, the answer carries `Connection: close`, so hyper closes
//! the connection and every client knows not to reuse it. Nothing is buffered.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// A request body that records when it has been read to its end.
struct Watched {
    inner: Body,
    ended: Arc<AtomicBool>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.ended.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: `Connection: close` on an answer whose request body was left unread.
pub async fn close_if_unread(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if http_body::Body::is_end_stream(&body) {
        // No body (GET, or `Content-Length: 0`): nothing to watch.
        return next.run(Request::from_parts(parts, body)).await;
    }
    let ended = Arc::new(AtomicBool::new(false));
    let watched = Body::new(Watched {
        inner: body,
        ended: ended.clone(),
    });
    let mut resp = next.run(Request::from_parts(parts, watched)).await;
    if !ended.load(Ordering::Relaxed) {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
