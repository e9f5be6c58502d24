//! Registry credentials for `up`'s push and the cluster's pull, found where Docker keeps them:
//! `THIDCTL_REGISTRY_USERNAME` and `THIDCTL_REGISTRY_PASSWORD` first (CI), then Docker's
//! config file — the credential helper it names for the registry, or the `auths` entry that
//! `docker login` wrote. No credentials is not an error: most dev registries take anonymous
//! pushes.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ImageError, RegistryCredentials};

pub const USERNAME_ENV: &str = "THIDCTL_REGISTRY_USERNAME";
pub const PASSWORD_ENV: &str = "THIDCTL_REGISTRY_PASSWORD";

/// The part of Docker's `config.json` that says where credentials are.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    /// base64 of "username:password".
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// What a credential helper's `get` prints.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// The credentials for pushing to `registry` (host[:port]), from the environment or Docker's
/// config; `Ok(None)` when neither has any.
pub fn find(registry: &str) -> Result<Option<RegistryCredentials>, ImageError> {
    let username = std::env::var(USERNAME_ENV).ok().filter(|v| !v.is_empty());
    let password = std::env::var(PASSWORD_ENV).ok().filter(|v| !v.is_empty());
    match (username, password) {
        (Some(username), Some(password)) => {
            return Ok(Some(RegistryCredentials { username, password }));
        }
        (None, None) => {}
        _ => {
            return Err(ImageError::Credentials {
                registry: registry.to_string(),
                problem: format!("set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither"),
            });
        }
    }
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ImageError::Credentials {
                registry: registry.to_string(),
                problem: format!("cannot read {}: {error}", path.display()),
            });
        }
    };
    let config: DockerConfig =
        serde_json::from_str(&text).map_err(|error| ImageError::Credentials {
            registry: registry.to_string(),
            problem: format!(
                "{} is not valid JSON ({error}); fix or move it",
                path.display()
            ),
        })?;
    from_config(&config, registry, &run_helper)
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as the docker CLI reads it.
fn docker_config_path() -> Option<PathBuf> {
    let dir = match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(&std::env::var_os("HOME")?).join(".docker"),
    };
    Some(dir.join("config.json"))
}

type Helper<'a> = &'a dyn Fn(&str, &str) -> Result<Option<RegistryCredentials>, String>;

/// A helper named for this registry wins over the store for all registries, which wins over
/// a plain `auths` entry — Docker's own order.
fn from_config(
    config: &DockerConfig,
    registry: &str,
    helper: Helper<'_>,
) -> Result<Option<RegistryCredentials>, ImageError> {
    let wanted = server_host(registry);
    let named_helper = config
        .cred_helpers
        .iter()
        .find(|(server, _)| server_host(server) == wanted)
        .map(|(_, helper)| helper);
    if let Some(name) = named_helper.or(config.creds_store.as_ref()) {
        return helper(name, wanted).map_err(|problem| ImageError::Credentials {
            registry: registry.to_string(),
            problem,
        });
    }
    let Some(entry) = config
        .auths
        .iter()
        .find(|(server, _)| server_host(server) == wanted)
        .map(|(_, entry)| entry)
    else {
        return Ok(None);
    };
    if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
        return Ok(Some(RegistryCredentials {
            username: username.clone(),
            password: password.clone(),
        }));
    }
    let decoded = entry
        .auth
        .as_deref()
        .and_then(decode_base64)
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match decoded.as_deref().and_then(|text| text.split_once(':')) {
        Some((username, password)) => Ok(Some(RegistryCredentials {
            username: username.to_string(),
            password: password.to_string(),
        })),
        None if entry.auth.is_none() => Ok(None),
        None => Err(ImageError::Credentials {
            registry: registry.to_string(),
            problem: "its `auth` entry in Docker's config is not base64 of user:password; \
                      run `docker login` again"
                .to_string(),
        }),
    }
}

/// `https://registry.example.com/v1/` → `registry.example.com`; `127.0.0.1:5000` stays.
fn server_host(server: &str) -> &str {
    let without_scheme = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    without_scheme.split('/').next().unwrap_or(without_scheme)
}

