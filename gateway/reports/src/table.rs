//! A report as data, and its three forms: JSON, CSV (or tab-delimited)
//! and a printable self-contained HTML page.
//!
//! A report is tables of lines. Each line has key columns (product, day,
//! game ...), a currency, counts and money columns. Money is summed in
//! minor units, per currency as the ledger holds it (`basis` `native`);
//! with a reporting currency each table also gets one line per key with
//! every currency's money converted at the rate in force at the end of
//! the period (`basis` `converted`, each currency's sum converted and
//! rounded down, then added), and the report lists the rates used.

use std::collections::{BTreeMap, HashMap};

use engine::{Amount, Currency};
use maud::{DOCTYPE, Markup, html};
use serde::Serialize;
use utoipa::ToSchema;

/// One line of a table, before rendering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The key columns' values.
    pub key: Vec<String>,
    /// The currency of its money.
    pub currency: Currency,
    /// The count columns' values.
    pub counts: Vec<u64>,
    /// The money columns' values, minor units.
    pub money: Vec<i64>,
}

/// A table, before rendering.
#[derive(Clone, Debug)]
pub struct Table {
    /// Its name (the CSV's first column, the JSON's `name`).
    pub name: &'static str,
    /// What it shows, for people.
    pub title: &'static str,
    /// The key columns' names.
    pub keys: &'static [&'static str],
    /// The count columns' names.
    pub counts: &'static [&'static str],
    /// The money columns' names.
    pub money: &'static [&'static str],
    /// Its lines, in key then currency order.
    pub lines: Vec<Line>,
    /// Where each (key, currency) line is in `lines`, so that adding to a
    /// table of a million lines (the MGA player data) is not quadratic;
    /// rebuilt whenever it no longer matches `lines`.
    positions: HashMap<(Vec<String>, Currency), usize>,
}

impl Table {
    /// An empty table of these columns.
    pub fn new(
        name: &'static str,
        title: &'static str,
        keys: &'static [&'static str],
        counts: &'static [&'static str],
        money: &'static [&'static str],
    ) -> Table {
        Table {
            name,
            title,
            keys,
            counts,
            money,
            lines: Vec::new(),
            positions: HashMap::new(),
        }
    }

    /// Adds `counts` and `money` to the line of `key` in `currency`.
    pub fn add(&mut self, key: Vec<String>, currency: Currency, counts: &[u64], money: &[i64]) {
        let slot = (key, currency);
        let mut at = self.position(&slot);
        if at.is_none() && self.positions.len() != self.lines.len() {
            self.reindex();
            at = self.position(&slot);
        }
        let line = match at {
            Some(at) => &mut self.lines[at],
            None => {
                self.positions.insert(slot.clone(), self.lines.len());
                let (key, currency) = slot;
                self.lines.push(Line {
                    key,
                    currency,
                    counts: vec![0; self.counts.len()],
                    money: vec![0; self.money.len()],
                });
                self.lines.last_mut().expect("just pushed")
            }
        };
        for (total, add) in line.counts.iter_mut().zip(counts) {
            *total = total.saturating_add(*add);
        }
        for (total, add) in line.money.iter_mut().zip(money) {
            *total = total.saturating_add(*add);
        }
    }

    /// The line of `slot`, if the positions still say where it is (lines
    /// sorted or changed since are found again by [`Table::reindex`]).
    fn position(&mut self, slot: &(Vec<String>, Currency)) -> Option<usize> {
        let at = *self.positions.get(slot)?;
        let found = |lines: &[Line], at: usize| {
            lines
                .get(at)
                .is_some_and(|line| line.key == slot.0 && line.currency == slot.1)
        };
        if found(&self.lines, at) {
            return Some(at);
        }
        self.reindex();
        self.positions.get(slot).copied().filter(|&at| found(&self.lines, at))
    }

    fn reindex(&mut self) {
        self.positions = self
            .lines
            .iter()
            .enumerate()
            .map(|(at, line)| ((line.key.clone(), line.currency), at))
            .collect();
    }

    /// Sorts the lines by key, then currency.
    pub fn sort(&mut self) {
        self.lines
            .sort_by(|a, b| (&a.key, a.currency.code()).cmp(&(&b.key, b.currency.code())));
        self.reindex();
    }

    /// Every column's name, in order.
    pub fn columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = self.keys.iter().map(|&k| k.to_owned()).collect();
        columns.push("currency".into());
        columns.push("basis".into());
        columns.extend(self.counts.iter().map(|&c| c.to_owned()));
        columns.extend(self.money.iter().map(|&m| m.to_owned()));
        columns
    }
}

