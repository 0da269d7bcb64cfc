//! Enrolment in the back office: `POST /operator/v1/operators/{operator}/credentials`
//! (bearer token: an admin for anyone, any operator for themself) sets the
//! operator's password (hashed here with argon2id) and makes a fresh TOTP
//! secret, returned once as base32 and as an `otpauth://` URI for an
//! authenticator app. The secret is sealed by the key vault before it is
//! journaled (`SetOperatorSealedCredential`): the journal, its replicas and
//! the read model hold only ciphertext bound to the operator, and the login
//! opens it. The ledger checks who may set it.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{IdempotencyKey, ok, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::{AppState, Caller};
use engine::{Command, Currency, OperatorId, Outcome, access};
use readmodel::credentials::{CredentialView, TotpSecret};
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, TOTP};
use utoipa::ToSchema;

/// Shortest password accepted, in characters.
pub const PASSWORD_LEN_MIN: usize = 12;
/// Longest password accepted, in characters.
pub const PASSWORD_LEN_MAX: usize = 128;
/// The TOTP period: RFC 6238's default, what authenticator apps assume.
pub const TOTP_STEP_S: u64 = 30;
/// Codes one period either side of now are accepted (clock drift).
const TOTP_SKEW: u8 = 1;

/// A new back-office password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    /// 12 to 128 characters.
    pub password: String,
}

/// The credential set: the TOTP secret is shown this once.
#[derive(Serialize, ToSchema)]
pub struct CredentialReply {
    /// The operator.
    pub operator: u32,
    /// The TOTP secret, base32 (RFC 4648, no padding), for entering by hand.
    pub totp_secret: String,
    /// The same as an `otpauth://totp/...` URI (SHA1, 6 digits, 30 s).
    pub otpauth_uri: String,
}

/// The TOTP generator of a secret for `account` (an operator's name).
pub fn totp(secret: &[u8], account: &str) -> Result<TOTP, ApiError> {
    // The URI's label separates issuer and account with ':'.
    let account = account.replace(':', "_");
    TOTP::new(
        Algorithm::SHA1,
        6,
        TOTP_SKEW,
        TOTP_STEP_S,
        secret.to_vec(),
        Some("Croupier".into()),
        account,
    )
    .map_err(|e| ApiError::internal(format!("totp: {e}")))
}

/// The TOTP step `code` belongs to, if it is valid at `now_s` (within the
/// skew). Compared in constant time.
pub fn totp_step(totp: &TOTP, code: &str, now_s: u64) -> Option<u64> {
    let now_step = now_s / TOTP_STEP_S;
    let first = now_step.saturating_sub(u64::from(TOTP_SKEW));
    (first..=now_step + u64::from(TOTP_SKEW))
        .find(|step| crate::sessions::same(&totp.generate(step * TOTP_STEP_S), code))
}

/// The argon2id hash of `password` (PHC string), with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let bytes = edge::tokens::random_bytes().map_err(ApiError::internal)?;
    let salt = SaltString::encode_b64(&bytes[..16]).map_err(|e| ApiError::internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::internal(format!("argon2: {e}")))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Sets an operator's back-office password and a new TOTP secret (an
