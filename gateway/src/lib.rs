//! The croupier gateway: the HTTP edge in front of the engine.
//!
//! It owns the wire and nothing else. Requests are authenticated (aggregator
//! HMAC or RSA signatures, operator bearer tokens), parsed strictly (unknown fields,
//! wrong types and inexact amounts are refused), translated into engine
//! [`engine::Command`]s, submitted to the sequencer's ring and answered from
//! the [`engine::Outcome`] once the batch holding them is durable. Replies
//! are rendered from the outcome alone, so an idempotent retry gets the same
//! bytes. Aggregator contracts other than the native one (Hub88's, in
//! [`hub88`]) are adapters over the same commands ([`seamless`]).
//!
//! It must never keep durable state of its own (DESIGN.md invariant 1):
//! operators, aggregators and game sessions are engine commands like any
//! balance. What it holds in memory is a read copy of the ledger's access
//! state ([`projection`]), fed from the committed stream, so that bad
//! signatures and unknown tokens are refused without touching the ring.
//!
//! One [`axum::Router`] ([`app::router`]) serves every transport, so a
//! request gets the same answer on each: TCP with HTTP/1.1 and HTTP/2, in
//! cleartext or over TLS ([`tcp`]), and HTTP/3 over QUIC ([`quic`]), with
//! the certificate from [`tls`]; [`server`] starts and stops them.

#![deny(missing_docs)]

pub mod admission;
pub mod app;
pub mod body;
pub mod config;
pub mod error;
pub mod hub88;
pub mod log_limit;
pub mod metrics;
pub mod openapi;
pub mod operator;
pub mod projection;
pub mod quic;
pub mod reads;
pub mod routes;
pub mod rsa_signature;
pub mod seamless;
pub mod server;
pub mod signature;
pub mod submit;
pub mod tcp;
pub mod tls;
pub mod tokens;
pub mod wallet;
pub mod wire;
