//! Shared playback state and how a client command changes it.
//!
//! The state records a position at a moment (`position_ms` at `updated_at_ms`); while playing,
//! a client's expected position is `position_ms + (now - updated_at_ms) * rate`. Every accepted
//! change bumps `version` by one; a command carrying a stale `base_version` is refused
//! (`version_conflict`), which gives last-writer-wins with explicit conflict detection.

use serde::{Deserialize, Serialize};

use crate::ids::MovieId;

/// Slowest and fastest accepted playback rates.
pub const MIN_RATE: f64 = 0.0625;
pub const MAX_RATE: f64 = 16.0;
/// Positions beyond ~31 years are refused rather than risking overflow downstream.
pub const MAX_POSITION_MS: u64 = 1_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaybackState {
    pub movie_id: Option<MovieId>,
    pub playing: bool,
    pub position_ms: u64,
    pub rate: f64,
    pub updated_at_ms: u64,
    pub version: u64,
}

impl Default for PlaybackState {
    fn default() -> Self {
        Self {
            movie_id: None,
            playing: false,
            position_ms: 0,
            rate: 1.0,
            updated_at_ms: 0,
            version: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaybackAction {
    Play,
    Pause,
    Seek,
    Rate,
    SetMovie,
}

/// A client's request to change playback (the `playback` frame).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlaybackCommand {
    pub action: PlaybackAction,
    #[serde(default)]
    pub position_ms: Option<u64>,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub movie_id: Option<MovieId>,
    #[serde(default)]
    pub base_version: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlaybackError {
    #[error("stale base_version {base}: the playback is at version {current}")]
    VersionConflict { base: u64, current: u64 },
    #[error("there is no current movie; set_movie first")]
    NoCurrentMovie,
    #[error("movie {0} is not in the playlist")]
    MovieNotInPlaylist(MovieId),
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}

impl PlaybackState {
    /// Where playback is at `now_ms`.
    pub fn position_at(&self, now_ms: u64) -> u64 {
        if !self.playing {
            return self.position_ms;
        }
        let elapsed = now_ms.saturating_sub(self.updated_at_ms) as f64;
        let pos = self.position_ms as f64 + elapsed * self.rate;
        (pos as u64).min(MAX_POSITION_MS)
    }

    /// The state after `cmd` at `now_ms`, or why `cmd` is refused.
    pub fn apply(
        &self,
        cmd: &PlaybackCommand,
        now_ms: u64,
        in_playlist: impl Fn(&MovieId) -> bool,
    ) -> Result<PlaybackState, PlaybackError> {
        validate(cmd)?;
        if let Some(base) = cmd.base_version
            && base != self.version
        {
            return Err(PlaybackError::VersionConflict {
                base,
                current: self.version,
            });
        }
        let mut next = self.clone();
        next.position_ms = self.position_at(now_ms);
        match cmd.action {
            PlaybackAction::SetMovie => {
                let movie = cmd.movie_id.clone().ok_or(PlaybackError::Invalid {
                    field: "movie_id",
                    reason: "set_movie needs a movie_id",
                })?;
                if !in_playlist(&movie) {
                    return Err(PlaybackError::MovieNotInPlaylist(movie));
                }
                next.movie_id = Some(movie);
                next.playing = false;
                next.position_ms = cmd.position_ms.unwrap_or(0);
            }
            action => {
                if self.movie_id.is_none() {
                    return Err(PlaybackError::NoCurrentMovie);
                }
                match action {
                    PlaybackAction::Play => next.playing = true,
                    PlaybackAction::Pause => next.playing = false,
                    PlaybackAction::Seek => {}
                    PlaybackAction::Rate => {
                        next.rate = cmd.rate.ok_or(PlaybackError::Invalid {
                            field: "rate",
                            reason: "rate needs a rate",
                        })?;
                    }
                    PlaybackAction::SetMovie => unreachable!("handled above"),
                }
                if let Some(pos) = cmd.position_ms {
                    next.position_ms = pos;
                } else if action == PlaybackAction::Seek {
                    return Err(PlaybackError::Invalid {
                        field: "position_ms",
                        reason: "seek needs a position_ms",
                    });
                }
            }
        }
        next.updated_at_ms = now_ms;
        next.version = self.version + 1;
        Ok(next)
    }

    /// The state after the current movie left the playlist: nothing playing.
    pub fn cleared(&self, now_ms: u64) -> PlaybackState {
        PlaybackState {
            movie_id: None,
            playing: false,
            position_ms: 0,
            rate: self.rate,
            updated_at_ms: now_ms,
            version: self.version + 1,
        }
    }
}

fn validate(cmd: &PlaybackCommand) -> Result<(), PlaybackError> {
    if let Some(rate) = cmd.rate
        && !(rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&rate))
    {
        return Err(PlaybackError::Invalid {
            field: "rate",
            reason: "must be between 0.0625 and 16",
        });
    }
    if cmd.position_ms.is_some_and(|p| p > MAX_POSITION_MS) {
        return Err(PlaybackError::Invalid {
            field: "position_ms",
            reason: "is too large",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(action: PlaybackAction) -> PlaybackCommand {
        PlaybackCommand {
            action,
            position_ms: None,
            rate: None,
            movie_id: None,
            base_version: None,
        }
    }

    fn with_movie() -> PlaybackState {
        let set = PlaybackCommand {
            movie_id: Some(MovieId::from("m1")),
            ..cmd(PlaybackAction::SetMovie)
        };
        PlaybackState::default()
            .apply(&set, 1_000, |_| true)
            .unwrap()
    }

    #[test]
    fn play_pause_and_position_extrapolation() {
        let s = with_movie();
        assert_eq!(s.version, 1);
        assert!(!s.playing);
        let playing = s
            .apply(&cmd(PlaybackAction::Play), 2_000, |_| true)
            .unwrap();
        assert!(playing.playing);
        assert_eq!(playing.position_ms, 0);
        assert_eq!(playing.position_at(5_000), 3_000);
        let paused = playing
            .apply(&cmd(PlaybackAction::Pause), 6_000, |_| true)
            .unwrap();
        assert!(!paused.playing);
        assert_eq!(paused.position_ms, 4_000);
        assert_eq!(paused.version, 3);
        assert_eq!(paused.position_at(99_000), 4_000);
    }

    #[test]
    fn rate_rebases_position() {
        let s = with_movie()
            .apply(&cmd(PlaybackAction::Play), 0, |_| true)
            .unwrap();
        let fast = PlaybackCommand {
            rate: Some(2.0),
            ..cmd(PlaybackAction::Rate)
        };
        let s = s.apply(&fast, 1_000, |_| true).unwrap();
        assert_eq!(s.position_ms, 1_000);
        assert_eq!(s.position_at(2_000), 3_000);
    }

    #[test]
    fn stale_base_version_conflicts() {
        let s = with_movie();
        let stale = PlaybackCommand {
            base_version: Some(0),
            ..cmd(PlaybackAction::Play)
        };
        assert_eq!(
            s.apply(&stale, 0, |_| true),
            Err(PlaybackError::VersionConflict {
                base: 0,
                current: 1
            })
        );
        let fresh = PlaybackCommand {
            base_version: Some(1),
            ..cmd(PlaybackAction::Play)
        };
        assert_eq!(s.apply(&fresh, 0, |_| true).unwrap().version, 2);
    }

    #[test]
    fn controls_need_a_current_movie() {
        let s = PlaybackState::default();
        for a in [
            PlaybackAction::Play,
            PlaybackAction::Pause,
            PlaybackAction::Rate,
        ] {
            assert_eq!(
                s.apply(&cmd(a), 0, |_| true),
                Err(PlaybackError::NoCurrentMovie)
            );
        }
    }

    #[test]
    fn set_movie_needs_a_playlist_movie() {
        let set = PlaybackCommand {
            movie_id: Some(MovieId::from("zzz")),
            ..cmd(PlaybackAction::SetMovie)
        };
        assert!(matches!(
            PlaybackState::default().apply(&set, 0, |_| false),
            Err(PlaybackError::MovieNotInPlaylist(_))
        ));
    }

    #[test]
    fn invalid_values_are_refused() {
        let s = with_movie();
        assert!(matches!(
            s.apply(&cmd(PlaybackAction::Seek), 0, |_| true),
            Err(PlaybackError::Invalid {
                field: "position_ms",
                ..
            })
        ));
        let bad_rate = PlaybackCommand {
            rate: Some(f64::NAN),
            ..cmd(PlaybackAction::Rate)
        };
        assert!(matches!(
            s.apply(&bad_rate, 0, |_| true),
            Err(PlaybackError::Invalid { field: "rate", .. })
        ));
        let zero = PlaybackCommand {
            rate: Some(0.0),
            ..cmd(PlaybackAction::Rate)
        };
        assert!(s.apply(&zero, 0, |_| true).is_err());
    }

    #[test]
    fn cleared_stops_and_bumps_version() {
        let s = with_movie().cleared(5);
        assert_eq!(s.movie_id, None);
        assert!(!s.playing);
        assert_eq!(s.version, 2);
    }
}
