//! The wallet contracts aggregators speak, one module each: each parses its
//! own wire, checks its own signatures and renders its own replies around
//! the shared core ([`crate::seamless`]), so every contract submits the same
//! commands. A new aggregator contract is a new module here and its rows in
//! [`crate::routes`].

pub mod hub88;
pub mod native;
pub mod pragmatic;
