//! A playlist entry. The wire shape is exactly `{movie_id, url, title}` (the contract's
//! `movie_added` data); who added it and when are kept in the database only.

use serde::{Deserialize, Serialize};

use crate::ids::MovieId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movie {
    pub movie_id: MovieId,
    pub url: String,
    pub title: String,
}
