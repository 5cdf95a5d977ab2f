//! The modules and fields the emulator knows, and their metadata JSON.
//!
//! Lengths and mandatory flags follow Zoho's "Standard Modules & Fields" page as summarised in
//! the project's reference; lengths the docs do not give are marked as guesses below.

use serde_json::{json, Value};

/// The four modules the emulator stores, independent of their (renameable) API names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Contacts,
    Tasks,
    Events,
    Accounts,
}

impl Kind {
    pub(crate) const ALL: [Kind; 4] = [Kind::Contacts, Kind::Tasks, Kind::Events, Kind::Accounts];

    /// The default API name (and the name used in scopes).
    pub(crate) fn default_api_name(self) -> &'static str {
        match self {
            Kind::Contacts => "Contacts",
            Kind::Tasks => "Tasks",
            Kind::Events => "Events",
            Kind::Accounts => "Accounts",
        }
    }

    pub(crate) fn plural_label(self) -> &'static str {
        match self {
            Kind::Events => "Meetings",
            k => k.default_api_name(),
        }
    }

    pub(crate) fn singular_label(self) -> &'static str {
        match self {
            Kind::Contacts => "Contact",
            Kind::Tasks => "Task",
            Kind::Events => "Meeting",
            Kind::Accounts => "Account",
        }
    }

    /// The field holding a record's display name.
    pub(crate) fn display_field(self) -> &'static str {
        match self {
            Kind::Contacts => "Full_Name",
            Kind::Tasks => "Subject",
            Kind::Events => "Event_Title",
            Kind::Accounts => "Account_Name",
        }
    }

    /// The system duplicate-check field used by upsert when none is named.
    pub(crate) fn system_duplicate_field(self) -> Option<&'static str> {
        match self {
            Kind::Contacts => Some("Email"),
            Kind::Accounts => Some("Account_Name"),
            Kind::Tasks | Kind::Events => None,
        }
    }

    pub(crate) fn module_id(self) -> u64 {
        match self {
            Kind::Contacts => 4_876_876_000_000_002_179,
            Kind::Tasks => 4_876_876_000_000_002_191,
            Kind::Events => 4_876_876_000_000_002_193,
            Kind::Accounts => 4_876_876_000_000_002_177,
        }
    }
}

/// The value type of a field, as the emulator validates and renders it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FieldType {
    /// Single-line text.
    Text,
    /// Multi-line text.
    TextArea,
    /// An e-mail address.
    Email,
    /// A phone number (free text).
    Phone,
    /// A website URL (free text).
    Website,
    /// `yyyy-MM-dd`.
    Date,
    /// ISO-8601 with offset, rendered in the user's offset.
    DateTime,
    /// `true` / `false`.
    Boolean,
    /// A picklist with its allowed values.
    Picklist(&'static [&'static str]),
    /// A lookup to a record of another module (`{name,id}`); `None` = the module named by
    /// `$se_module`.
    Lookup(Option<Kind>),
    /// A user lookup (`{name,id,email}`).
    OwnerLookup,
    /// Tasks' `Remind_At` (`{"ALARM": "..."}`) and Events' `Remind_At` (a datetime string or a
    /// list of `{unit, period}`).
    RemindAt,
    /// `{"RRULE": "..."}`.
    Recurrence,
    /// Events' participants list.
    Participants,
}

impl FieldType {
    /// `data_type` in the fields metadata.
    pub(crate) fn data_type(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::TextArea => "textarea",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Website => "website",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
            FieldType::Boolean => "boolean",
            FieldType::Picklist(_) => "picklist",
            FieldType::Lookup(_) => "lookup",
            FieldType::OwnerLookup => "ownerlookup",
            FieldType::RemindAt => "event_reminder",
            FieldType::Recurrence => "RRULE",
            FieldType::Participants => "multiselectlookup",
        }
    }

    fn json_type(&self) -> &'static str {
        match self {
            FieldType::Boolean => "boolean",
            FieldType::Lookup(_) | FieldType::OwnerLookup | FieldType::Recurrence => "jsonobject",
            FieldType::Participants => "jsonarray",
            FieldType::RemindAt => "jsonobject",
            _ => "string",
        }
    }
}

