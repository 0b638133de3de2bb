//! `ConsoleError`: how a console request fails, as an HTML page (or the redirect to
//! sign-in). The statuses are the API's (403 for an agent on settings, 404 for
//! another workspace's ids), so the console and the API answer alike; an
//! unexpected failure is logged with its cause and shown as a bare 500.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use keva_store::StoreError;

use super::layout;
use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Not signed in (or the session ended): to the sign-in page, then back to
    /// `next` (a same-origin GET path).
    #[error("sign in first")]
    SignIn { next: Option<String> },
    #[error("this page is for admins")]
    Forbidden,
    #[error("the form was not sent from this console or has expired")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    TooManyRequests(&'static str),
    /// Whatever the shared code paths answered, with the API's status.
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ConsoleError {
    fn from(e: StoreError) -> Self {
        ConsoleError::Api(e.into())
    }
}

impl ConsoleError {
    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn { .. } => StatusCode::SEE_OTHER,
            ConsoleError::Forbidden | ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::Api(e) => e.status(),
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ConsoleError::SignIn { next } => {
                let target = match next {
                    Some(n) => format!(
                        "/sign-in?next={}",
                        url::form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()
                    ),
                    None => "/sign-in".to_string(),
                };
                return (status, [(header::LOCATION, target)]).into_response();
            }
            ConsoleError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "console request failed");
                "Something went wrong on our side; it has been logged.".to_string()
            }
            ConsoleError::Api(ApiError::Internal(e)) => {
                tracing::error!(error = format!("{e:#}"), "console request failed");
                "Something went wrong on our side; it has been logged.".to_string()
            }
            ConsoleError::Forbidden => {
                "This page is for admins. Ask an admin of your workspace if you need it."
                    .to_string()
            }
            ConsoleError::Csrf => "This form was not sent from this console page or has \
                expired (CSRF check failed). Go back, reload the page and try again."
                .to_string(),
            other => other.to_string(),
        };
        let title = match status {
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::TOO_MANY_REQUESTS => "Too many requests",
            s if s.is_server_error() => "Error",
            _ => "Cannot do that",
        };
        let mut response = (status, layout::bare(title, &message)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}
