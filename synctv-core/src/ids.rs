//! Identifier newtypes. String ids are `Arc<str>` so that cloning one into a map key, an
//! event or a subscriber entry never copies the text. New ids are UUID v7 (time-ordered), so
//! "newest first" is also "largest id first" and inserts stay index-friendly.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(Arc::from(uuid::Uuid::now_v7().to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(Arc::from(s))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(Arc::from(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), &self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A user, registered or guest.
    UserId
);
string_id!(
    /// A room.
    RoomId
);
string_id!(
    /// A movie of a room's playlist.
    MovieId
);
string_id!(
    /// A chat message.
    MessageId
);
string_id!(
    /// A server process. Changes on every start, so a restarted node is a new node.
    NodeId
);
string_id!(
    /// A room event (unique across nodes; used for de-duplication).
    EventId
);
string_id!(
    /// Names one incarnation of a room's event log. A client may only resume (`since`) within
    /// the epoch it saw; when the log is lost (restart, eviction, outage) the epoch changes.
    Epoch
);

impl Epoch {
    /// A short random epoch name (64 random bits as hex).
    pub fn random() -> Self {
        let bits: u64 = rand::random();
        Self(Arc::from(format!("{bits:016x}")))
    }
}

/// A WebSocket connection on this node. Small and `Copy`; unique per process.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_and_ordered() {
        let a = RoomId::generate();
        let b = RoomId::generate();
        assert_ne!(a, b);
        assert!(a < b, "uuid v7 ids sort by creation: {a} < {b}");
    }

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id = UserId::from("u1");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"u1\"");
        let back: UserId = serde_json::from_str("\"u1\"").unwrap();
        assert_eq!(back, id);
    }

    #[test]
    fn epochs_are_random_hex() {
        let e = Epoch::random();
        assert_eq!(e.as_str().len(), 16);
        assert_ne!(e, Epoch::random());
    }
}
