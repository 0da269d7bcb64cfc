//! The JSON and CSV forms of providers and games, and their validation:
//! each refusal names the field at fault, so an import can say which row
//! and which field. The ledger's own rules (RTPs among the variants, limits
//! ordered, no repeats, the provider carrying the aggregator) are checked
//! after, by [`engine::games::Catalogue::check`].

use std::collections::BTreeMap;

use edge::error::ApiError;
use edge::view::View;
use edge::wire;
use engine::games::{BetLimit, Game, GameType, Provider, Volatility};
use engine::{Amount, Currency, GameCode, Jurisdiction, ProviderCode, SourceId, Title};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What is wrong with one field of a form.
#[derive(Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as the form names it (`limits[0].min`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The 400 of a single form (`invalid_game`, `invalid_provider`).
    pub fn into_api(self, code: &'static str) -> ApiError {
        ApiError::bad_request(code, format!("{}: {}", self.field, self.message))
    }
}

/// A stake range in one currency, amounts as decimal strings.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitBody {
    /// ISO 4217 code (or the customary crypto code).
    pub currency: String,
    /// Smallest stake, positive ("0.10").
    pub min: String,
    /// Largest stake, at least `min` ("50.00").
    pub max: String,
}

/// A game's record: what `PUT /operator/v1/games/{aggregator}/{code}`
/// takes (the whole record, replacing any before), and each row of an
/// import beside its `aggregator` and `code`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GameBody {
    /// The provider's code; the provider must list the aggregator.
    pub provider: String,
    /// Display name (1–128 bytes).
    pub name: String,
    /// slot, table, live, crash or other.
    #[serde(rename = "type")]
    pub kind: String,
    /// unrated, low, medium, high or very-high.
    pub volatility: String,
    /// The RTP variants the studio ships, basis points (9650 = 96.50 %).
    pub rtp_variants_bp: Vec<u16>,
    /// The variant configured where no jurisdiction names one.
    pub rtp_default_bp: u16,
    /// The variant configured per jurisdiction (two-letter code → basis points).
    #[serde(default)]
    pub rtp_by_jurisdiction: BTreeMap<String, u16>,
    /// Stake limits per currency; a currency not listed is not offered.
    pub limits: Vec<LimitBody>,
    /// Where it may be played: the players' licensing jurisdictions.
    pub jurisdictions: Vec<String>,
    /// Bets are refused while it is disabled (default true).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A provider's record: what `PUT /operator/v1/games/providers/{code}` takes.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderBody {
    /// Display name (1–128 bytes).
    pub name: String,
    /// The aggregators that carry its games: ids or names.
    pub aggregators: Vec<AggregatorRef>,
}

/// An aggregator, by its id or its name.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AggregatorRef {
    /// Its id (the source its requests carry).
    Id(u32),
    /// Its name.
    Name(String),
}

/// A provider as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GameProviderReply)]
pub struct ProviderReply {
    /// Its code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The aggregators that carry it.
    pub aggregators: Vec<AggregatorName>,
    /// Games of it in the catalogue.
    pub games: usize,
}

/// An aggregator's id and name.
#[derive(Debug, Serialize, ToSchema)]
pub struct AggregatorName {
    /// Its id.
    pub id: u32,
    /// Its name.
    pub name: String,
}

/// A game as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GameReply {
    /// The aggregator's id.
    pub aggregator: u32,
    /// The aggregator's name.
    pub aggregator_name: String,
    /// The game's code at that aggregator (a bet's `game`).
    pub code: String,
    /// The provider's code.
    pub provider: String,
    /// Display name.
    pub name: String,
    /// slot, table, live, crash or other.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// unrated, low, medium, high or very-high.
    pub volatility: &'static str,
    /// RTP variants, basis points.
    pub rtp_variants_bp: Vec<u16>,
    /// The default configured variant.
    pub rtp_default_bp: u16,
    /// The configured variant per jurisdiction.
    pub rtp_by_jurisdiction: BTreeMap<String, u16>,
    /// Stake limits per currency.
    pub limits: Vec<LimitBody>,
    /// Where it may be played.
    pub jurisdictions: Vec<String>,
    /// Whether it takes bets.
    pub enabled: bool,
}

