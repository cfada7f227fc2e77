//! One error type for every handler, rendered as a page or as JSON.
//!
//! Handlers return `Result<_, AppError>` (pages) or `Result<_, ApiError>`
//! (the JSON API); both carry a status and a sentence for the user. 5xx
//! causes are logged once here and never sent to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use paperhub_store::StoreError;
use serde_json::json;

/// A failed request.
#[derive(Debug)]
pub struct AppError {
    /// HTTP status.
    pub status: StatusCode,
    /// What the user is told.
    pub detail: String,
    /// Seconds to wait, for 429 and a busy 503.
    pub retry_after: Option<u64>,
}

impl AppError {
    fn new(status: StatusCode, detail: impl Into<String>) -> AppError {
        AppError {
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 404 with a message.
    pub fn not_found(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::NOT_FOUND, detail)
    }

    /// 400 with a message.
    pub fn bad_request(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 401: log in first.
    pub fn unauthorized() -> AppError {
        AppError::new(
            StatusCode::UNAUTHORIZED,
            "Log in first, or send a personal API token as `Authorization: Bearer TOKEN`.",
        )
    }

    /// 403 with a message.
    pub fn forbidden(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, detail)
    }

    /// 403 for a missing or wrong CSRF token.
    pub fn csrf() -> AppError {
        AppError::forbidden(
            "This form has expired or did not come from this site. Reload the page and try again.",
        )
    }

    /// 409 with a message.
    pub fn conflict(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::CONFLICT, detail)
    }

    /// 429 with a wait.
    pub fn too_many(retry_after: u64) -> AppError {
        AppError {
            retry_after: Some(retry_after),
            ..AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many attempts. Wait {retry_after} seconds and try again."),
            )
        }
    }

    /// The same error with another message for the user.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> AppError {
        self.detail = detail.into();
        self
    }

    /// 502: arXiv could not be reached.
    pub fn upstream(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_GATEWAY, detail)
    }

    /// 503 with `Retry-After`: too much heavy work is waiting already.
    pub fn busy(retry_after: u64) -> AppError {
        AppError {
            retry_after: Some(retry_after),
            ..AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("The hub is busy. Try again in {retry_after} second(s)."),
            )
        }
    }

    /// 503 with a message.
    pub fn unavailable(detail: impl Into<String>) -> AppError {
        AppError::new(StatusCode::SERVICE_UNAVAILABLE, detail)
    }

    /// 500; the cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        tracing::error!("internal error: {cause}");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }

    fn finish(&self, mut response: Response) -> Response {
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::Conflict { field: "password" } => {
                AppError::conflict("Your password was changed meanwhile; sign in again and retry.")
            }
            StoreError::Conflict { field: "follows" } => AppError::conflict(format!(
                "You follow {} authors already; unfollow some first.",
                super::authors::MAX_FOLLOWS
            )),
            StoreError::Conflict { field: "slug" } => AppError::conflict(
                "You have a collection of that name already; choose another name.",
            ),
            StoreError::Conflict {
                field: "collections",
            } => AppError::conflict(format!(
                "You have {} collections, the limit; delete one first.",
                crate::app::library::LIMITS.collections
            )),
            StoreError::Conflict { field } => {
                AppError::conflict(format!("That {field} is already taken; choose another."))
            }
            StoreError::NotFound { what } => {
                AppError::not_found(format!("The {what} was not found."))
            }
            StoreError::Corrupt { .. } | StoreError::Backend(_) | StoreError::Aborted(_) => {
                AppError::internal(e)
            }
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> AppError {
        // A refused query shape is the user's to fix, wherever it surfaced.
        if let Some(paperhub_search::SearchError::Query(q)) = e
            .chain()
            .find_map(|c| c.downcast_ref::<paperhub_search::SearchError>())
        {
            return AppError::bad_request(format!("This search cannot run: {q}."));
        }
        AppError::internal(format!("{e:#}"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let page = super::views::error_page(self.status, &self.detail);
        self.finish((self.status, Html(page)).into_response())
    }
}

/// An [`AppError`] rendered as the API's error envelope
/// `{"errors":[{"detail":"..."}]}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        ApiError(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "errors": [{ "detail": self.0.detail }] });
        self.0
            .finish((self.0.status, axum::Json(body)).into_response())
    }
}

/// An [`AppError`] in Hugging Face's error shape, `{"error": "..."}`, for
/// the routes its client calls (`web::hf_api`).
#[derive(Debug)]
pub struct HfError(pub AppError);

impl From<AppError> for HfError {
    fn from(e: AppError) -> HfError {
        HfError(e)
    }
}

impl From<StoreError> for HfError {
    fn from(e: StoreError) -> HfError {
        HfError(e.into())
    }
}

impl IntoResponse for HfError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.0.detail });
        self.0
            .finish((self.0.status, axum::Json(body)).into_response())
    }
}
