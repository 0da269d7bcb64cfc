//! `croupier-admin`: the operator's command-line tool.
//!
//! It talks to the server over its public APIs (from issue #4) and opens a
//! journal directory offline for `journal verify` / `inspect` (issue #3).
//! Today it answers what the engine alone can: the currencies the ledger
//! holds and how it reads amounts in them.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use engine::{Amount, Currency};

#[derive(Parser)]
#[command(name = "croupier-admin", version, about = "Croupier operator tool")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the supported currencies and their minor-unit exponents.
    Currencies,
    /// Show how an amount is stored: minor units, or a clear refusal.
    Amount {
        /// Decimal amount in the currency's major unit, e.g. 12.50.
        value: String,
        /// ISO 4217 code, e.g. EUR.
        currency: String,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Currencies => {
            println!("{:<6} {:>8}", "code", "decimals");
            for currency in Currency::ALL {
                println!("{:<6} {:>8}", currency.code(), currency.exponent());
            }
        }
        Cmd::Amount { value, currency } => {
            let currency: Currency = currency.parse().with_context(|| format!("currency {currency:?}"))?;
            let amount = Amount::parse(&value, currency).with_context(|| format!("amount {value:?} in {currency}"))?;
            println!(
                "{} {currency} = {} minor units",
                amount.to_decimal(currency),
                amount.minor()
            );
        }
    }
    Ok(())
}
