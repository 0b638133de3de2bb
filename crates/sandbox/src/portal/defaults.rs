//! HubSpot's default (hubspotDefined) properties for contacts, companies and deals.
//!
//! Names, labels, types, field types, groups and enumeration options follow
//! HubSpot's own definitions. Contacts have no `notes` property, as in HubSpot: an
//! integration that maps one must create it as a custom property first.

use std::sync::Arc;

use super::properties::{PropOption, PropertyDef};
use super::ObjectType;

struct Spec {
    name: &'static str,
    label: &'static str,
    ptype: &'static str,
    field_type: &'static str,
    group: &'static str,
    description: &'static str,
    read_only: bool,
    options: &'static [(&'static str, &'static str)],
}

/// A writable spec with no options, from its texts in [`Spec`]'s field order.
macro_rules! p {
    ($name:expr, $label:expr, $ptype:expr, $field_type:expr, $group:expr, $description:expr $(,)?) => {
        Spec {
            name: $name,
            label: $label,
            ptype: $ptype,
            field_type: $field_type,
            group: $group,
            description: $description,
            read_only: false,
            options: &[],
        }
    };
}

const fn ro(mut s: Spec) -> Spec {
    s.read_only = true;
    s
}

const fn opts(mut s: Spec, options: &'static [(&'static str, &'static str)]) -> Spec {
    s.options = options;
    s
}

const LIFECYCLE: &[(&str, &str)] = &[
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
];

const LEAD_STATUS: &[(&str, &str)] = &[
    ("NEW", "New"),
    ("OPEN", "Open"),
    ("IN_PROGRESS", "In Progress"),
    ("OPEN_DEAL", "Open Deal"),
    ("UNQUALIFIED", "Unqualified"),
    ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    ("CONNECTED", "Connected"),
    ("BAD_TIMING", "Bad Timing"),
];

const INDUSTRY: &[(&str, &str)] = &[
    ("ACCOUNTING", "Accounting"),
    ("AIRLINES_AVIATION", "Airlines/Aviation"),
    ("APPAREL_FASHION", "Apparel & Fashion"),
    ("AUTOMOTIVE", "Automotive"),
    ("BANKING", "Banking"),
    ("BIOTECHNOLOGY", "Biotechnology"),
    ("BROADCAST_MEDIA", "Broadcast Media"),
    ("CHEMICALS", "Chemicals"),
    ("COMPUTER_HARDWARE", "Computer Hardware"),
    ("COMPUTER_NETWORKING", "Computer Networking"),
    ("COMPUTER_SOFTWARE", "Computer Software"),
    ("CONSTRUCTION", "Construction"),
    ("CONSUMER_ELECTRONICS", "Consumer Electronics"),
    ("CONSUMER_GOODS", "Consumer Goods"),
    ("CONSUMER_SERVICES", "Consumer Services"),
    ("E_LEARNING", "E-Learning"),
    ("EDUCATION_MANAGEMENT", "Education Management"),
    ("FINANCIAL_SERVICES", "Financial Services"),
    ("FOOD_BEVERAGES", "Food & Beverages"),
    ("GOVERNMENT_ADMINISTRATION", "Government Administration"),
    ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"),
    ("HOSPITALITY", "Hospitality"),
    (
        "INFORMATION_TECHNOLOGY_AND_SERVICES",
        "Information Technology and Services",
    ),
    ("INSURANCE", "Insurance"),
    ("INTERNET", "Internet"),
    ("LEGAL_SERVICES", "Legal Services"),
    ("LOGISTICS_AND_SUPPLY_CHAIN", "Logistics and Supply Chain"),
    ("MANAGEMENT_CONSULTING", "Management Consulting"),
    ("MARKETING_AND_ADVERTISING", "Marketing and Advertising"),
    ("MEDICAL_DEVICES", "Medical Devices"),
    (
        "NONPROFIT_ORGANIZATION_MANAGEMENT",
        "Non-Profit Organization Management",
    ),
    ("PHARMACEUTICALS", "Pharmaceuticals"),
    ("REAL_ESTATE", "Real Estate"),
    ("RETAIL", "Retail"),
    ("TELECOMMUNICATIONS", "Telecommunications"),
    (
        "TRANSPORTATION_TRUCKING_RAILROAD",
        "Transportation/Trucking/Railroad",
    ),
    ("UTILITIES", "Utilities"),
    ("WHOLESALE", "Wholesale"),
];

const COMPANY_TYPE: &[(&str, &str)] = &[
    ("PROSPECT", "Prospect"),
    ("PARTNER", "Partner"),
    ("RESELLER", "Reseller"),
    ("VENDOR", "Vendor"),
    ("OTHER", "Other"),
];

