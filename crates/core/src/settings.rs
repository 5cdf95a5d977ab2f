//! What the user chose: per kind, whether and how it syncs, from where, and how conflicts end.
//!
//! API Boundary: serialised into the CLI's TOML file and mirrored by the FFI. New fields get
//! serde defaults so old files keep loading.

use serde::{Deserialize, Serialize};

use crate::error::SettingsError;
use crate::model::{Kind, Side};

/// Which way records flow for one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Both ways.
    #[default]
    TwoWay,
    /// Zoho is pushed to Outlook; Outlook's own changes stay in Outlook.
    ZohoToOutlook,
    /// Outlook is pushed to Zoho; Zoho's own changes stay in Zoho.
    OutlookToZoho,
}

impl Direction {
    /// Whether changes made on `from` are carried to the other side.
    pub fn carries_from(self, from: Side) -> bool {
        match self {
            Direction::TwoWay => true,
            Direction::ZohoToOutlook => from == Side::Zoho,
            Direction::OutlookToZoho => from == Side::Outlook,
        }
    }
}

/// Which Zoho records are in scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode", content = "view_id")]
pub enum ZohoScope {
    /// Records owned by the signed-in user (the plug-in's default).
    #[default]
    OwnedByMe,
    /// Every record the user can see.
    AllVisible,
    /// The records of a custom view (`cvid`).
    CustomView(String),
}

/// Which Outlook events are in scope, by category.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode", content = "names")]
pub enum CategoryFilter {
    /// Only events with the Zoho category (its name is [`KindSettings::zoho_category`]).
    #[default]
    ZohoOnly,
    /// All events.
    All,
    /// Events with at least one of these categories.
    Chosen(Vec<String>),
}

impl CategoryFilter {
    /// Whether an event with these categories passes (names compared trimmed and
    /// case-insensitively); `zoho_category` is the name [`CategoryFilter::ZohoOnly`] looks for.
    pub fn admits<S: AsRef<str>>(&self, categories: &[S], zoho_category: &str) -> bool {
        let key = |s: &str| crate::field::norm_text(s).to_lowercase();
        let has = |name: &str| categories.iter().any(|c| key(c.as_ref()) == key(name));
        match self {
            CategoryFilter::All => true,
            CategoryFilter::ZohoOnly => has(zoho_category),
            CategoryFilter::Chosen(names) => names.iter().any(|n| has(n)),
        }
    }
}

/// Who wins fields changed on both sides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    /// Zoho's value wins (the plug-in's default).
    #[default]
    Zoho,
    /// Outlook's value wins.
    Outlook,
    /// The side modified most recently wins (ties: Zoho).
    Newest,
    /// Keep the conflict for the user to decide; other fields keep syncing.
    Manual,
}

/// How conflicts (records updated on both sides since the last sync) are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConflictPolicy {
    /// The rule for fields changed on both sides.
    pub winner: Winner,
    /// On: fields changed on one side only are merged and the rule decides only fields changed on
    /// both. Off: the winner's whole record replaces the loser's (the original plug-in).
    pub field_merge: bool,
}

impl Default for ConflictPolicy {
    fn default() -> Self {
        ConflictPolicy {
            winner: Winner::Zoho,
            field_merge: true,
        }
    }
}

/// What happens when one side deleted a record the other side edited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletePolicy {
    /// The edit wins: the deleted side gets the record back.
    #[default]
    EditWins,
    /// The delete wins: the edited copy is deleted too.
    DeleteWins,
}

/// The mass-delete guard: stop before any write when a sync would delete a large share of a
/// kind's mapped records (a wrongly chosen folder must not wipe the CRM).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeleteGuard {
    /// Whether the guard is on.
    pub enabled: bool,
    /// Stop when deletions exceed this share of the mapped records (0.0–1.0)…
    pub max_share: f64,
    /// …and exceed this count.
    pub min_count: u32,
}

impl Default for DeleteGuard {
    fn default() -> Self {
        DeleteGuard {
            enabled: true,
            max_share: 0.25,
            min_count: 10,
        }
    }
}

/// The event date window, relative to the time of the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventWindow {
    /// Days before now.
    pub days_back: u32,
    /// Days after now.
    pub days_ahead: u32,
}

impl Default for EventWindow {
    fn default() -> Self {
        EventWindow {
            days_back: 30,
            days_ahead: 365,
        }
    }
}

/// The settings of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KindSettings {
    /// Whether this kind syncs at all.
    pub enabled: bool,
    /// Which way.
    pub direction: Direction,
    /// The Outlook contact folder / To Do list / calendar id; `None` = the default one.
    pub outlook_container: Option<String>,
    /// Which Zoho records.
    pub zoho_scope: ZohoScope,
    /// Events only: the category filter.
    pub category_filter: CategoryFilter,
    /// Events only: the name of the "Zoho" category.
    pub zoho_category: String,
    /// Events only: the date window.
    pub window: EventWindow,
    /// Conflict rule.
    pub conflict: ConflictPolicy,
    /// Delete vs edit.
    pub delete_policy: DeletePolicy,
    /// Deletions are never sent *to* these sides (a per-direction "never delete" switch).
    pub never_delete_on: Vec<Side>,
    /// The mass-delete guard.
    pub guard: DeleteGuard,
    /// Events only: private and confidential Outlook events go to Zoho too (default off).
    pub sync_private_events: bool,
}