/// The aggregator a path segment or form field names: its id, or its name.
pub fn aggregator(view: &View, text: &str) -> Option<SourceId> {
    if let Ok(id) = text.parse::<u32>() {
        return view.access.aggregator(SourceId(id)).map(|a| a.source);
    }
    view.access
        .aggregators()
        .find(|a| a.name.as_str() == text)
        .map(|a| a.source)
}

/// The aggregator a reference names.
pub fn aggregator_ref(view: &View, reference: &AggregatorRef) -> Option<SourceId> {
    match reference {
        AggregatorRef::Id(id) => view.access.aggregator(SourceId(*id)).map(|a| a.source),
        AggregatorRef::Name(name) => aggregator(view, name),
    }
}

fn aggregator_name(view: &View, source: SourceId) -> String {
    view.access
        .aggregator(source)
        .map_or_else(String::new, |a| a.name.to_string())
}

/// A provider's code from the path.
pub fn provider_code(text: &str) -> Result<ProviderCode, FieldError> {
    ProviderCode::new(text).map_err(|e| FieldError::new("provider", e.to_string()))
}

/// A game's code from the path or a row.
pub fn game_code(text: &str) -> Result<GameCode, FieldError> {
    GameCode::new(text).map_err(|e| FieldError::new("code", e.to_string()))
}

fn title(text: &str, field: &str) -> Result<Title, FieldError> {
    Title::new(text).map_err(|e| FieldError::new(field, e.to_string()))
}

fn jurisdiction(text: &str, field: String) -> Result<Jurisdiction, FieldError> {
    Jurisdiction::new(text)
        .map_err(|_| FieldError::new(field, format!("{text:?} is not a two-letter jurisdiction code")))
}

