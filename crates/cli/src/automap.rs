//! `keva-sync automap`: auto-mapping offline, on a saved properties response.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use keva_core::automap::{automap, parse_properties, KevaFieldSpec};
use keva_core::ObjectKind;
use serde_json::json;

#[derive(Args, Debug)]
pub struct AutomapArgs {
    /// A saved `GET /crm/v3/properties/{object}` response (`{"results": [...]}`).
    #[arg(long)]
    pub properties: PathBuf,
    /// Keva fields as `[{key, label?, type, description?, options?}]`; Keva's
    /// built-in customer fields if omitted.
    #[arg(long)]
    pub fields: Option<PathBuf>,
    /// The HubSpot object the properties belong to.
    #[arg(long, value_enum, default_value = "contacts")]
    pub object: AutomapObject,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum AutomapObject {
    Contacts,
    Companies,
}

/// Prints `{key: {property, confidence, reason, direction, alternatives}}` as JSON.
pub fn run(args: AutomapArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.properties)
        .with_context(|| format!("reading {}", args.properties.display()))?;
    let props = parse_properties(&text).with_context(|| {
        format!(
            "parsing {} as a properties response",
            args.properties.display()
        )
    })?;
    let fields: Vec<KevaFieldSpec> = match &args.fields {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("parsing {} as a list of fields", path.display()))?
        }
        None => KevaFieldSpec::builtins(),
    };
    let object = match args.object {
        AutomapObject::Contacts => ObjectKind::Contact,
        AutomapObject::Companies => ObjectKind::Company,
    };
    let out: BTreeMap<String, serde_json::Value> = automap(&fields, &props, object)
        .into_iter()
        .map(|s| {
            let mut v = json!({
                "property": s.property,
                "confidence": s.confidence,
                "reason": s.reason,
                "direction": s.direction,
                "alternatives": s.alternatives,
            });
            if !s.also.is_empty() {
                v["also"] = json!(s.also);
            }
            (s.key, v)
        })
        .collect();
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