/// One field of a module.
#[derive(Clone, Debug)]
pub(crate) struct FieldDef {
    pub(crate) api_name: String,
    pub(crate) label: String,
    pub(crate) ty: FieldType,
    pub(crate) length: Option<usize>,
    pub(crate) mandatory: bool,
    pub(crate) unique: bool,
    pub(crate) read_only: bool,
    pub(crate) custom: bool,
}

fn f(api: &str, ty: FieldType, length: Option<usize>) -> FieldDef {
    FieldDef {
        api_name: api.to_owned(),
        label: api.replace('_', " "),
        ty,
        length,
        mandatory: false,
        unique: false,
        read_only: false,
        custom: false,
    }
}

fn mandatory(mut d: FieldDef) -> FieldDef {
    d.mandatory = true;
    d
}

fn read_only(mut d: FieldDef) -> FieldDef {
    d.read_only = true;
    d
}

/// Task statuses (Kaizen #36).
pub(crate) const TASK_STATUS: &[&str] = &[
    "Not Started",
    "Deferred",
    "In Progress",
    "Completed",
    "Waiting on someone else",
];
/// Task priorities (Kaizen #36).
pub(crate) const TASK_PRIORITY: &[&str] = &["Highest", "High", "Normal", "Low", "Lowest"];

const TEXTAREA_LEN: usize = 32_000;

fn system_fields(out: &mut Vec<FieldDef>) {
    out.push(f("Owner", FieldType::OwnerLookup, None));
    out.push(read_only(f("Created_Time", FieldType::DateTime, None)));
    out.push(read_only(f("Modified_Time", FieldType::DateTime, None)));
    out.push(read_only(f("Created_By", FieldType::OwnerLookup, None)));
    out.push(read_only(f("Modified_By", FieldType::OwnerLookup, None)));
}