/// `docker-credential-<name> get`, with the server on stdin as Docker sends it.
fn run_helper(name: &str, server: &str) -> Result<Option<RegistryCredentials>, String> {
    let binary = format!("docker-credential-{name}");
    let output = duct::cmd!(&binary, "get")
        .stdin_bytes(server.as_bytes())
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()
        .map_err(|error| match error.kind() {
            ErrorKind::NotFound => format!(
                "Docker's config names the credential helper `{binary}`, which is not on PATH: \
                 install it or remove it from the config"
            ),
            _ => format!("`{binary} get` failed to run: {error}"),
        })?;
    let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_string();
    if !output.status.success() {
        let message = format!("{} {}", said(&output.stdout), said(&output.stderr));
        // Every helper answers this way when it has nothing for the server.
        if message
            .to_ascii_lowercase()
            .contains("credentials not found")
        {
            return Ok(None);
        }
        return Err(format!("`{binary} get` failed: {}", message.trim()));
    }
    let answer: HelperAnswer = serde_json::from_slice(&output.stdout).map_err(|error| {
        format!("`{binary} get` printed something other than credentials ({error})")
    })?;
    Ok(Some(RegistryCredentials {
        username: answer.username,
        password: answer.secret,
    }))
}

/// Standard base64, padded or not, as Docker and hand-edited configs have it.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> DockerConfig {
        serde_json::from_str(json).unwrap()
    }

    fn no_helper(name: &str, _: &str) -> Result<Option<RegistryCredentials>, String> {
        panic!("helper {name} asked for nothing")
    }

    fn pair(username: &str, password: &str) -> Option<RegistryCredentials> {
        Some(RegistryCredentials {
            username: username.into(),
            password: password.into(),
        })
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(decode_base64("dTpw").unwrap(), b"u:p");
        assert_eq!(decode_base64("dTpwYQ==").unwrap(), b"u:pa");
        assert_eq!(decode_base64("dTpwYQ").unwrap(), b"u:pa");
        assert_eq!(decode_base64("not base64!"), None);
    }

    #[test]
    fn a_docker_login_entry_is_found_whatever_the_key_looks_like() {
        let config = config(
            r#"{"auths": {"http://127.0.0.1:5001/v2/": {"auth": "Y2ktYm90OnMzY3JldA=="},
                          "registry.example.com": {"username": "u", "password": "p"}}}"#,
        );
        assert_eq!(
            from_config(&config, "127.0.0.1:5001", &no_helper).unwrap(),
            pair("ci-bot", "s3cret")
        );
        assert_eq!(
            from_config(&config, "registry.example.com", &no_helper).unwrap(),
            pair("u", "p")
        );
        assert_eq!(
            from_config(&config, "127.0.0.1:5000", &no_helper).unwrap(),
            None
        );
    }

    #[test]
    fn a_registrys_own_helper_wins_over_the_store_and_auths() {
        let config = config(
            r#"{"auths": {"127.0.0.1:5001": {"auth": "dTpw"}},
                "credsStore": "desktop",
                "credHelpers": {"127.0.0.1:5001": "pass"}}"#,
        );
        let asked = |name: &str, server: &str| Ok(pair(name, server));
        assert_eq!(
            from_config(&config, "127.0.0.1:5001", &asked).unwrap(),
            pair("pass", "127.0.0.1:5001")
        );
        assert_eq!(
            from_config(&config, "127.0.0.1:5002", &asked).unwrap(),
            pair("desktop", "127.0.0.1:5002")
        );
    }

    #[test]
    fn a_broken_auth_entry_says_to_log_in_again() {
        let config = config(r#"{"auths": {"127.0.0.1:5001": {"auth": "bm8tY29sb24="}}}"#);
        let error = from_config(&config, "127.0.0.1:5001", &no_helper)
            .unwrap_err()
            .to_string();
        assert!(error.contains("docker login"), "{error}");
    }

    #[test]
    fn a_missing_helper_is_named() {
        let error = run_helper("thidctl-test-absent", "127.0.0.1:5001").unwrap_err();
        assert!(
            error.contains("docker-credential-thidctl-test-absent"),
            "{error}"
        );
    }
}
