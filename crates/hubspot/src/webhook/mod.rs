//! HubSpot webhook intake, the transport-free part: typed events, the batch parser and
//! the request-signature check that picks v3, v2 or v1 from the headers.
//!
//! The HTTP endpoint (status codes, body limits, storage) lives in the server; this
//! module only answers "is this request from HubSpot" and "which events does it carry",
//! so the sandbox, the server and the fuzz targets share one implementation.
//! Verify first, then parse: the HMAC is cheaper than JSON and keeps unauthenticated
//! bytes away from the parser.

mod event;
mod lenient;
mod parse;
mod verify;

pub use event::{EventKind, WebhookEvent, CONTACT_OBJECT_TYPE_ID};
pub use parse::{parse_batch, ParseError, HUBSPOT_MAX_EVENTS_PER_REQUEST, MAX_EVENTS_PER_REQUEST};
pub use verify::{
    public_uri, verify_request, SignatureVersion, SignedRequest, HEADER_REQUEST_TIMESTAMP,
    HEADER_SIGNATURE, HEADER_SIGNATURE_V3, HEADER_SIGNATURE_VERSION,
};
