//! Contact property definitions and groups: HubSpot's defaults, the four custom `tte_customer_*`
//! properties, and the validation rules for new ones (FIDELITY.md §2.8).

use crate::clock::rfc3339_ms;
use serde::Serialize;
use serde_json::{Value, json};

/// A contact property definition.
#[derive(Clone, Debug, Serialize)]
pub struct PropertyDef {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub field_type: String,
    pub group_name: String,
    pub description: String,
    pub options: Vec<Value>,
    pub display_order: i64,
    pub has_unique_value: bool,
    pub hidden: bool,
    pub form_field: bool,
    pub hubspot_defined: bool,
    pub read_only: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub archived: bool,
}

impl PropertyDef {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "updatedAt": rfc3339_ms(self.updated_ms),
            "createdAt": rfc3339_ms(self.created_ms),
            "name": self.name,
            "label": self.label,
            "type": self.kind,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": self.options,
            "displayOrder": self.display_order,
            "calculated": false,
            "externalOptions": false,
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": !self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": self.form_field,
        });
        if self.archived
            && let Some(o) = v.as_object_mut()
        {
            o.insert("archived".into(), Value::Bool(true));
        }
        v
    }
}

/// A property group.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    pub name: String,
    pub label: String,
    pub display_order: i64,
    pub archived: bool,
}

impl Group {
    pub fn to_json(&self) -> Value {
        json!({"name": self.name, "label": self.label, "displayOrder": self.display_order, "archived": self.archived})
    }
}

/// Properties computed by the sandbox; never writable.
pub const COMPUTED: &[&str] = &["hs_object_id", "createdate", "lastmodifieddate"];

/// What a read returns without `properties` (FIDELITY.md §2.2, seen).
pub const DEFAULT_READ: &[&str] = &[
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
];

/// The four properties `mapsync setup` creates.
pub const CUSTOM: &[(&str, &str, &str)] = &[
    ("tte_customer_uri", "10to8 customer URI", "text"),
    (
        "tte_customer_secondary_emails",
        "10to8 secondary emails",
        "textarea",
    ),
    (
        "tte_customer_secondary_phone",
        "10to8 secondary phone numbers",
        "textarea",
    ),
    ("tte_customer_sync_status", "10to8 sync status", "text"),
];

/// HubSpot's default contact groups.
pub fn default_groups() -> Vec<Group> {
    [
        ("contactinformation", "Contact information"),
        ("conversioninformation", "Conversion information"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (n, l))| Group {
        name: n.to_string(),
        label: l.to_string(),
        display_order: i as i64,
        archived: false,
    })
    .collect()
}

fn def(name: &str, label: &str, kind: &str, field: &str, read_only: bool, now: i64) -> PropertyDef {
    PropertyDef {
        name: name.into(),
        label: label.into(),
        kind: kind.into(),
        field_type: field.into(),
        group_name: "contactinformation".into(),
        description: String::new(),
        options: Vec::new(),
        display_order: -1,
        has_unique_value: false,
        hidden: false,
        form_field: !read_only,
        hubspot_defined: true,
        read_only,
        created_ms: now,
        updated_ms: now,
        archived: false,
    }
}

/// A subset of HubSpot's default contact properties.
pub fn default_properties(now: i64) -> Vec<PropertyDef> {
    let mut v = vec![
        def("email", "Email", "string", "text", false, now),
        def("firstname", "First Name", "string", "text", false, now),
        def("lastname", "Last Name", "string", "text", false, now),
        def("phone", "Phone Number", "string", "phonenumber", false, now),
        def(
            "mobilephone",
            "Mobile Phone Number",
            "string",
            "phonenumber",
            false,
            now,
        ),
        def(
            "hs_additional_emails",
            "Additional email addresses",
            "enumeration",
            "checkbox",
            false,
            now,
        ),
        def("company", "Company Name", "string", "text", false, now),
        def("jobtitle", "Job Title", "string", "text", false, now),
        def("website", "Website URL", "string", "text", false, now),
        def("address", "Street Address", "string", "text", false, now),
        def("city", "City", "string", "text", false, now),
        def("state", "State/Region", "string", "text", false, now),
        def("zip", "Postal Code", "string", "text", false, now),
        def("country", "Country/Region", "string", "text", false, now),
        def(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            false,
            now,
        ),
        def("hs_object_id", "Record ID", "number", "number", true, now),
        def("createdate", "Create Date", "datetime", "date", true, now),
        def(
            "lastmodifieddate",
            "Last Modified Date",
            "datetime",
            "date",
            true,
            now,
        ),
        def(
            "hs_object_source",
            "Record source",
            "string",
            "text",
            true,
            now,
        ),
        def(
            "hs_object_source_id",
            "Record source ID",
            "string",
            "text",
            true,
            now,
        ),
    ];
    for p in v.iter_mut() {
        if p.name == "lifecyclestage" {
            p.options = [
                "subscriber",
                "lead",
                "marketingqualifiedlead",
                "salesqualifiedlead",
                "opportunity",
                "customer",
                "evangelist",
                "other",
            ]
            .iter()
            .enumerate()
            .map(|(i, o)| json!({"label": o, "value": o, "displayOrder": i, "hidden": false}))
            .collect();
        }
    }
    v
}

/// The four `tte_customer_*` properties, as `mapsync setup` would create them.
pub fn custom_properties(now: i64) -> Vec<PropertyDef> {
    CUSTOM
        .iter()
        .map(|(name, label, field)| PropertyDef {
            group_name: "tte_sync".into(),
            hubspot_defined: false,
            has_unique_value: *name == "tte_customer_uri",
            ..def(name, label, "string", field, false, now)
        })
        .collect()
}

/// [H-11] `^[a-z][a-z0-9_]*$`.
pub fn valid_name(n: &str) -> bool {
    let mut cs = n.chars();
    matches!(cs.next(), Some('a'..='z'))
        && cs.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Valid `type` / `fieldType` pairs (FIDELITY.md §2.8).
pub fn valid_pair(kind: &str, field: &str) -> bool {
    match kind {
        "string" => matches!(field, "text" | "textarea" | "phonenumber" | "html" | "file"),
        "number" => matches!(field, "number" | "calculation_equation"),
        "enumeration" => matches!(field, "select" | "radio" | "checkbox" | "booleancheckbox"),
        "bool" => field == "booleancheckbox",
        "date" | "datetime" => field == "date",
        "phone_number" => field == "phonenumber",
        _ => false,
    }
}
