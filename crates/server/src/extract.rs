//! Request extractors that turn axum's rejections into `ApiError`, so malformed
//! JSON, a wrong content type or an unparseable id get the API's one error shape.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body whose rejections are `ApiError`s (400 malformed, 415
/// content type, 422 wrong fields, 413 too large).
///
/// The body must be a JSON object: serde would otherwise also read a struct from
/// an array of its fields in order (`[null, null]`), a shape the API never
/// documents and no client means.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        from_object(value).map(Json)
    }
}

/// `value` as a `T`, if it is a JSON object of `T`'s shape (422 naming the field
/// otherwise). Also for handlers that read their optional body themselves.
pub(crate) fn from_object<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::Unprocessable(
            "the body must be a JSON object".into(),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let reason = e.into_inner();
        ApiError::Unprocessable(if path == "." {
            format!("invalid body: {reason}")
        } else {
            format!("invalid body: {path}: {reason}")
        })
    })
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `Path<T>`: an id that does not parse is answered like an unknown id (404).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// `Query<T>` with 422 on bad parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Settings {
        name: Option<String>,
        count: Option<u32>,
    }

    #[test]
    fn only_an_object_of_the_right_shape_is_read() {
        assert!(from_object::<Settings>(serde_json::json!({"name": "a"})).is_ok());
        for refused in [
            serde_json::json!([null, null]),
            serde_json::json!(["a", 1]),
            serde_json::json!("a"),
        ] {
            let e = from_object::<Settings>(refused.clone()).unwrap_err();
            assert_eq!(e.status(), 422, "{refused}");
        }
        let e = from_object::<Settings>(serde_json::json!({"count": "x"})).unwrap_err();
        assert!(e.to_string().contains("count"), "names the field: {e}");
    }
}