impl ProviderBody {
    /// The ledger's record of provider `code`.
    pub fn to_provider(&self, code: ProviderCode, view: &View) -> Result<Provider, FieldError> {
        let aggregators = self
            .aggregators
            .iter()
            .enumerate()
            .map(|(i, reference)| {
                aggregator_ref(view, reference)
                    .ok_or_else(|| FieldError::new(format!("aggregators[{i}]"), "no such aggregator"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Provider {
            code,
            name: title(&self.name, "name")?,
            aggregators,
        })
    }
}

impl GameBody {
    /// The ledger's record of game `code` at `aggregator`.
    pub fn to_game(&self, aggregator: SourceId, code: GameCode) -> Result<Game, FieldError> {
        let kind = GameType::from_name(&self.kind)
            .ok_or_else(|| FieldError::new("type", "one of slot, table, live, crash, other"))?;
        let volatility = Volatility::from_name(&self.volatility)
            .ok_or_else(|| FieldError::new("volatility", "one of unrated, low, medium, high, very-high"))?;
        let rtp_by_jurisdiction = self
            .rtp_by_jurisdiction
            .iter()
            .map(|(code, rtp)| Ok((jurisdiction(code, format!("rtp_by_jurisdiction.{code}"))?, *rtp)))
            .collect::<Result<Vec<_>, FieldError>>()?;
        let limits = self
            .limits
            .iter()
            .enumerate()
            .map(|(i, limit)| limit.to_limit(&format!("limits[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let jurisdictions = self
            .jurisdictions
            .iter()
            .enumerate()
            .map(|(i, code)| jurisdiction(code, format!("jurisdictions[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Game {
            aggregator,
            code,
            provider: provider_code(&self.provider)?,
            name: title(&self.name, "name")?,
            kind,
            volatility,
            rtp_variants_bp: self.rtp_variants_bp.clone(),
            rtp_default_bp: self.rtp_default_bp,
            rtp_by_jurisdiction,
            limits,
            jurisdictions,
            enabled: self.enabled,
        })
    }
}

impl LimitBody {
    fn to_limit(&self, field: &str) -> Result<BetLimit, FieldError> {
        let currency = Currency::from_code(&self.currency)
            .ok_or_else(|| FieldError::new(format!("{field}.currency"), "unknown currency"))?;
        let amount = |text: &str, name: &str| -> Result<Amount, FieldError> {
            let field = format!("{field}.{name}");
            wire::amount(text, currency, wire::Sign::Positive, &field).map_err(|e| {
                let message = e
                    .message
                    .strip_prefix(&format!("{field}: "))
                    .unwrap_or(&e.message)
                    .to_owned();
                FieldError::new(field.clone(), message)
            })
        };
        Ok(BetLimit {
            currency,
            min: amount(&self.min, "min")?,
            max: amount(&self.max, "max")?,
        })
    }

    fn of(limit: &BetLimit) -> LimitBody {
        LimitBody {
            currency: limit.currency.code().to_owned(),
            min: wire::money(limit.min, limit.currency),
            max: wire::money(limit.max, limit.currency),
        }
    }
}

/// The API's form of a provider.
pub fn provider_reply(view: &View, provider: &Provider) -> ProviderReply {
    ProviderReply {
        code: provider.code.to_string(),
        name: provider.name.to_string(),
        aggregators: provider
            .aggregators
            .iter()
            .map(|&source| AggregatorName {
                id: source.0,
                name: aggregator_name(view, source),
            })
            .collect(),
        games: view
            .games
            .games()
            .iter()
            .filter(|g| g.provider == provider.code)
            .count(),
    }
}

/// The API's form of a game.
pub fn game_reply(view: &View, game: &Game) -> GameReply {
    GameReply {
        aggregator: game.aggregator.0,
        aggregator_name: aggregator_name(view, game.aggregator),
        code: game.code.to_string(),
        provider: game.provider.to_string(),
        name: game.name.to_string(),
        kind: game.kind.name(),
        volatility: game.volatility.name(),
        rtp_variants_bp: game.rtp_variants_bp.clone(),
        rtp_default_bp: game.rtp_default_bp,
        rtp_by_jurisdiction: game
            .rtp_by_jurisdiction
            .iter()
            .map(|(code, rtp)| (code.to_string(), *rtp))
            .collect(),
        limits: game.limits.iter().map(LimitBody::of).collect(),
        jurisdictions: game.jurisdictions.iter().map(|j| j.to_string()).collect(),
        enabled: game.enabled,
    }
}

/// The CSV columns of an import, in order.
pub const CSV_COLUMNS: [&str; 12] = [
    "aggregator",
    "code",
    "provider",
    "name",
    "type",
    "volatility",
    "rtp_variants_bp",
    "rtp_default_bp",
    "rtp_by_jurisdiction",
    "limits",
    "jurisdictions",
    "enabled",
];

/// One CSV row as a [`GameBody`] with its aggregator and code. Lists are
/// `;`-separated: `rtp_variants_bp` "9450;9650", `rtp_by_jurisdiction`
/// "GB:9450", `limits` "EUR:0.10:50.00;GBP:0.10:40.00", `jurisdictions`
/// "MT;GB"; `enabled` is true or false (empty: true).
pub fn csv_row(record: &csv::StringRecord) -> Result<(String, String, GameBody), FieldError> {
    if record.len() != CSV_COLUMNS.len() {
        return Err(FieldError::new(
            "row",
            format!("{} columns where the header has {}", record.len(), CSV_COLUMNS.len()),
        ));
    }
    let cell = |i: usize| record.get(i).unwrap_or("").trim();
    let list = |i: usize| -> Vec<&str> { cell(i).split(';').map(str::trim).filter(|s| !s.is_empty()).collect() };
    let number = |text: &str, field: &str| -> Result<u16, FieldError> {
        text.parse::<u16>()
            .map_err(|_| FieldError::new(field, format!("{text:?} is not a whole number of basis points")))
    };
    let rtp_variants_bp = list(6)
        .into_iter()
        .map(|text| number(text, "rtp_variants_bp"))
        .collect::<Result<Vec<_>, _>>()?;
    let rtp_by_jurisdiction = list(8)
        .into_iter()
        .map(|pair| match pair.split_once(':') {
            Some((code, rtp)) => Ok((code.trim().to_owned(), number(rtp.trim(), "rtp_by_jurisdiction")?)),
            None => Err(FieldError::new(
                "rtp_by_jurisdiction",
                format!("{pair:?} is not CODE:BASIS_POINTS"),
            )),
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    let limits = list(9)
        .into_iter()
        .map(|triple| match triple.split(':').collect::<Vec<_>>().as_slice() {
            [currency, min, max] => Ok(LimitBody {
                currency: currency.trim().to_owned(),
                min: min.trim().to_owned(),
                max: max.trim().to_owned(),
            }),
            _ => Err(FieldError::new("limits", format!("{triple:?} is not CURRENCY:MIN:MAX"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let enabled = match cell(11) {
        "" | "true" => true,
        "false" => false,
        other => return Err(FieldError::new("enabled", format!("{other:?} is not true or false"))),
    };
    let body = GameBody {
        provider: cell(2).to_owned(),
        name: cell(3).to_owned(),
        kind: cell(4).to_owned(),
        volatility: cell(5).to_owned(),
        rtp_variants_bp,
        rtp_default_bp: number(cell(7), "rtp_default_bp")?,
        rtp_by_jurisdiction,
        limits,
        jurisdictions: list(10).into_iter().map(str::to_owned).collect(),
        enabled,
    };
    Ok((cell(0).to_owned(), cell(1).to_owned(), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cells: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(cells.to_vec())
    }

    #[test]
    fn a_csv_row_reads_its_lists() {
        let row = record(&[
            "2",
            "gates",
            "studio",
            "Gates, of Olympus",
            "slot",
            "high",
            "9450;9650",
            "9650",
            "GB:9450",
            "EUR:0.10:50.00;GBP:0.10:40",
            "MT;GB",
            "",
        ]);
        let (aggregator, code, body) = csv_row(&row).unwrap();
        assert_eq!((aggregator.as_str(), code.as_str()), ("2", "gates"));
        assert_eq!(body.rtp_variants_bp, [9_450, 9_650]);
        assert_eq!(body.rtp_by_jurisdiction, BTreeMap::from([("GB".to_owned(), 9_450)]));
        assert_eq!(body.limits[1].max, "40");
        assert_eq!(body.jurisdictions, ["MT", "GB"]);
        assert!(body.enabled);
        let game = body.to_game(SourceId(2), GameCode::new("gates").unwrap()).unwrap();
        assert_eq!(game.limits[0].min, Amount::from_minor(10));
        assert_eq!(game.limits[1].max, Amount::from_minor(4_000));
    }

    #[test]
    fn each_bad_cell_names_its_field() {
        let good = [
            "2",
            "g",
            "studio",
            "G",
            "slot",
            "high",
            "9650",
            "9650",
            "",
            "EUR:0.10:50",
            "MT",
            "true",
        ];
        let field_of = |i: usize, value: &str| {
            let mut cells = good;
            cells[i] = value;
            let (_, _, body) = match csv_row(&record(&cells)) {
                Ok(parsed) => parsed,
                Err(error) => return error.field,
            };
            body.to_game(SourceId(2), GameCode::new("g").unwrap())
                .unwrap_err()
                .field
        };
        assert_eq!(field_of(4, "pachinko"), "type");
        assert_eq!(field_of(5, "wild"), "volatility");
        assert_eq!(field_of(6, "96.5"), "rtp_variants_bp");
        assert_eq!(field_of(8, "GB"), "rtp_by_jurisdiction");
        assert_eq!(field_of(8, "Great:9650"), "rtp_by_jurisdiction.Great");
        assert_eq!(field_of(9, "EUR:0.10"), "limits");
        assert_eq!(field_of(9, "XXX:1:2"), "limits[0].currency");
        assert_eq!(field_of(9, "EUR:0.001:2"), "limits[0].min");
        assert_eq!(field_of(9, "EUR:1:-2"), "limits[0].max");
        assert_eq!(field_of(10, "Malta"), "jurisdictions[0]");
        assert_eq!(field_of(11, "yes"), "enabled");
        assert_eq!(field_of(3, " "), "name");
        assert_eq!(csv_row(&record(&["2", "g"])).unwrap_err().field, "row");
    }
}
