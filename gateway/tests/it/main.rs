//! The gateway's end-to-end tests, in one test binary: each module drives
//! real servers on loopback ports (or reads the workspace, for `tidy` and
//! `routes`). One binary links the server once instead of once per file,
//! which is most of CI's build time; add new files here as modules.

mod support;

mod affiliates;
mod analytics;
mod backoffice;
mod backoffice_pages;
mod backpressure;
mod bad_input;
mod bonuses;
mod browser;
mod campaigns;
mod cluster;
mod connections;
mod evolution;
mod export;
mod free_rounds;
mod fx;
mod game_monitoring;
mod games;
mod hub88;
mod lobby;
mod loyalty;
mod notify;
mod nowpayments;
mod openapi_check;
mod operator;
mod pam;
mod payment_methods;
mod payments;
mod pragmatic;
mod reconciliation;
mod reports;
mod risk;
mod routes;
mod tickets;
mod tidy;
mod transports;
mod wallet;
mod zendesk_sync;