/// A rate a report converted with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct RateUsed {
    /// The currency converted.
    pub currency: String,
    /// Into this one.
    pub reporting_currency: String,
    /// Units of the reporting currency per unit (exact decimal text).
    pub rate: String,
    /// When the rate came into force, ms since the epoch (0 for a currency
    /// converted into itself).
    pub effective_ms: u64,
}

/// A rate, scaled by `FX_RATE_SCALE`, as exact decimal text.
pub fn rate_text(scaled: i64) -> String {
    let scale = engine::payments::FX_RATE_SCALE;
    let (whole, fraction) = (scaled / scale, scaled % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:08}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

/// A report, before rendering.
#[derive(Clone, Debug)]
pub struct Report {
    /// Its name in the route (`ukgc-quarterly`).
    pub name: &'static str,
    /// Its title.
    pub title: &'static str,
    /// The first day of the period.
    pub first_day: String,
    /// The last day (included).
    pub last_day: String,
    /// Its range, ms since the epoch, `[from_ms, to_ms)`.
    pub from_ms: u64,
    /// The end, excluded.
    pub to_ms: u64,
    /// The reporting currency, if asked for.
    pub reporting: Option<Currency>,
    /// Scaled rate and its effective time per currency converted.
    pub rates: BTreeMap<Currency, (i64, u64)>,
    /// The read model's sequence number the figures are current to.
    pub as_of_seq: u64,
    /// How each figure is defined.
    pub definitions: Vec<(&'static str, &'static str)>,
    /// Its tables.
    pub tables: Vec<Table>,
}

/// A rendered table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct TableReply {
    /// Its name.
    pub name: String,
    /// What it shows.
    pub title: String,
    /// Its columns.
    pub columns: Vec<String>,
    /// Its rows: one value per column, money as decimal text in the row's
    /// currency, counts as integers in text.
    pub rows: Vec<Vec<String>>,
}

/// A figure's definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Definition {
    /// The figure (a column's name).
    pub figure: String,
    /// How it is computed.
    pub definition: String,
}

/// A report as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReportReply {
    /// The report's name.
    pub report: String,
    /// Its title.
    pub title: String,
    /// The first day of the period (UTC).
    pub from: String,
    /// The last day (UTC, included).
    pub to: String,
    /// The period's start, ms since the epoch.
    pub from_ms: u64,
    /// The period's end (excluded).
    pub to_ms: u64,
    /// The reporting currency, if asked for.
    pub reporting_currency: Option<String>,
    /// The rates used, one per currency converted.
    pub rates: Vec<RateUsed>,
    /// The read model's sequence number the figures are current to.
    pub as_of_seq: u64,
    /// How each figure is defined.
    pub definitions: Vec<Definition>,
    /// Its tables.
    pub tables: Vec<TableReply>,
}

impl Report {
    /// The rates used, in currency order.
    pub fn rates_used(&self) -> Vec<RateUsed> {
        let Some(reporting) = self.reporting else {
            return Vec::new();
        };
        self.rates
            .iter()
            .map(|(currency, &(scaled, effective_ms))| RateUsed {
                currency: currency.code().to_owned(),
                reporting_currency: reporting.code().to_owned(),
                rate: rate_text(scaled),
                effective_ms,
            })
            .collect()
    }

    /// Each table's rows: native lines, then the converted ones.
    pub fn rendered(&self) -> Vec<TableReply> {
        self.tables.iter().map(|table| self.render(table)).collect()
    }

    fn render(&self, table: &Table) -> TableReply {
        let mut rows = Vec::new();
        let row = |line: &Line, basis: &str| {
            let mut row = line.key.clone();
            row.push(line.currency.code().to_owned());
            row.push(basis.to_owned());
            row.extend(line.counts.iter().map(u64::to_string));
            row.extend(
                line.money
                    .iter()
                    .map(|&minor| Amount::from_minor(minor).to_decimal(line.currency).to_string()),
            );
            row
        };
        for line in &table.lines {
            rows.push(row(line, "native"));
        }
        if let Some(reporting) = self.reporting {
            for line in self.converted(table, reporting) {
                rows.push(row(&line, "converted"));
            }
        }
        TableReply {
            name: table.name.to_owned(),
            title: table.title.to_owned(),
            columns: table.columns(),
            rows,
        }
    }

