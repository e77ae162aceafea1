//! The three-way merge of one field group: the base (what both sides held after the last sync),
//! the source now and the target now decide who wins the group in the direction planned.
//! Pure: the planner gives it what changed, it answers who wins.

use serde::Serialize;

use super::normalize::same;
use super::shadow::Shadow;
use crate::mapping::Side;
use crate::mapping::model::ConflictPolicy;

/// Who wins one field group in the direction planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The target already holds the source's values: nothing to write; both sides' values
    /// become the new base.
    InStep,
    /// The source's values are written to the target and become the new base.
    SourceWins,
    /// The target's values win: nothing is written in this direction and the base is kept, so
    /// the other direction sees the target's change and writes it to the source.
    TargetWins,
    /// A `report` conflict: nothing is written and the base is kept until a person makes the
    /// two sides equal.
    Reported,
}

/// Why a group was a conflict (both sides differ and no single side's change explains it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictCause {
    /// Both sides changed the group to different values since the last sync.
    BothChanged,
    /// No last sync yet (a first link through a match key, or a link with no ledger).
    NoBase,
    /// Neither side changed since the last sync, yet they differ (a base that does not describe
    /// the pair, e.g. left by an older version).
    StaleBase,
}

impl ConflictCause {
    /// In words, for plans and status texts.
    pub fn text(self) -> &'static str {
        match self {
            ConflictCause::BothChanged => "both sides changed it since the last sync",
            ConflictCause::NoBase => "the records were never synced, and they differ",
            ConflictCause::StaleBase => "the sides differ, and neither changed since the last sync",
        }
    }
}

/// A field group decided as a conflict, shown in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupConflict {
    /// The field group's name.
    pub group: String,
    /// Why it is a conflict.
    pub cause: ConflictCause,
    /// The policy that decided it (`newest`, `home`, `external`, `report`).
    pub policy: &'static str,
    /// The winning side; `None` for `report`.
    pub winner: Option<Side>,
}

/// What one side did to a group since the base: `None` when there is no base.
pub fn changed(base: Option<&Shadow>, now: &Shadow, keys: &[String]) -> Option<bool> {
    let base = base?;
    Some(keys.iter().any(|k| !same(base.0.get(k), now.0.get(k))))
}

/// Decides one group. `source_changed` / `target_changed` are `None` when that side has no
/// remembered values; `newest` is the side whose record changed last by the systems' own
/// modification times, or the source when they are not both known (the `newest` policy's
/// winner); `one_way` groups always take the source's values (they map in one direction only).
pub fn decide(
    in_step: bool,
    one_way: bool,
    source_changed: Option<bool>,
    target_changed: Option<bool>,
    policy: ConflictPolicy,
    (source, newest): (Side, Side),
) -> (Decision, Option<(ConflictCause, Option<Side>)>) {
    if in_step {
        return (Decision::InStep, None);
    }
    if one_way {
        return (Decision::SourceWins, None);
    }
    // A side with no remembered values is known to have changed only when the other side
    // did not (the difference has to come from somewhere).
    let cause = match (source_changed, target_changed) {
        (Some(true), Some(false)) | (None, Some(false)) => return (Decision::SourceWins, None),
        (Some(false), Some(true)) | (Some(false), None) => return (Decision::TargetWins, None),
        (Some(true), Some(true)) => ConflictCause::BothChanged,
        (Some(false), Some(false)) => ConflictCause::StaleBase,
        _ => ConflictCause::NoBase,
    };
    let winner = match policy {
        ConflictPolicy::Newest => Some(newest),
        ConflictPolicy::Home => Some(Side::Home),
        ConflictPolicy::External => Some(Side::External),
        ConflictPolicy::Report => None,
    };
    let decision = match winner {
        None => Decision::Reported,
        Some(w) if w == source => Decision::SourceWins,
        Some(_) => Decision::TargetWins,
    };
    (decision, Some((cause, winner)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICIES: [ConflictPolicy; 4] = [
        ConflictPolicy::Newest,
        ConflictPolicy::Home,
        ConflictPolicy::External,
        ConflictPolicy::Report,
    ];

    #[test]
    fn a_change_on_one_side_wins_whatever_the_policy() {
        for p in POLICIES {
            for src in [Side::Home, Side::External] {
                assert_eq!(
                    decide(false, false, Some(true), Some(false), p, (src, src)),
                    (Decision::SourceWins, None)
                );
                assert_eq!(
                    decide(false, false, Some(false), Some(true), p, (src, src)),
                    (Decision::TargetWins, None)
                );
                assert_eq!(
                    decide(true, false, None, None, p, (src, src)).0,
                    Decision::InStep
                );
            }
        }
    }

    #[test]
    fn a_conflict_names_the_same_winner_in_both_directions() {
        for p in [ConflictPolicy::Home, ConflictPolicy::External] {
            for cause in [
                (Some(true), Some(true)),
                (None, None),
                (Some(false), Some(false)),
            ] {
                let (out, c_out) =
                    decide(false, false, cause.0, cause.1, p, (Side::Home, Side::Home));
                let (inb, c_in) = decide(
                    false,
                    false,
                    cause.1,
                    cause.0,
                    p,
                    (Side::External, Side::External),
                );
                assert_eq!(c_out.map(|c| c.1), c_in.map(|c| c.1));
                assert_ne!(out, inb, "one direction writes, the other keeps");
            }
        }
        let (d, c) = decide(
            false,
            false,
            Some(true),
            Some(true),
            ConflictPolicy::Report,
            (Side::Home, Side::Home),
        );
        assert_eq!(d, Decision::Reported);
        assert_eq!(c, Some((ConflictCause::BothChanged, None)));
    }

    #[test]
    fn newest_follows_the_modification_times_in_both_directions() {
        let both = (Some(true), Some(true));
        // The contact (external) changed last: it wins outbound and inbound alike.
        let (out, c_out) = decide(
            false,
            false,
            both.0,
            both.1,
            ConflictPolicy::Newest,
            (Side::Home, Side::External),
        );
        let (inb, c_in) = decide(
            false,
            false,
            both.1,
            both.0,
            ConflictPolicy::Newest,
            (Side::External, Side::External),
        );
        assert_eq!((out, inb), (Decision::TargetWins, Decision::SourceWins));
        assert_eq!(c_out.map(|c| c.1), Some(Some(Side::External)));
        assert_eq!(c_in.map(|c| c.1), Some(Some(Side::External)));
    }

    #[test]
    fn one_way_groups_keep_their_direction() {
        assert_eq!(
            decide(
                false,
                true,
                Some(false),
                Some(true),
                ConflictPolicy::Report,
                (Side::Home, Side::Home)
            )
            .0,
            Decision::SourceWins
        );
    }

    #[test]
    fn changed_compares_only_the_groups_keys() {
        let base = Shadow(
            [("a".to_string(), serde_json::json!(1))]
                .into_iter()
                .collect(),
        );
        let now = Shadow(
            [
                ("a".to_string(), serde_json::json!(1)),
                ("b".to_string(), serde_json::json!(2)),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(changed(Some(&base), &now, &["a".to_string()]), Some(false));
        assert_eq!(changed(Some(&base), &now, &["b".to_string()]), Some(true));
        assert_eq!(changed(None, &now, &["a".to_string()]), None);
    }
}
