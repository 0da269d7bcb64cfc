//! Where `croupier-admin login` keeps the server URL and the operator
//! token: a TOML file only its owner may read (0600), in
//! `$CROUPIER_ADMIN_CONFIG`, else `$XDG_CONFIG_HOME/croupier/admin.toml`,
//! else `~/.config/croupier/admin.toml`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Failure;

/// The environment variable that names the file (tests, several servers).
pub const ENV: &str = "CROUPIER_ADMIN_CONFIG";

/// What `login` stores.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The server's base URL, without a trailing slash.
    pub server: String,
    /// The operator's bearer token.
    pub token: String,
    /// A PEM certificate to trust for https (the server's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

/// The file's path.
pub fn path() -> Result<PathBuf, Failure> {
    if let Some(path) = std::env::var_os(ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|p| !p.is_empty()) {
            Some(home) => Path::new(&home).join(".config"),
            None => return Err(Failure::Usage(format!("no HOME to keep the login in: set {ENV}"))),
        },
    };
    Ok(base.join("croupier").join("admin.toml"))
}

/// Reads the stored login.
pub fn load() -> Result<Config, Failure> {
    let path = path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Auth(format!(
                "not logged in ({} does not exist): run croupier-admin login --server URL --token TOKEN",
                path.display()
            )));
        }
        Err(error) => return Err(Failure::Other(format!("{}: {error}", path.display()))),
    };
    toml::from_str(&text).map_err(|error| {
        Failure::Usage(format!(
            "{} is not a login file ({}): run croupier-admin login again",
            path.display(),
            error.message()
        ))
    })
}

/// Stores `config`, readable by its owner only; returns where. The file is
/// written beside its place with mode 0600 and renamed over it, so the
/// token is never readable by others, not even for a moment.
pub fn save(config: &Config) -> Result<PathBuf, Failure> {
    let path = path()?;
    let failed = |error: std::io::Error| Failure::Other(format!("{}: {error}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let text = toml::to_string(config).map_err(|error| Failure::Other(error.to_string()))?;
    let temporary = path.with_extension("toml.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary).map_err(failed)?;
    #[cfg(unix)]
    {
        // A leftover temporary file keeps the mode it was made with.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(failed)?;
    }
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    std::fs::rename(&temporary, &path).map_err(failed)?;
    Ok(path)
}
