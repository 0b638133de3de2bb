//! The OpenAPI document served at `/api/openapi.json`, generated from the handlers'
//! `#[utoipa::path]` annotations so it cannot drift from the code.
//!
//! Answers that do not depend on the handler are added here, once, to every
//! operation they can happen to (`add_shared_responses`): they come from the
//! extractors and layers every handler shares (`extract.rs`, `auth.rs`, the request
//! deadline, the panic catcher), so listing them on each handler by hand would be a
//! list that is always one status short somewhere. A handler's own annotation wins
//! when it documents the same status with a more specific description.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder, Type};

/// Title, version, the bearer-key scheme the handlers refer to as `api_key`, and the
/// answers every operation shares.
pub fn decorate(mut api: OpenApi) -> OpenApi {
    api.info.title = "Keva Sync API".into();
    api.info.version = env!("CARGO_PKG_VERSION").into();
    api.info.description = Some(
        "Two-way sync between Keva customers and HubSpot contacts. Every /api route except \
         the HubSpot webhook receiver takes `Authorization: Bearer keva_live_…`. Every error \
         is `{\"error\": {\"code\", \"message\"}}`."
            .into(),
    );
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("keva_live_…")
                .build(),
        ),
    );
    add_shared_responses(&mut api);
    describe_webhook_body(&mut api);
    api
}

/// The webhook receiver reads its raw body itself (the signature covers the
/// bytes), so its derive only knows "JSON"; the events' shape is stated here.
fn describe_webhook_body(api: &mut OpenApi) {
    let receiver = api
        .paths
        .paths
        .get_mut(crate::webhooks::receiver::PATH)
        .and_then(|item| item.post.as_mut())
        .and_then(|op| op.request_body.as_mut());
    if let Some(RefOr::T(body)) = receiver {
        body.content.insert(
            "application/json".to_owned(),
            RefOr::T(
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(crate::api::schema::webhook_events()))
                    .build(),
            ),
        );
    }
}

/// What an operation is, as far as the shared answers are concerned.
struct Shape {
    /// Takes the API key (`Authenticated`): 401 without a valid one, 429 when the
    /// key has too many requests in flight.
    keyed: bool,
    /// Reads a JSON body through `extract::Json`: 400 malformed, 413 too large,
    /// 415 wrong content type, 422 fields of the wrong shape.
    json_body: bool,
    /// Has query parameters (`extract::Query`): 422 when one does not parse.
    query: bool,
    /// Has path parameters (`extract::Path`): 404 when one does not parse.
    path: bool,
}

impl Shape {
    fn of(op: &Operation) -> Self {
        // A requirement's scheme names are private to utoipa; its serialized form
        // (`[{"api_key": []}]`) is the one way to read them.
        let keyed = op.security.as_ref().is_some_and(|requirements| {
            serde_json::to_value(requirements).is_ok_and(|v| {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r.get("api_key").is_some())
            })
        });
        let parameters = op.parameters.iter().flatten().filter_map(|p| match p {
            RefOr::T(p) => Some(&p.parameter_in),
            RefOr::Ref(_) => None,
        });
        let (mut query, mut path) = (false, false);
        for place in parameters {
            query |= matches!(place, ParameterIn::Query);
            path |= matches!(place, ParameterIn::Path);
        }
        Shape {
            keyed,
            // The webhook receiver reads its own body (no key): it documents its answers.
            json_body: keyed && op.request_body.is_some(),
            query: keyed && query,
            path,
        }
    }

    /// `(status, description)` of every shared answer this operation can give.
    fn answers(&self) -> Vec<(&'static str, &'static str)> {
        let mut answers = vec![
            (
                "408",
                "the request (its body upload included) took longer than the service allows",
            ),
            ("500", "internal error (details are logged, never sent)"),
        ];
        if self.keyed {
            answers.push(("401", "missing, unknown or revoked API key"));
            answers.push((
                "429",
                "this API key has too many requests in flight; retry after `Retry-After` seconds",
            ));
        }
        if self.json_body {
            answers.push(("400", "the body is not JSON"));
            answers.push(("413", "the body is larger than 1 MiB"));
            answers.push(("415", "Content-Type is not application/json"));
            answers.push(("422", "the body does not have the documented shape"));
        }
        if self.query {
            answers.push(("422", "a query parameter is unknown or does not parse"));
        }
        if self.path {
            answers.push(("404", "no such resource in this workspace"));
        }
        answers
    }
}

fn add_shared_responses(api: &mut OpenApi) {
    for item in api.paths.paths.values_mut() {
        for op in operations(item) {
            let shape = Shape::of(op);
            for (status, description) in shape.answers() {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error_response(status, description));
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// An answer in the API's one error shape (`ErrorBody`).
fn error_response(status: &str, description: &str) -> RefOr<Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        utoipa::openapi::ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if status == "429" {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                ))
                .description(Some("seconds to wait before retrying"))
                .build(),
        );
    }
    RefOr::T(response.build())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    fn statuses(doc: &serde_json::Value, path: &str, method: &str) -> Vec<String> {
        doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} documented"))
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn every_operation_lists_the_answers_its_extractors_can_give() {
        let doc = serde_json::to_value(crate::routes().1).unwrap();
        let body = statuses(&doc, "/api/customers", "post");
        for s in ["400", "401", "408", "413", "415", "422", "429", "500"] {
            assert!(
                body.contains(&s.to_owned()),
                "POST /api/customers: {s} in {body:?}"
            );
        }
        let by_id = statuses(&doc, "/api/customers/{id}", "get");
        for s in ["401", "404", "429"] {
            assert!(
                by_id.contains(&s.to_owned()),
                "GET /api/customers/{{id}}: {s}"
            );
        }
        assert!(
            !by_id.contains(&"415".to_owned()),
            "no body, no content-type answer"
        );
        let health = statuses(&doc, "/healthz", "get");
        assert!(
            !health.contains(&"401".to_owned()),
            "public routes take no key"
        );
        let retry_after =
            &doc["paths"]["/api/customers"]["get"]["responses"]["429"]["headers"]["Retry-After"];
        assert!(retry_after.is_object(), "429 documents Retry-After");
        // A handler's own, more specific description is kept.
        let receiver = &doc["paths"]["/api/webhooks/hubspot"]["post"]["responses"]["401"];
        assert!(
            receiver["description"]
                .as_str()
                .unwrap()
                .contains("Signature"),
            "{receiver}"
        );
    }
}
