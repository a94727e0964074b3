//! Who connects where. Publishers go to the first node; everyone else goes to the other
//! nodes, round-robin across all rooms, so that with two or more nodes every measured
//! delivery crosses from one node to another (through the cluster's broker), and with one
//! node the same scenario runs entirely on it.

/// One member of one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub room: usize,
    /// Index within the room; the first `publishers_per_room` publish.
    pub index: usize,
    /// Index into the node list.
    pub node: usize,
    pub publisher: bool,
}

/// Every seat of every room, room by room.
pub fn seats(rooms: usize, members: usize, publishers: usize, nodes: usize) -> Vec<Seat> {
    let subscribers = members - publishers;
    let mut out = Vec::with_capacity(rooms * members);
    for room in 0..rooms {
        for index in 0..members {
            let publisher = index < publishers;
            let node = if publisher || nodes == 1 {
                0
            } else {
                let k = room * subscribers + (index - publishers);
                1 + k % (nodes - 1)
            };
            out.push(Seat {
                room,
                index,
                node,
                publisher,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_node_holds_everyone() {
        let s = seats(2, 3, 1, 1);
        assert_eq!(s.len(), 6);
        assert!(s.iter().all(|s| s.node == 0));
        assert_eq!(s.iter().filter(|s| s.publisher).count(), 2);
    }

    #[test]
    fn publishers_apart_from_subscribers() {
        let s = seats(3, 4, 1, 3);
        for seat in &s {
            assert_eq!(seat.publisher, seat.node == 0, "{seat:?}");
        }
        let on = |n| s.iter().filter(|s| s.node == n).count();
        assert_eq!((on(0), on(1), on(2)), (3, 5, 4));
    }
}