const DEALSTAGE: &[(&str, &str)] = &[
    ("appointmentscheduled", "Appointment Scheduled"),
    ("qualifiedtobuy", "Qualified To Buy"),
    ("presentationscheduled", "Presentation Scheduled"),
    ("decisionmakerboughtin", "Decision Maker Bought-In"),
    ("contractsent", "Contract Sent"),
    ("closedwon", "Closed Won"),
    ("closedlost", "Closed Lost"),
];

const PIPELINE: &[(&str, &str)] = &[("default", "Sales Pipeline")];

const DEALTYPE: &[(&str, &str)] = &[
    ("newbusiness", "New Business"),
    ("existingbusiness", "Existing Business"),
];

const NUMEMPLOYEES: &[(&str, &str)] = &[
    ("1-5", "1-5"),
    ("5-25", "5-25"),
    ("25-50", "25-50"),
    ("50-100", "50-100"),
    ("100-500", "100-500"),
    ("500-1000", "500-1000"),
    ("1000+", "1000+"),
];

const CONTACT: &[Spec] = &[
    p!("email", "Email", "string", "text", "contactinformation", "A contact's email address"),
    p!("firstname", "First Name", "string", "text", "contactinformation", "A contact's first name"),
    p!("lastname", "Last Name", "string", "text", "contactinformation", "A contact's last name"),
    p!("phone", "Phone Number", "string", "phonenumber", "contactinformation", "A contact's primary phone number"),
    p!("mobilephone", "Mobile Phone Number", "string", "phonenumber", "contactinformation", "A contact's mobile phone number"),
    p!("company", "Company Name", "string", "text", "contactinformation", "Name of the contact's company. This can be set independently from the name property on the contact's associated company."),
    p!("jobtitle", "Job Title", "string", "text", "contactinformation", "A contact's job title"),
    p!("website", "Website URL", "string", "text", "contactinformation", "Associated company website."),
    p!("address", "Street Address", "string", "text", "contactinformation", "Contact's street address, including apartment or unit number."),
    p!("city", "City", "string", "text", "contactinformation", "A contact's city of residence"),
    p!("state", "State/Region", "string", "text", "contactinformation", "The contact's state of residence."),
    p!("zip", "Postal Code", "string", "text", "contactinformation", "Contact's zip code."),
    p!("country", "Country/Region", "string", "text", "contactinformation", "The contact's country/region of residence."),
    p!("fax", "Fax Number", "string", "text", "contactinformation", "A contact's primary fax number"),
    p!("message", "Message", "string", "textarea", "contactinformation", "A default property to be used for any message or comments a contact may want to leave on a form."),
    opts(p!("numemployees", "Number of Employees", "enumeration", "select", "contactinformation", "The number of company employees"), NUMEMPLOYEES),
    opts(p!("industry", "Industry", "string", "text", "contactinformation", "The Industry a contact is in"), &[]),
    opts(p!("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "contactinformation", "The qualification of contacts to sales readiness. It can be set through imports, forms, workflows, and manually on a per contact basis."), LIFECYCLE),
    opts(p!("hs_lead_status", "Lead Status", "enumeration", "radio", "sales_properties", "The contact's sales, prospecting or outreach status"), LEAD_STATUS),
    p!("hubspot_owner_id", "Contact owner", "enumeration", "select", "sales_properties", "The owner of a contact. This can be any HubSpot user or Salesforce integration user, and can be set manually or via Workflows."),
    p!("hs_content_membership_notes", "Membership Notes", "string", "textarea", "contactinformation", "Notes relating to the contact's content membership."),
    ro(p!("hs_additional_emails", "Additional email addresses", "enumeration", "select", "contactinformation", "A set of additional email addresses for a contact")),
    ro(p!("createdate", "Create Date", "datetime", "date", "contactinformation", "The date that a contact entered the system")),
    ro(p!("lastmodifieddate", "Last Modified Date", "datetime", "date", "contactinformation", "Most recent timestamp of any property update for a contact. This includes HubSpot internal properties, which can be visible or hidden. This property is updated automatically.")),
    ro(p!("hs_createdate", "Object create date/time", "datetime", "date", "contactinformation", "The date and time at which this object was created. This value is automatically set by HubSpot and may not be modified.")),
    ro(p!("hs_lastmodifieddate", "Object last modified date/time", "datetime", "date", "contactinformation", "Most recent timestamp of any property update for this object. This includes HubSpot internal properties, which can be visible or hidden. This property is updated automatically.")),
    ro(p!("hs_object_id", "Record ID", "number", "number", "contactinformation", "The unique ID for this record. This value is automatically set by HubSpot and may not be modified.")),
    ro(p!("associatedcompanyid", "Primary Associated Company ID", "number", "number", "contactinformation", "HubSpot defined ID of a contact's primary associated company in HubSpot.")),
    ro(p!("num_associated_deals", "Number of Associated Deals", "number", "number", "deal_information", "Count of deals associated with this contact. Set automatically by HubSpot.")),
    ro(p!("hs_merged_object_ids", "Merged Contact IDs", "enumeration", "checkbox", "contactinformation", "The list of Contact record IDs that have been merged into this Contact. This value is set automatically by HubSpot.")),
    ro(p!("hs_all_contact_vids", "All vids for a contact", "enumeration", "checkbox", "contactinformation", "The contact's merged vids")),
    ro(p!("notes_last_updated", "Last Activity Date", "datetime", "date", "contact_activity", "The last time a call, chat conversation, LinkedIn message, postal mail, meeting, note, sales email, SMS, task, or WhatsApp message was logged or a form was submitted.")),
    ro(p!("notes_last_contacted", "Last Contacted", "datetime", "date", "contact_activity", "The last time a call, chat conversation, LinkedIn message, postal mail, meeting, sales email, SMS, or WhatsApp message was logged on the contact record.")),
    p!("notes_next_activity_date", "Next Activity Date", "datetime", "date", "contact_activity", "The date of the next upcoming activity for a contact."),
    ro(p!("num_notes", "Number of Sales Activities", "number", "number", "contact_activity", "The number of sales activities (calls, emails, meetings, notes) associated with the contact.")),
    ro(p!("num_contacted_notes", "Number of times contacted", "number", "number", "contact_activity", "The number of times a call, chat conversation, LinkedIn message, postal mail, meeting, sales email, SMS, or WhatsApp message was logged on the contact record.")),
    ro(p!("hs_email_domain", "Email Domain", "string", "text", "contactinformation", "A contact's email address domain")),
];

const COMPANY: &[Spec] = &[
    p!("name", "Company name", "string", "text", "companyinformation", "The name of the company or organization."),
    p!("domain", "Company Domain Name", "string", "text", "companyinformation", "The domain name of the company or organization"),
    p!("website", "Website URL", "string", "text", "companyinformation", "The main website of the company or organization."),
    opts(p!("industry", "Industry", "enumeration", "select", "companyinformation", "The type of business the company performs."), INDUSTRY),
    opts(p!("type", "Type", "enumeration", "select", "companyinformation", "The optional classification of this company record - prospect, partner, etc."), COMPANY_TYPE),
    p!("numberofemployees", "Number of Employees", "number", "number", "companyinformation", "The total number of employees who work for the company or organization"),
    p!("annualrevenue", "Annual Revenue", "number", "number", "companyinformation", "The actual or estimated annual revenue of the company"),
    p!("phone", "Phone Number", "string", "phonenumber", "companyinformation", "A company's primary phone number."),
    p!("address", "Street Address", "string", "text", "companyinformation", "The street address of the company or organization, including unit number."),
    p!("city", "City", "string", "text", "companyinformation", "The city where the company is located."),
    p!("state", "State/Region", "string", "text", "companyinformation", "The state or region where the company is located."),
    p!("zip", "Postal Code", "string", "text", "companyinformation", "The postal or zip code of the company or organization."),
    p!("country", "Country/Region", "string", "text", "companyinformation", "The country/region in which the company or organization is located."),
    p!("description", "Description", "string", "textarea", "companyinformation", "A short statement about the company's mission and goals."),
    opts(p!("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "companyinformation", "The most advanced lifecycle stage across all contacts associated with this company or organization."), LIFECYCLE),
    p!("hubspot_owner_id", "Company owner", "enumeration", "select", "companyinformation", "The owner of the company"),
    ro(p!("createdate", "Create Date", "datetime", "date", "companyinformation", "The date the company or organization was added to the database")),
    ro(p!("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "companyinformation", "Most recent timestamp of any property update for this company. This includes HubSpot internal properties, which can be visible or hidden. This property is updated automatically.")),
    ro(p!("hs_createdate", "Object create date/time", "datetime", "date", "companyinformation", "The date and time at which this object was created. This value is automatically set by HubSpot and may not be modified.")),
    ro(p!("hs_object_id", "Record ID", "number", "number", "companyinformation", "The unique ID for this record. This value is automatically set by HubSpot and may not be modified.")),
    ro(p!("num_associated_contacts", "Number of Associated Contacts", "number", "number", "companyinformation", "The number of contacts associated with this company")),
    ro(p!("num_associated_deals", "Number of Associated Deals", "number", "number", "deal_information", "The number of deals associated with this company")),
];

const DEAL: &[Spec] = &[
    p!("dealname", "Deal Name", "string", "text", "dealinformation", "The name given to this deal."),
    p!("amount", "Amount", "number", "number", "dealinformation", "The total amount of the deal"),
    opts(p!("dealstage", "Deal Stage", "enumeration", "radio", "dealinformation", "The stage of the deal. Deal stages allow you to categorize and track the progress of the deals that you are working on."), DEALSTAGE),
    opts(p!("pipeline", "Pipeline", "enumeration", "select", "dealinformation", "The pipeline the deal is in. This determines which stages are options for the deal."), PIPELINE),
    p!("closedate", "Close Date", "datetime", "date", "dealinformation", "Date the deal was closed. Set automatically by HubSpot."),
    opts(p!("dealtype", "Deal Type", "enumeration", "radio", "dealinformation", "The type of deal. By default, categorize your deal as either New Business or Existing Business."), DEALTYPE),
    p!("description", "Deal Description", "string", "textarea", "dealinformation", "Description of the deal"),
    p!("hubspot_owner_id", "Deal owner", "enumeration", "select", "dealinformation", "User the deal is assigned to. Assign additional users to a deal record using a custom user property."),
    p!("hs_priority", "Priority", "enumeration", "select", "dealinformation", "The priority of the deal"),
    ro(p!("createdate", "Create Date", "datetime", "date", "dealinformation", "Date the deal was created. This property is set automatically by HubSpot.")),
    ro(p!("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", "dealinformation", "Most recent timestamp of any property update for this deal. This includes HubSpot internal properties, which can be visible or hidden. This property is updated automatically.")),
    ro(p!("hs_createdate", "Object create date/time", "datetime", "date", "dealinformation", "The date and time at which this object was created. This value is automatically set by HubSpot and may not be modified.")),
    ro(p!("hs_object_id", "Record ID", "number", "number", "dealinformation", "The unique ID for this record. This value is automatically set by HubSpot and may not be modified.")),
    ro(p!("num_associated_contacts", "Number of Associated Contacts", "number", "number", "dealinformation", "The number of contacts associated with this deal")),
    ro(p!("hs_is_closed", "Is Deal Closed?", "bool", "booleancheckbox", "dealinformation", "True if the deal was won or lost.")),
];

/// The default property definitions of `ty`.
pub fn default_properties(ty: ObjectType, now_ms: i64) -> Vec<PropertyDef> {
    let specs = match ty {
        ObjectType::Contacts => CONTACT,
        ObjectType::Companies => COMPANY,
        ObjectType::Deals => DEAL,
    };
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| PropertyDef {
            name: Arc::from(s.name),
            label: s.label.to_string(),
            ptype: s.ptype.to_string(),
            field_type: s.field_type.to_string(),
            group_name: s.group.to_string(),
            description: s.description.to_string(),
            options: options(s),
            hubspot_defined: true,
            read_only_value: s.read_only,
            read_only_definition: true,
            calculated: s.read_only && s.ptype == "number",
            has_unique_value: false,
            form_field: !s.read_only,
            display_order: i64::try_from(i).unwrap_or(0) - 1,
            created_ms: now_ms,
            updated_ms: now_ms,
        })
        .collect()
}

/// The options HubSpot gives every boolean property, whatever the spec lists.
const BOOL_OPTIONS: &[(&str, &str)] = &[("true", "Yes"), ("false", "No")];

fn options(s: &Spec) -> Vec<PropOption> {
    let table = if s.ptype == "bool" {
        BOOL_OPTIONS
    } else {
        s.options
    };
    table
        .iter()
        .enumerate()
        .map(|(i, (value, label))| PropOption {
            label: label.to_string(),
            value: value.to_string(),
            description: String::new(),
            display_order: i64::try_from(i).unwrap_or(0),
            hidden: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_have_no_notes_property_and_no_duplicates() {
        let props = default_properties(ObjectType::Contacts, 0);
        assert!(props.iter().all(|p| &*p.name != "notes"));
        let mut names: Vec<&str> = props.iter().map(|p| &*p.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn enumeration_options_are_present() {
        let deals = default_properties(ObjectType::Deals, 0);
        let stage = deals
            .iter()
            .find(|p| &*p.name == "dealstage")
            .expect("dealstage");
        assert!(stage.options.iter().any(|o| o.value == "closedwon"));
        let companies = default_properties(ObjectType::Companies, 0);
        let industry = companies
            .iter()
            .find(|p| &*p.name == "industry")
            .expect("industry");
        assert!(industry
            .options
            .iter()
            .any(|o| o.value == "COMPUTER_SOFTWARE"));
    }
}