/// admin for anyone, any operator for themself). Not retryable: each call
/// makes a new secret, so a repeated `Idempotency-Key` is a conflict.
#[utoipa::path(post, path = "/operator/v1/operators/{operator}/credentials", tag = "backoffice",
    request_body = CredentialRequest,
    params(("operator" = u32, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = CredentialReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (password length, Idempotency-Key)"),
        (status = 403, body = ErrorBody, description = "forbidden: only an admin sets another operator's credential"),
        (status = 404, body = ErrorBody, description = "unknown_operator"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn set_credential(
    State(state): State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: CredentialRequest = decode(&body)?;
    let target = operator(&state, &target)?;
    let length = request.password.chars().count();
    if !(PASSWORD_LEN_MIN..=PASSWORD_LEN_MAX).contains(&length) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("the password must be {PASSWORD_LEN_MIN} to {PASSWORD_LEN_MAX} characters"),
        ));
    }
    let id = request_id(&headers)?;
    let name = state
        .view
        .read()
        .access
        .operator(target)
        .map(|operator| operator.name.to_string())
        .ok_or_else(unknown)?;
    let password = request.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)??;
    let password_hash = engine::PasswordHash::new(&hash).map_err(|e| ApiError::internal(format!("hash: {e}")))?;
    let secret = edge::tokens::new_secret().map_err(ApiError::internal)?;
    let totp = totp(&secret.0, &name)?;
    let sealer = state
        .sealer()
        .ok_or_else(|| ApiError::internal("no key vault to seal the TOTP secret"))?;
    let totp_secret = sealer
        .seal_secret(&totp_context(target), &secret.0)
        .map_err(ApiError::internal)?;
    let command = Command::Access(access::Command::SetOperatorSealedCredential {
        target,
        password_hash,
        totp_secret,
        operator: caller.id,
    });
    match caller.submit(&state, id, command).await? {
        Outcome::Accepted => {
            // The login reads the read model: let it catch up first, so a
            // login right after this reply finds the credential.
            edge::reads::read(&state, |_| Ok(())).await?;
            ok(
                StatusCode::CREATED,
                &CredentialReply {
                    operator: target.0,
                    totp_secret: totp.get_secret_base32(),
                    otpauth_uri: totp.get_url(),
                },
            )
        }
        other => Err(refusal(&other, Currency::EUR)),
    }
}

/// What a sealed TOTP secret is bound to: its operator (a sealed secret
/// copied to another operator's row does not open).
pub fn totp_context(operator: OperatorId) -> Vec<u8> {
    format!("croupier back-office totp {}", operator.0).into_bytes()
}

/// The TOTP secret of a stored credential: opened by the vault when it is
/// sealed; a credential set before sealing holds it in the clear. `None`
/// when a sealed one does not open (another master key, damaged).
pub fn totp_secret(state: &AppState, credential: &CredentialView) -> Option<Vec<u8>> {
    match &credential.totp_secret {
        TotpSecret::Clear(secret) => Some(secret.clone()),
        TotpSecret::Sealed(sealed) => {
            let opened = state.sealer()?.open_secret(&totp_context(credential.operator), sealed);
            match opened {
                Ok(secret) => Some(secret),
                Err(error) => {
                    tracing::error!(operator = credential.operator.0, %error, "a sealed TOTP secret does not open");
                    None
                }
            }
        }
    }
}

fn unknown() -> ApiError {
    ApiError::not_found("unknown_operator", "no such operator")
}

/// An operator id from the path, known to exist.
fn operator(state: &AppState, text: &str) -> Result<OperatorId, ApiError> {
    let id = text.parse::<u32>().map_err(|_| unknown())?;
    let known = state.view.read().access.operator(OperatorId(id)).is_some();
    if id == 0 || !known {
        return Err(unknown());
    }
    Ok(OperatorId(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(engine::PasswordHash::new(&hash).is_ok(), "fits the ledger's bound");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterz", &hash));
        assert!(!verify_password("correct horse battery", "not a hash"));
    }

    #[test]
    fn codes_of_the_rfc_6238_test_vector_and_their_steps() {
        // RFC 6238 appendix B, SHA1: the secret "12345678901234567890".
        let totp = totp(b"12345678901234567890", "ann").unwrap();
        // At 59 s the 8-digit code is 94287082; 6 digits: 287082.
        assert_eq!(totp_step(&totp, "287082", 59), Some(1));
        assert_eq!(totp_step(&totp, "287082", 59 + 30), Some(1), "one step of drift");
        assert_eq!(totp_step(&totp, "287082", 59 + 90), None, "too late");
        assert_eq!(totp_step(&totp, "000000", 59), None);
        // At 1111111109 s: 07081804 → 081804.
        assert_eq!(totp_step(&totp, "081804", 1_111_111_109), Some(1_111_111_109 / 30));
        assert!(totp.get_url().starts_with("otpauth://totp/Croupier:ann?"));
    }
}