/// The standard fields of a module, plus the optional unique sync-id custom field.
pub(crate) fn fields(kind: Kind, sync_id_field: Option<&str>) -> Vec<FieldDef> {
    let mut v = Vec::new();
    match kind {
        Kind::Contacts => {
            v.push(f("First_Name", FieldType::Text, Some(40)));
            v.push(mandatory(f("Last_Name", FieldType::Text, Some(80))));
            v.push(read_only(f("Full_Name", FieldType::Text, Some(121))));
            v.push(f("Email", FieldType::Email, Some(100)));
            v.push(f("Secondary_Email", FieldType::Email, Some(100)));
            for p in [
                "Phone",
                "Mobile",
                "Home_Phone",
                "Other_Phone",
                "Fax",
                "Asst_Phone",
            ] {
                v.push(f(p, FieldType::Phone, Some(30)));
            }
            v.push(f("Title", FieldType::Text, Some(100)));
            // Guessed lengths: the docs give none for these.
            v.push(f("Department", FieldType::Text, Some(100)));
            v.push(f("Assistant", FieldType::Text, Some(100)));
            v.push(f("Skype_ID", FieldType::Text, Some(50)));
            v.push(f(
                "Account_Name",
                FieldType::Lookup(Some(Kind::Accounts)),
                None,
            ));
            for prefix in ["Mailing", "Other"] {
                v.push(f(&format!("{prefix}_Street"), FieldType::Text, Some(250)));
                v.push(f(&format!("{prefix}_City"), FieldType::Text, Some(100)));
                v.push(f(&format!("{prefix}_State"), FieldType::Text, Some(100)));
                v.push(f(&format!("{prefix}_Zip"), FieldType::Text, Some(30)));
                v.push(f(&format!("{prefix}_Country"), FieldType::Text, Some(100)));
            }
            v.push(f("Date_of_Birth", FieldType::Date, None));
            v.push(f("Description", FieldType::TextArea, Some(TEXTAREA_LEN)));
            v.push(f("Email_Opt_Out", FieldType::Boolean, None));
        }
        Kind::Tasks => {
            v.push(mandatory(f("Subject", FieldType::Text, Some(255))));
            v.push(f("Due_Date", FieldType::Date, None));
            v.push(f("Status", FieldType::Picklist(TASK_STATUS), None));
            v.push(f("Priority", FieldType::Picklist(TASK_PRIORITY), None));
            v.push(f("Description", FieldType::TextArea, Some(TEXTAREA_LEN)));
            v.push(f("Who_Id", FieldType::Lookup(Some(Kind::Contacts)), None));
            v.push(f("What_Id", FieldType::Lookup(None), None));
            v.push(f("Remind_At", FieldType::RemindAt, None));
            v.push(f("Recurring_Activity", FieldType::Recurrence, None));
            v.push(read_only(f("Closed_Time", FieldType::DateTime, None)));
            v.push(f("Send_Notification_Email", FieldType::Boolean, None));
        }
        Kind::Events => {
            v.push(mandatory(f("Event_Title", FieldType::Text, Some(255))));
            v.push(mandatory(f("Start_DateTime", FieldType::DateTime, None)));
            v.push(mandatory(f("End_DateTime", FieldType::DateTime, None)));
            v.push(f("All_day", FieldType::Boolean, None));
            v.push(f("Venue", FieldType::Text, Some(255)));
            v.push(f("Description", FieldType::TextArea, Some(TEXTAREA_LEN)));
            v.push(f("Participants", FieldType::Participants, None));
            v.push(f("Recurring_Activity", FieldType::Recurrence, None));
            v.push(f("Remind_At", FieldType::RemindAt, None));
            v.push(f("Who_Id", FieldType::Lookup(Some(Kind::Contacts)), None));
            v.push(f("What_Id", FieldType::Lookup(None), None));
        }
        Kind::Accounts => {
            v.push(mandatory(f("Account_Name", FieldType::Text, Some(200))));
            v.push(f("Phone", FieldType::Phone, Some(30)));
            v.push(f("Website", FieldType::Website, Some(255)));
            v.push(f("Description", FieldType::TextArea, Some(TEXTAREA_LEN)));
        }
    }
    system_fields(&mut v);
    if let Some(name) = sync_id_field {
        if kind != Kind::Accounts {
            let mut d = f(name, FieldType::Text, Some(255));
            d.unique = true;
            d.custom = true;
            v.push(d);
        }
    }
    v
}

/// The `fields` metadata JSON of one field.
pub(crate) fn field_json(kind: Kind, index: usize, d: &FieldDef) -> Value {
    let id = kind.module_id() + 1_000 + index as u64;
    let mut v = json!({
        "api_name": d.api_name,
        "field_label": d.label,
        "display_label": d.label,
        "data_type": d.ty.data_type(),
        "json_type": d.ty.json_type(),
        "length": d.length.unwrap_or(match d.ty { FieldType::Date => 20, FieldType::DateTime => 120, _ => 255 }),
        "system_mandatory": d.mandatory,
        "read_only": d.read_only,
        "field_read_only": d.read_only,
        "custom_field": d.custom,
        "visible": true,
        "id": id.to_string(),
        "unique": if d.unique { json!({"casesensitive": "false"}) } else { json!({}) },
        "api_supported": true,
    });
    if let FieldType::Picklist(values) = d.ty {
        v["pick_list_values"] = values
            .iter()
            .map(|s| json!({"display_value": s, "actual_value": s}))
            .collect();
    }
    if let FieldType::Lookup(Some(target)) = d.ty {
        v["lookup"] = json!({"module": {"api_name": target.default_api_name()}});
    }
    v
}
