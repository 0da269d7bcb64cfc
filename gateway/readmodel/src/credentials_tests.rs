//! The credentials projection on crafted records: a clear credential from
//! before sealing still reads, a sealed one replaces it, a refused one
//! changes nothing. (Beside `credentials`, not inside it: the tests open the
//! store, whose migrations name `credentials`.)
use engine::{Envelope, ExtId, KeyId, PasswordHash, Request, Secret, SourceId};

use engine::OperatorId;
use engine::access;
use engine::command::Command;
use engine::outcome::Outcome;
use engine::players::SealedProfile;
use engine::sequencer::Committed;

use crate::credentials::*;

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

fn committed(seq: u64, command: access::Command, outcome: Outcome) -> Committed {
    let request = Request {
        source: SourceId(1),
        id: ExtId::new(&format!("cred-{seq}")).unwrap(),
        command: Command::Access(command),
    };
    Committed {
        envelope: Envelope {
            seq,
            time_ms: 1_000 + seq,
            request,
        },
        outcome,
    }
}

#[test]
fn clear_credentials_from_before_sealing_still_read_and_sealed_ones_replace_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut connection = crate::store::open_as(&crate::store::path(dir.path()), Some("boot")).unwrap();
    let sealed = SealedProfile::new(KeyId([0; 16]), 2, [4; 12], &[5; 48]).unwrap();
    let clear = |target| access::Command::SetOperatorCredential {
        target,
        password_hash: PasswordHash::new(HASH).unwrap(),
        totp_secret: Secret([3; 32]),
        operator: OperatorId(1),
    };
    let sealed_for = |target| access::Command::SetOperatorSealedCredential {
        target,
        password_hash: PasswordHash::new(HASH).unwrap(),
        totp_secret: sealed.clone(),
        operator: OperatorId(1),
    };
    let tx = connection.transaction().unwrap();
    crate::credentials::apply(&tx, &committed(1, clear(OperatorId(2)), Outcome::Accepted)).unwrap();
    crate::credentials::apply(&tx, &committed(2, clear(OperatorId(3)), Outcome::Accepted)).unwrap();
    crate::credentials::apply(&tx, &committed(3, sealed_for(OperatorId(3)), Outcome::Accepted)).unwrap();
    let refused = Outcome::Rejected(engine::Rejection::NotPermitted);
    crate::credentials::apply(&tx, &committed(4, sealed_for(OperatorId(2)), refused)).unwrap();
    tx.commit().unwrap();

    let two = credential(&connection, OperatorId(2)).unwrap().unwrap();
    assert_eq!(
        two.totp_secret,
        TotpSecret::Clear(vec![3; 32]),
        "the refused seal changed nothing"
    );
    assert_eq!((two.set_seq, two.password_hash.as_str()), (1, HASH));
    let three = credential(&connection, OperatorId(3)).unwrap().unwrap();
    assert_eq!(three.totp_secret, TotpSecret::Sealed(sealed));
    assert_eq!(three.set_seq, 3);
    assert!(credential(&connection, OperatorId(4)).unwrap().is_none());
}