    /// One line per key: each currency's money converted and added.
    fn converted(&self, table: &Table, reporting: Currency) -> Vec<Line> {
        let mut out = Table::new(table.name, table.title, table.keys, table.counts, table.money);
        for line in &table.lines {
            let Some(&(scaled, _)) = self.rates.get(&line.currency) else {
                continue;
            };
            let money: Vec<i64> = line
                .money
                .iter()
                .map(|&minor| {
                    readmodel::fx::convert_minor(minor, line.currency.exponent(), reporting.exponent(), scaled)
                        .unwrap_or(i64::MAX)
                })
                .collect();
            out.add(line.key.clone(), reporting, &line.counts, &money);
        }
        out.lines
    }

    /// The JSON form.
    pub fn reply(&self) -> ReportReply {
        ReportReply {
            report: self.name.to_owned(),
            title: self.title.to_owned(),
            from: self.first_day.clone(),
            to: self.last_day.clone(),
            from_ms: self.from_ms,
            to_ms: self.to_ms,
            reporting_currency: self.reporting.map(|c| c.code().to_owned()),
            rates: self.rates_used(),
            as_of_seq: self.as_of_seq,
            definitions: self
                .definitions
                .iter()
                .map(|&(figure, definition)| Definition {
                    figure: figure.to_owned(),
                    definition: definition.to_owned(),
                })
                .collect(),
            tables: self.rendered(),
        }
    }

    /// The CSV form (or tab-delimited with `delimiter` `b'\t'`): every table
    /// in turn, each a header record and its rows, the table's name first
    /// in each record (`table` in the header), tables apart by an empty line.
    pub fn delimited(&self, delimiter: u8) -> Result<Vec<u8>, csv::Error> {
        let mut bytes = Vec::new();
        for (n, table) in self.rendered().into_iter().enumerate() {
            if n > 0 {
                bytes.push(b'\n');
            }
            let mut writer = csv::WriterBuilder::new()
                .delimiter(delimiter)
                .flexible(true)
                .from_writer(Vec::new());
            let mut header = vec!["table".to_owned()];
            header.extend(table.columns);
            writer.write_record(&header)?;
            for row in table.rows {
                let mut record = vec![table.name.clone()];
                record.extend(row);
                writer.write_record(&record)?;
            }
            bytes.extend(writer.into_inner().map_err(|e| e.into_error())?);
        }
        Ok(bytes)
    }

