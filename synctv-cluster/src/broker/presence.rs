//! Cluster-wide presence of one room, in memory (the in-process broker). The Redis scripts
//! implement the same rules: per node and user a connection count, per user a total across
//! nodes; a user's total going from 0 to 1 is `member_joined`, back to 0 is `member_left`.

use std::collections::HashMap;

use synctv_core::event::MemberInfo;
use synctv_core::ids::{NodeId, UserId};

#[derive(Debug, Default)]
pub(super) struct Presence {
    totals: HashMap<UserId, u32>,
    members: HashMap<UserId, MemberInfo>,
    per_node: HashMap<NodeId, HashMap<UserId, u32>>,
}

/// A user's total crossed zero.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Change {
    Joined(MemberInfo),
    Left(MemberInfo),
}

impl Presence {
    pub fn is_empty(&self) -> bool {
        self.totals.is_empty()
    }

    pub fn counts(&self) -> HashMap<UserId, u32> {
        self.totals.clone()
    }

    pub fn members(&self) -> Vec<(MemberInfo, u32)> {
        self.members
            .iter()
            .map(|(u, m)| (m.clone(), self.totals.get(u).copied().unwrap_or(1)))
            .collect()
    }

    /// One more connection of `m` on `node`; true when it is the user's first anywhere.
    pub fn join(&mut self, node: &NodeId, m: &MemberInfo) -> bool {
        *self
            .per_node
            .entry(node.clone())
            .or_default()
            .entry(m.user_id.clone())
            .or_default() += 1;
        let total = self.totals.entry(m.user_id.clone()).or_default();
        *total += 1;
        if *total == 1 {
            self.members.insert(m.user_id.clone(), m.clone());
            true
        } else {
            false
        }
    }

    /// One connection fewer of `user` on `node`; the member when it was their last anywhere.
    pub fn leave(&mut self, node: &NodeId, user: &UserId) -> Option<MemberInfo> {
        let conns = self.per_node.get_mut(node)?;
        let c = conns.get_mut(user)?;
        *c -= 1;
        if *c == 0 {
            conns.remove(user);
        }
        self.remove_conns(user, 1)
    }

    /// Make `node`'s connections exactly `local`.
    pub fn sync(&mut self, node: &NodeId, local: &[(MemberInfo, u32)]) -> Vec<Change> {
        let mut changes: Vec<Change> = self.drop_node(node).into_iter().map(Change::Left).collect();
        for (m, n) in local.iter().filter(|(_, n)| *n > 0) {
            self.per_node
                .entry(node.clone())
                .or_default()
                .insert(m.user_id.clone(), *n);
            let total = self.totals.entry(m.user_id.clone()).or_default();
            let was = *total;
            *total += n;
            if was == 0 {
                self.members.insert(m.user_id.clone(), m.clone());
                // Leaving and coming straight back is no change at all.
                match changes
                    .iter()
                    .position(|c| matches!(c, Change::Left(l) if l.user_id == m.user_id))
                {
                    Some(i) => {
                        changes.remove(i);
                    }
                    None => changes.push(Change::Joined(m.clone())),
                }
            }
        }
        changes
    }

    /// Remove every connection of `node`; the members who were only there.
    pub fn drop_node(&mut self, node: &NodeId) -> Vec<MemberInfo> {
        let Some(conns) = self.per_node.remove(node) else {
            return Vec::new();
        };
        let mut left: Vec<MemberInfo> = conns
            .into_iter()
            .filter_map(|(u, n)| self.remove_conns(&u, n))
            .collect();
        left.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        left
    }

    fn remove_conns(&mut self, user: &UserId, n: u32) -> Option<MemberInfo> {
        let total = self.totals.get_mut(user)?;
        *total = total.saturating_sub(n);
        if *total > 0 {
            return None;
        }
        self.totals.remove(user);
        self.members.remove(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synctv_core::model::Role;

    fn m(id: &str) -> MemberInfo {
        MemberInfo {
            user_id: UserId::from(id),
            username: id.into(),
            role: Role::Member,
            permissions: None,
        }
    }

    #[test]
    fn first_and_last_connection_anywhere() {
        let (a, b) = (NodeId::from("a"), NodeId::from("b"));
        let mut p = Presence::default();
        assert!(p.join(&a, &m("u")));
        assert!(!p.join(&b, &m("u")));
        assert_eq!(p.counts()[&UserId::from("u")], 2);
        assert_eq!(p.leave(&a, &UserId::from("u")), None);
        assert_eq!(p.leave(&a, &UserId::from("u")), None, "a has none left");
        assert_eq!(p.leave(&b, &UserId::from("u")), Some(m("u")));
        assert!(p.is_empty());
    }

    #[test]
    fn dropping_a_node_leaves_only_its_own_users() {
        let (a, b) = (NodeId::from("a"), NodeId::from("b"));
        let mut p = Presence::default();
        p.join(&a, &m("only-a"));
        p.join(&a, &m("both"));
        p.join(&b, &m("both"));
        assert_eq!(p.drop_node(&a), vec![m("only-a")]);
        assert_eq!(p.counts().len(), 1);
        assert!(p.drop_node(&a).is_empty(), "idempotent");
    }

    #[test]
    fn sync_reports_only_real_changes() {
        let a = NodeId::from("a");
        let mut p = Presence::default();
        p.join(&a, &m("stays"));
        p.join(&a, &m("goes"));
        let changes = p.sync(&a, &[(m("stays"), 2), (m("new"), 1)]);
        assert_eq!(
            changes,
            vec![Change::Left(m("goes")), Change::Joined(m("new"))]
        );
        assert_eq!(p.counts()[&UserId::from("stays")], 2);
    }
}
