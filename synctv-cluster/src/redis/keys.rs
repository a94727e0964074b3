//! Redis key and channel names. Everything starts with `redis.key_prefix`. A room's keys and
//! its channel carry the room id as a hash tag (`{prefix}room:{<room_id>}:...`), so in a
//! Redis Cluster they share one slot and one script can touch them all. The registry's keys
//! share the `{nodes}` tag, for the same reason.

use synctv_core::ids::{NodeId, RoomId};

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

/// The keys of one room.
#[derive(Debug, Clone)]
pub struct RoomKeys {
    /// Hash: `epoch`, `seq`.
    pub meta: String,
    /// Stream of envelopes, ids `<seq>-0`.
    pub log: String,
    /// Pub/sub channel of envelopes and control messages.
    pub channel: String,
    /// Hash: user id -> total connections (all nodes).
    pub presence: String,
    /// Hash: user id -> member JSON (data of member_joined/member_left).
    pub members: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    pub fn room(&self, room: &RoomId) -> RoomKeys {
        let base = format!("{}room:{{{room}}}", self.prefix);
        RoomKeys {
            meta: format!("{base}:meta"),
            log: format!("{base}:log"),
            channel: format!("{base}:events"),
            presence: format!("{base}:presence"),
            members: format!("{base}:members"),
        }
    }

    /// Hash: user id -> connections of `node` in `room`.
    pub fn room_node(&self, room: &RoomId, node: &NodeId) -> String {
        format!("{}room:{{{room}}}:node:{node}", self.prefix)
    }

    /// The room a room channel belongs to.
    pub fn room_of_channel<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix("room:{")?
            .strip_suffix("}:events")
    }

    pub fn broadcast(&self) -> String {
        format!("{}broadcast", self.prefix)
    }

    /// A canary channel of `node` whose slot is the slot of `tag`.
    pub fn canary(&self, tag: &str, node: &NodeId) -> String {
        format!("{}canary:{{{tag}}}:{node}", self.prefix)
    }

    pub fn is_canary(&self, channel: &str) -> bool {
        channel
            .strip_prefix(self.prefix.as_str())
            .is_some_and(|c| c.starts_with("canary:"))
    }

    /// Hash: node id -> status JSON.
    pub fn nodes(&self) -> String {
        format!("{}{{nodes}}:all", self.prefix)
    }

    /// Exists while the node heartbeats.
    pub fn node_alive(&self, node: &NodeId) -> String {
        format!("{}{{nodes}}:alive:{node}", self.prefix)
    }

    /// Set of rooms the node registered presence in.
    pub fn node_rooms(&self, node: &NodeId) -> String {
        format!("{}{{nodes}}:rooms:{node}", self.prefix)
    }

    pub fn lock(&self, name: &str) -> String {
        format!("{}lock:{name}", self.prefix)
    }
}

/// The Redis Cluster hash slot of a key or channel.
pub fn slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = bytes
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &bytes[open + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(bytes);
    crc16::State::<crc16::XMODEM>::calculate(tagged) % 16384
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_keys_share_a_slot_and_channels_name_their_room() {
        let keys = Keys::new("synctv:");
        let room = RoomId::from("r1");
        let k = keys.room(&room);
        assert_eq!(k.meta, "synctv:room:{r1}:meta");
        assert_eq!(k.channel, "synctv:room:{r1}:events");
        let s = slot(&k.meta);
        for key in [&k.log, &k.channel, &k.presence, &k.members] {
            assert_eq!(slot(key), s);
        }
        assert_eq!(slot(&keys.room_node(&room, &NodeId::from("n"))), s);
        assert_eq!(keys.room_of_channel(&k.channel), Some("r1"));
        assert_eq!(keys.room_of_channel("other:room:{r1}:events"), None);
        assert!(keys.is_canary(&keys.canary("x", &NodeId::from("n"))));
    }

    #[test]
    fn slots_match_redis() {
        // Values from `CLUSTER KEYSLOT` on a real server.
        assert_eq!(slot("foo"), 12182);
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
        assert_eq!(slot("123456789"), 12739);
        assert_eq!(
            slot("foo{}{bar}"),
            slot("foo{}{bar}"),
            "empty tag: whole key"
        );
    }
}