impl Default for KindSettings {
    fn default() -> Self {
        KindSettings {
            enabled: true,
            direction: Direction::TwoWay,
            outlook_container: None,
            zoho_scope: ZohoScope::OwnedByMe,
            category_filter: CategoryFilter::ZohoOnly,
            zoho_category: "Zoho".into(),
            window: EventWindow::default(),
            conflict: ConflictPolicy::default(),
            delete_policy: DeletePolicy::EditWins,
            never_delete_on: vec![],
            guard: DeleteGuard::default(),
            sync_private_events: false,
        }
    }
}

/// All settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Contacts.
    pub contacts: KindSettings,
    /// Tasks.
    pub tasks: KindSettings,
    /// Events.
    pub events: KindSettings,
}

impl Settings {
    /// The settings of one kind.
    pub fn kind(&self, kind: Kind) -> &KindSettings {
        match kind {
            Kind::Contact => &self.contacts,
            Kind::Task => &self.tasks,
            Kind::Event => &self.events,
        }
    }

    /// The settings of one kind, mutably.
    pub fn kind_mut(&mut self, kind: Kind) -> &mut KindSettings {
        match kind {
            Kind::Contact => &mut self.contacts,
            Kind::Task => &mut self.tasks,
            Kind::Event => &mut self.events,
        }
    }

    /// Checks every value; the error names the setting and says what is allowed.
    pub fn validate(&self) -> Result<(), SettingsError> {
        for kind in Kind::ALL {
            self.kind(kind).validate(kind)?;
        }
        Ok(())
    }
}

impl KindSettings {
    /// Checks every value of one kind.
    pub fn validate(&self, kind: Kind) -> Result<(), SettingsError> {
        let bad = |key: &str, why: &str| SettingsError::Invalid {
            key: format!("{}.{key}", plural(kind)),
            reason: why.to_string(),
        };
        if let Some(c) = &self.outlook_container {
            if c.trim().is_empty() {
                return Err(bad(
                    "outlook_container",
                    "must not be blank (leave it unset for the default)",
                ));
            }
        }
        if let ZohoScope::CustomView(v) = &self.zoho_scope {
            if v.trim().is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(bad(
                    "zoho_scope",
                    "a custom view id is the numeric cvid shown in the view's URL",
                ));
            }
        }
        if kind == Kind::Event {
            if self.zoho_category.trim().is_empty() {
                return Err(bad("zoho_category", "must not be blank"));
            }
            if let CategoryFilter::Chosen(names) = &self.category_filter {
                if names.iter().all(|n| n.trim().is_empty()) {
                    return Err(bad(
                        "category_filter",
                        "\"chosen\" needs at least one category name",
                    ));
                }
            }
            if self.window.days_back > 3650 || self.window.days_ahead > 3650 {
                return Err(bad("window", "at most 3650 days each way"));
            }
            if self.window.days_back + self.window.days_ahead == 0 {
                return Err(bad("window", "must span at least one day"));
            }
        }
        if !(self.guard.max_share > 0.0 && self.guard.max_share <= 1.0) {
            return Err(bad(
                "guard.max_share",
                "must be a share in (0, 1], e.g. 0.25",
            ));
        }
        Ok(())
    }

    /// A fingerprint of everything that decides which records a side lists. A cursor is valid
    /// only for the scope it was taken with: changing the folder or the filter starts over with a
    /// full listing (and twin linking).
    pub fn scope_fingerprint(&self, kind: Kind, side: Side) -> String {
        match side {
            Side::Zoho => match &self.zoho_scope {
                ZohoScope::OwnedByMe => "owned".into(),
                ZohoScope::AllVisible => "all".into(),
                ZohoScope::CustomView(v) => format!("cv:{v}"),
            },
            Side::Outlook => {
                let mut s = format!("c:{}", self.outlook_container.as_deref().unwrap_or(""));
                if kind == Kind::Event {
                    s.push_str(&format!(
                        ";w:{}/{}",
                        self.window.days_back, self.window.days_ahead
                    ));
                }
                s
            }
        }
    }
}

fn plural(kind: Kind) -> &'static str {
    match kind {
        Kind::Contact => "contacts",
        Kind::Task => "tasks",
        Kind::Event => "events",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_plugins() {
        let s = Settings::default();
        assert_eq!(s.events.category_filter, CategoryFilter::ZohoOnly);
        assert_eq!(s.contacts.conflict.winner, Winner::Zoho);
        assert!(s.contacts.conflict.field_merge);
        assert_eq!(s.events.window.days_back, 30);
        assert_eq!(s.events.window.days_ahead, 365);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn validation_names_the_key() {
        let mut s = Settings::default();
        s.events.category_filter = CategoryFilter::Chosen(vec![]);
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("events.category_filter"), "{e}");
        let mut s = Settings::default();
        s.contacts.guard.max_share = 2.0;
        assert!(s
            .validate()
            .unwrap_err()
            .to_string()
            .contains("contacts.guard.max_share"));
    }

    #[test]
    fn settings_serde_snapshot() {
        let s = Settings::default();
        insta::assert_json_snapshot!(s.events);
        // Missing keys take defaults.
        let k: KindSettings = serde_json::from_str(r#"{"enabled":false}"#).unwrap();
        assert!(!k.enabled);
        assert_eq!(k.guard, DeleteGuard::default());
    }
}
