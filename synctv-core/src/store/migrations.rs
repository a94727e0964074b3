//! The schema migrations, embedded in the binary so that a node needs nothing but itself.
//! Add a file under `migrations/` with the next number and list it here.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "users",
        include_str!("../../../migrations/0001_users.sql"),
    ),
    (
        2,
        "rooms",
        include_str!("../../../migrations/0002_rooms.sql"),
    ),
    (
        3,
        "room members",
        include_str!("../../../migrations/0003_room_members.sql"),
    ),
    (
        4,
        "movies",
        include_str!("../../../migrations/0004_movies.sql"),
    ),
    (
        5,
        "playback",
        include_str!("../../../migrations/0005_playback.sql"),
    ),
    (6, "chat", include_str!("../../../migrations/0006_chat.sql")),
    (
        7,
        "versions",
        include_str!("../../../migrations/0007_versions.sql"),
    ),
    (
        8,
        "username keys",
        include_str!("../../../migrations/0008_username_keys.sql"),
    ),
    (
        9,
        "room bans",
        include_str!("../../../migrations/0009_room_bans.sql"),
    ),
];

pub(super) fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}