    /// The printable HTML page: no script, no external asset.
    pub fn html(&self) -> Markup {
        let reply = self.reply();
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (reply.title) " " (reply.from) " to " (reply.to) }
                    style { (STYLE) }
                }
                body {
                    h1 { (reply.title) }
                    p.period {
                        "Period: " (reply.from) " to " (reply.to) " (UTC, both days included). "
                        "Current to ledger sequence " (reply.as_of_seq) "."
                    }
                    @if let Some(reporting) = &reply.reporting_currency {
                        h2 { "Rates into " (reporting) }
                        table.rates {
                            thead { tr { th { "currency" } th { "rate" } th { "in force from (ms)" } } }
                            tbody {
                                @for rate in &reply.rates {
                                    tr { td { (rate.currency) } td.n { (rate.rate) } td.n { (rate.effective_ms) } }
                                }
                            }
                        }
                    }
                    @for table in &reply.tables {
                        section {
                            h2 { (table.title) }
                            table id=(table.name) {
                                thead { tr { @for column in &table.columns { th scope="col" { (column) } } } }
                                tbody {
                                    @for row in &table.rows {
                                        tr { @for value in row { td { (value) } } }
                                    }
                                    @if table.rows.is_empty() {
                                        tr { td colspan=(table.columns.len()) { "No figures in this period." } }
                                    }
                                }
                            }
                        }
                    }
                    section.definitions {
                        h2 { "Definitions" }
                        dl {
                            @for definition in &reply.definitions {
                                dt { (definition.figure) }
                                dd { (definition.definition) }
                            }
                        }
                    }
                }
            }
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#111}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}\
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}\
th,td{border:1px solid #999;padding:.2rem .4rem;text-align:left}th{background:#eee}\
dt{font-weight:bold;margin-top:.4rem}dd{margin-left:1rem}\
@media print{body{margin:0}section{break-inside:avoid}}";

#[cfg(test)]
mod tests {
    use super::*;

    fn report(reporting: Option<Currency>) -> Report {
        let mut table = Table::new("t", "T", &["product"], &["bets"], &["stakes"]);
        table.add(vec!["slots".into()], Currency::EUR, &[2], &[1_000]);
        table.add(vec!["slots".into()], Currency::EUR, &[1], &[235]);
        table.add(vec!["slots".into()], Currency::GBP, &[1], &[1_001]);
        table.sort();
        let mut rates = BTreeMap::new();
        rates.insert(Currency::EUR, (100_000_000, 0));
        rates.insert(Currency::GBP, (117_000_000, 5));
        Report {
            name: "test",
            title: "Test",
            first_day: "2026-01-01".into(),
            last_day: "2026-01-31".into(),
            from_ms: 1,
            to_ms: 2,
            reporting,
            rates,
            as_of_seq: 9,
            definitions: vec![("stakes", "what was staked")],
            tables: vec![table],
        }
    }

    #[test]
    fn a_line_is_found_again_after_sorting_and_after_lines_are_pushed_directly() {
        let mut table = Table::new("t", "T", &["player"], &["bets"], &[]);
        for player in (0..50_000).rev() {
            table.add(vec![player.to_string()], Currency::EUR, &[1], &[]);
        }
        table.sort();
        for player in (0..50_000).step_by(7) {
            table.add(vec![player.to_string()], Currency::EUR, &[1], &[]);
        }
        table.lines.push(Line {
            key: vec!["pushed".into()],
            currency: Currency::GBP,
            counts: vec![5],
            money: vec![],
        });
        table.add(vec!["pushed".into()], Currency::GBP, &[1], &[]);
        table.add(vec!["0".into()], Currency::GBP, &[1], &[]);
        assert_eq!(table.lines.len(), 50_002);
        let bets = |key: &str, currency: Currency| {
            let found: Vec<u64> = table
                .lines
                .iter()
                .filter(|l| l.key == [key] && l.currency == currency)
                .map(|l| l.counts[0])
                .collect();
            found
        };
        assert_eq!(bets("0", Currency::EUR), [2]);
        assert_eq!(bets("1", Currency::EUR), [1]);
        assert_eq!(bets("49994", Currency::EUR), [2]);
        assert_eq!(bets("pushed", Currency::GBP), [6]);
        assert_eq!(bets("0", Currency::GBP), [1]);
    }

    #[test]
    fn lines_add_up_per_key_and_currency_and_convert_rounding_down_per_currency() {
        let rendered = report(Some(Currency::EUR)).rendered();
        assert_eq!(
            rendered[0].rows,
            [
                ["slots", "EUR", "native", "3", "12.35"],
                ["slots", "GBP", "native", "1", "10.01"],
                // 10.01 GBP at 1.17 = 11.7117 EUR, down to 11.71; plus 12.35.
                ["slots", "EUR", "converted", "4", "24.06"],
            ]
        );
        assert_eq!(report(None).rendered()[0].rows.len(), 2);
        assert_eq!(report(Some(Currency::EUR)).rates_used()[1].rate, "1.17");
        assert_eq!(rate_text(85_000_000), "0.85");
        assert_eq!(rate_text(6_000_012_345_678), "60000.12345678");
    }

    #[test]
    fn the_delimited_form_names_each_table_in_each_record() {
        let text = String::from_utf8(report(None).delimited(b',').unwrap()).unwrap();
        assert_eq!(
            text,
            "table,product,currency,basis,bets,stakes\nt,slots,EUR,native,3,12.35\nt,slots,GBP,native,1,10.01\n"
        );
        let tabs = String::from_utf8(report(None).delimited(b'\t').unwrap()).unwrap();
        assert!(tabs.starts_with("table\tproduct\tcurrency"));
        let page = report(Some(Currency::EUR)).html().into_string();
        assert!(page.contains("<table id=\"t\">") && page.contains("10.01") && !page.contains("<script"));
    }
}
