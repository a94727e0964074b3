//! Guest names. Guests are not stored, so nothing stops two guests from sharing a name,
//! and members' `role` (`guest`) in snapshots and presence events tells them apart from
//! accounts. But chat events carry only `user_id` and `username`, so a guest must not be
//! able to *look like* a registered user: a guest name whose comparison key
//! (`synctv_core::text::name_key`) belongs to an account is refused, when the guest
//! identity is issued and again whenever the guest opens a socket (the account may have
//! been registered after the guest token was issued).

use axum::http::StatusCode;
use synctv_core::model::validate;

use crate::error::{Error, Result};
use crate::state::AppState;

/// Refuse a guest name that is invalid or looks like a registered username (409
/// `username_taken`).
pub async fn require_guest_name(state: &AppState, field: &'static str, name: &str) -> Result<()> {
    validate::username(field, name)?;
    if state.store.find_user_like(name).await?.is_some() {
        return Err(Error::new(
            StatusCode::CONFLICT,
            "username_taken",
            "a registered user has this name, or one that looks like it; choose another guest name",
        ));
    }
    Ok(())
}
