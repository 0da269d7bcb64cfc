//! How online commands print: a table (or a line) for people by default,
//! the server's JSON with `--json` for scripts.

use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

/// The output mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output {
    /// Print JSON instead of tables.
    pub json: bool,
}

impl Output {
    /// Prints `value` as JSON, or the table `table` makes of it.
    pub fn table(self, value: &Value, table: impl FnOnce(&Value) -> Table) {
        if self.json {
            println!("{}", pretty(value));
        } else {
            println!("{}", table(value));
        }
    }

    /// Prints `value` as JSON, or `message`.
    pub fn done(self, value: &Value, message: &str) {
        if self.json {
            println!("{}", pretty(value));
        } else {
            println!("{message}");
        }
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A table with these column names.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(header.to_vec());
    table
}

/// A two-column table of `(field, value)` rows of an object.
pub fn fields(value: &Value, names: &[&str]) -> Table {
    let mut table = table(&["field", "value"]);
    for name in names {
        if let Some(field) = value.get(name).filter(|v| !v.is_null()) {
            table.add_row(vec![name.to_string(), text(field)]);
        }
    }
    table
}

/// A JSON value as a cell: strings without quotes, null as empty.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The cells of `row` for `columns`.
pub fn cells(row: &Value, columns: &[&str]) -> Vec<String> {
    columns
        .iter()
        .map(|c| row.get(c).map(text).unwrap_or_default())
        .collect()
}
