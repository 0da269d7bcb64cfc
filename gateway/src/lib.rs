//! The croupier server: the composition root that puts the engine, the
//! edge and the API module crates together and serves them.
//!
//! The APIs themselves live in module crates over `croupier-edge`:
//! `croupier-wallet` (the seamless-wallet contracts aggregators call) and
//! `croupier-operator` (the operator API). Each exports its route table
//! rows and its part of the API description; [`routes`] merges the rows
//! with the server's own ([`ops`]: health, readiness, metrics, the API
//! description) and [`openapi`] merges the descriptions. Modules never
//! depend on this crate nor on each other.
//!
//! What this crate owns: configuration ([`config`]), start-up and shutdown
//! ([`server`]: recovery, the sequencer, the snapshotter, the read models,
//! the first operator), the metrics registry ([`metrics`]), the commit sink
//! that keeps the handlers' access view in step ([`projection`]), and the
//! transports. One [`axum::Router`] ([`app::routes`] in [`app::Envelope`]) serves every
//! transport, so a request gets the same answer on each: TCP with HTTP/1.1
//! and HTTP/2, in cleartext or over TLS ([`tcp`]), and HTTP/3 over QUIC
//! ([`quic`]), with the certificate from [`tls`].
//!
//! It must never keep durable state of its own (DESIGN.md invariant 1):
//! operators, aggregators and game sessions are engine commands like any
//! balance; the in-memory access view is rebuilt from the journal.

#![deny(missing_docs)]

pub mod admission;
pub mod app;
pub mod bootstrap;
pub mod cluster;
pub mod config;
pub mod log_limit;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod projection;
pub mod quic;
pub mod routes;
pub mod rsa_signature;
pub mod server;
pub mod tcp;
pub mod tls;
