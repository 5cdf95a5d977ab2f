//! Where connectors keep secrets (refresh tokens, cached access tokens) and how a host app can
//! hand in access tokens it obtained itself (MSAL on the Mac).
//!
//! Secrets never enter the state database, logs, errors or `Debug` output: connectors wrap them in
//! [`Secret`], whose `Debug` prints a placeholder.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// A string that must not be shown. `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A failure of the secret store (the keychain is locked, the file is unreadable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret store: {0}")]
pub struct SecretStoreError(pub String);

/// A synchronous key → secret store (the Keychain on the Mac, `keyring` or a 0600 file in the CLI).
pub trait SecretStore: Send + Sync {
    /// Reads a secret.
    fn get(&self, key: &str) -> Result<Option<Secret>, SecretStoreError>;
    /// Writes a secret.
    fn set(&self, key: &str, value: &Secret) -> Result<(), SecretStoreError>;
    /// Deletes a secret (no error when absent).
    fn delete(&self, key: &str) -> Result<(), SecretStoreError>;
}

/// A secret store in memory, for tests and short-lived tools.
#[derive(Default)]
pub struct MemorySecretStore(Mutex<HashMap<String, Secret>>);

impl fmt::Debug for MemorySecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemorySecretStore([redacted])")
    }
}

impl SecretStore for MemorySecretStore {
    fn get(&self, key: &str) -> Result<Option<Secret>, SecretStoreError> {
        Ok(self.0.lock().map_err(poisoned)?.get(key).cloned())
    }
    fn set(&self, key: &str, value: &Secret) -> Result<(), SecretStoreError> {
        self.0
            .lock()
            .map_err(poisoned)?
            .insert(key.to_string(), value.clone());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<(), SecretStoreError> {
        self.0.lock().map_err(poisoned)?.remove(key);
        Ok(())
    }
}

fn poisoned<T>(_: T) -> SecretStoreError {
    SecretStoreError("lock poisoned".into())
}

/// An access token handed in by the host, with its expiry (seconds since the Unix epoch).
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The bearer token.
    pub token: Secret,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &self.token)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A host-provided source of access tokens (a Swift app uses MSAL and hands tokens in).
/// Synchronous: hosts answer from their cache or block on their own refresh.
pub trait AccessTokenProvider: Send + Sync {
    /// A valid access token for the given scopes; `force_refresh` after a 401.
    fn access_token(
        &self,
        scopes: &[String],
        force_refresh: bool,
    ) -> Result<AccessToken, SecretStoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show() {
        let s = Secret::new("eyJ-very-secret");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        let t = AccessToken {
            token: s,
            expires_at: 1,
        };
        assert!(!format!("{t:?}").contains("secret"));
    }
}
