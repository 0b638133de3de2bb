//! Creating console users (`keva-sync user create` and the quickstart): the
//! workspace is created if new, a password is hashed with argon2 if given, and a
//! one-time sign-in link is minted either way.

use keva_store::{Store, StoreError, User, UserRole};
use secrecy::{ExposeSecret, SecretString};

/// A new (or existing) user and their one-time sign-in link.
#[derive(Debug)]
pub struct CreatedUser {
    pub user: User,
    /// `false` when the user already existed (a new link was minted).
    pub created: bool,
    pub sign_in_link: String,
}

/// Creates the user (or, with `reuse`, finds the existing one) and mints a sign-in
/// link on `public_url`. An existing user without `reuse` is a `Conflict`.
pub async fn create_user(
    store: &Store,
    public_url: &str,
    workspace: &str,
    email: &str,
    role: UserRole,
    password: Option<&SecretString>,
    reuse: bool,
) -> anyhow::Result<CreatedUser> {
    keva_core::Email::parse(email).map_err(|e| anyhow::anyhow!("invalid email {email:?}: {e}"))?;
    let password_hash = password
        .map(|p| super::session::hash_password(p.expose_secret()))
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (ws, _) = store.ensure_workspace(workspace).await?;
    let (user, created) = match store
        .insert_user(ws.id, email, role, password_hash.as_deref())
        .await
    {
        Ok(u) => (u, true),
        Err(StoreError::Conflict(_)) if reuse => {
            let u = store
                .user_by_email(ws.id, email)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the user {email} vanished"))?;
            (u, false)
        }
        Err(e) => return Err(e.into()),
    };
    let sign_in_link = super::session::sign_in_link(store, public_url, &user).await?;
    Ok(CreatedUser {
        user,
        created,
        sign_in_link,
    })
}
