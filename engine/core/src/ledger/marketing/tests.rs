//! The marketing commands' checks, their encoding under tags 110–114, and
//! what the ledger answers.

use super::*;
use crate::codec::{from_bytes, to_bytes};
use crate::command::{Command as AnyCommand, Envelope, Request};
use crate::ids::ExtId;
use crate::ledger::Config;
use crate::players;

fn code(text: &str) -> BonusCode {
    BonusCode::new(text).unwrap()
}

fn plan(revenue_share_bp: u16, cpa_minor: i64) -> Command {
    Command::SetCommissionPlan {
        plan: Box::new(CommissionPlan {
            code: code("rs25"),
            name: Title::new("Revenue share 25 %").unwrap(),
            currency: Currency::EUR,
            revenue_share_bp,
            admin_fee_bp: 1_000,
            negative_carry_over: true,
            cpa_amount: Amount::from_minor(cpa_minor),
            cpa_threshold: Amount::from_minor(2_000),
        }),
        operator: OperatorId(2),
    }
}

fn game(code: &str) -> LobbyGame {
    LobbyGame {
        aggregator: SourceId(3),
        code: GameCode::new(code).unwrap(),
    }
}

fn commands() -> Vec<Command> {
    vec![
        Command::SetAffiliate {
            affiliate: Box::new(Affiliate {
                code: code("acme"),
                name: Title::new("Acme Media").unwrap(),
                contact: Title::new("ops@acme.example").unwrap(),
                status: AffiliateStatus::Disabled,
                tracking_codes: vec![code("acme-1"), code("acme-2")],
                plan: Some(code("rs25")),
            }),
            operator: OperatorId(2),
        },
        plan(2_500, 5_000),
        Command::AttributePlayer {
            player: PlayerId(1),
            brand: Some(code("lucky")),
            affiliate: None,
            tracking: Some(code("gone-7")),
            operator: OperatorId(2),
        },
        Command::SetBrand {
            brand: Box::new(Brand {
                code: code("lucky"),
                name: Title::new("Lucky Casino").unwrap(),
                currencies: vec![Currency::EUR, Currency::GBP],
                jurisdictions: vec![Jurisdiction::new("MT").unwrap()],
            }),
            operator: OperatorId(2),
        },
        Command::SetLobby {
            lobby: Box::new(Lobby {
                brand: code("lucky"),
                categories: vec![LobbyCategory {
                    code: code("slots"),
                    name: Title::new("Slots").unwrap(),
                    games: vec![game("starburst"), game("book-of-dead")],
                }],
                featured: vec![game("book-of-dead")],
                theme: Theme {
                    primary_colour: Title::new("#0a7d3b").unwrap(),
                    secondary_colour: Title::new("#ffcc00").unwrap(),
                    logo_url: Reason::new("https://cdn.example/lucky.svg").unwrap(),
                },
            }),
            operator: OperatorId(2),
        },
    ]
}

#[test]
fn the_commands_take_tags_110_to_114_and_round_trip() {
    for (command, tag) in commands().into_iter().zip(110u16..) {
        let command = AnyCommand::Marketing(command);
        let bytes = to_bytes(&command);
        assert_eq!(bytes[..2], tag.to_le_bytes());
        assert_eq!(from_bytes::<AnyCommand>(&bytes), Ok(command));
    }
    let refused = crate::Outcome::Rejected(Rejection::InvalidMarketing);
    let bytes = to_bytes(&refused);
    assert_eq!(from_bytes::<crate::Outcome>(&bytes), Ok(refused));
}

#[test]
fn definitions_out_of_range_are_refused() {
    assert_eq!(plan(BP_ONE, 0).validate(), Ok(()));
    assert_eq!(plan(BP_ONE + 1, 0).validate(), Err(Rejection::InvalidMarketing));
    assert_eq!(plan(100, -1).validate(), Err(Rejection::InvalidMarketing));
    let mut too_many = commands().remove(0);
    if let Command::SetAffiliate { affiliate, .. } = &mut too_many {
        affiliate.tracking_codes = (0..=TRACKING_CODES_MAX).map(|n| code(&format!("t{n}"))).collect();
    }
    assert_eq!(too_many.validate(), Err(Rejection::InvalidMarketing));
}

#[test]
fn the_ledger_accepts_definitions_and_attributes_only_known_players() {
    let mut ledger = Ledger::new(Config::default());
    let mut seq = 0;
    let mut send = |id: &str, command: AnyCommand| {
        seq += 1;
        ledger.apply(&Envelope {
            seq,
            time_ms: 1_000,
            request: Request {
                source: SourceId(9),
                id: ExtId::new(id).unwrap(),
                command,
            },
        })
    };
    let attribute = commands().remove(2);
    assert_eq!(
        send("a", AnyCommand::Marketing(attribute.clone())),
        Outcome::Rejected(Rejection::UnknownPlayer)
    );
    let register = players::Command::RegisterPlayer {
        currency: Currency::EUR,
        jurisdiction: Jurisdiction::new("MT").unwrap(),
    };
    assert_eq!(
        send("r", AnyCommand::Players(register)),
        Outcome::Registered { player: PlayerId(1) }
    );
    assert_eq!(send("b", AnyCommand::Marketing(attribute)), Outcome::Accepted);
    for (n, command) in commands().into_iter().enumerate() {
        assert_eq!(
            send(&format!("c{n}"), AnyCommand::Marketing(command)),
            Outcome::Accepted
        );
    }
    assert_eq!(
        send("d", AnyCommand::Marketing(plan(20_000, 0))),
        Outcome::Rejected(Rejection::InvalidMarketing)
    );
}
