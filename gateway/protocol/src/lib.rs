//! What the croupier server, `croupier-admin` and `croupier-loadtest` share
//! about the wire: how requests are signed (HMAC-SHA256 for the native
//! wallet API in [`signature`], RSA-SHA256 for key-pair contracts in
//! [`rsa_signature`]), the header names they travel in, Hub88's wire
//! types ([`hub88`]) and Pragmatic Play's request hash ([`pragmatic`]).
//!
//! It is a crate of its own so that the tools speak the server's protocol
//! without linking the server: of the engine it takes only the value types
//! (`croupier-engine-core`: amounts, currencies, ids, keys), not the
//! runtime (sequencer, journal); nothing here depends on an HTTP stack or an
//! async runtime (no axum, hyper, quinn or tokio; the `tidy` test checks),
//! and everything is a pure function of its input, apart from the random
//! numbers RSA blinding and key generation draw. The server wraps these
//! functions in its own error shape.

pub mod hub88;
pub mod pragmatic;
pub mod rsa_signature;
pub mod signature;
