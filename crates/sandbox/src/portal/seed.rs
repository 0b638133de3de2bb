//! Fake but plausible CRM data for tests and benchmarks, generated straight into a
//! portal's tables (no per-record validation or events), so a million contacts seed
//! in seconds. A fixed RNG seed per portal keeps runs repeatable.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::record::{Record, Source};
use super::store::{default_type_id, inverse_type_id};
use super::{ObjectType, PortalData};

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Aiko",
    "Mateo",
    "Priya",
    "Chen",
    "Fatima",
    "Lars",
    "Ines",
    "Kwame",
    "Olga",
    "Noah",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Tanaka",
    "Silva",
    "Patel",
    "Wang",
    "Haddad",
    "Larsen",
    "Costa",
    "Mensah",
    "Ivanova",
    "Schmidt",
];
const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Aperture",
];
const LIFECYCLE: &[&str] = &[
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
];
const STAGES: &[&str] = &[
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "contractsent",
    "closedwon",
    "closedlost",
];
const INDUSTRIES: &[&str] = &[
    "COMPUTER_SOFTWARE",
    "RETAIL",
    "FINANCIAL_SERVICES",
    "INTERNET",
    "HOSPITALITY",
    "CONSTRUCTION",
];

/// What a seed created.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedReport {
    pub portal_id: u64,
    pub contacts: usize,
    pub companies: usize,
    pub deals: usize,
    pub first_contact_id: Option<u64>,
    pub last_contact_id: Option<u64>,
}

fn pick<'a>(rng: &mut StdRng, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

impl PortalData {
    /// Adds `contacts`, `companies` and `deals` records; every contact is associated
    /// with a company (when there are any), every deal with a contact and a company.
    pub fn seed(
        &mut self,
        contacts: usize,
        companies: usize,
        deals: usize,
        now: i64,
    ) -> SeedReport {
        let mut rng = StdRng::seed_from_u64(
            self.portal_id ^ (self.live_count(ObjectType::Contacts) as u64) << 20,
        );
        let mut report = SeedReport {
            portal_id: self.portal_id,
            ..Default::default()
        };
        let day = 86_400_000i64;

        let arc = |data: &PortalData, ty: ObjectType, name: &str| data.name_arc(ty, name);
        let (
            Some(c_email),
            Some(c_first),
            Some(c_last),
            Some(c_stage),
            Some(c_company),
            Some(c_phone),
        ) = (
            arc(self, ObjectType::Contacts, "email"),
            arc(self, ObjectType::Contacts, "firstname"),
            arc(self, ObjectType::Contacts, "lastname"),
            arc(self, ObjectType::Contacts, "lifecyclestage"),
            arc(self, ObjectType::Contacts, "company"),
            arc(self, ObjectType::Contacts, "phone"),
        )
        else {
            return report;
        };
        let (Some(co_name), Some(co_domain), Some(co_industry)) = (
            arc(self, ObjectType::Companies, "name"),
            arc(self, ObjectType::Companies, "domain"),
            arc(self, ObjectType::Companies, "industry"),
        ) else {
            return report;
        };
        let (Some(d_name), Some(d_amount), Some(d_stage), Some(d_pipeline)) = (
            arc(self, ObjectType::Deals, "dealname"),
            arc(self, ObjectType::Deals, "amount"),
            arc(self, ObjectType::Deals, "dealstage"),
            arc(self, ObjectType::Deals, "pipeline"),
        ) else {
            return report;
        };

        let mut company_ids = Vec::with_capacity(companies);
        let mut company_names = Vec::with_capacity(companies);
        for _ in 0..companies {
            let id = self.allocate_id();
            let created = now - rng.random_range(day..365 * day);
            let mut r = Record::new(id, created);
            let name = format!("{} {}", pick(&mut rng, COMPANY_WORDS), pick(&mut rng, LAST));
            let domain = format!("{}-{id}.example.com", name.to_lowercase().replace(' ', "-"));
            r.set(&co_name, &name, created, Source::Import, None);
            r.set(&co_domain, &domain, created, Source::Import, None);
            r.set(
                &co_industry,
                pick(&mut rng, INDUSTRIES),
                created,
                Source::Import,
                None,
            );
            r.updated_ms = created;
            self.insert_new(ObjectType::Companies, r);
            company_ids.push(id);
            company_names.push(name);
        }

        let mut contact_ids = Vec::with_capacity(contacts);
        let contact_to_company =
            default_type_id(ObjectType::Contacts, ObjectType::Companies).unwrap_or(279);
        for i in 0..contacts {
            let id = self.allocate_id();
            let created = now - rng.random_range(day..365 * day);
            let updated = created + rng.random_range(0..day);
            let mut r = Record::new(id, created);
            let first = pick(&mut rng, FIRST);
            let last = pick(&mut rng, LAST);
            let email = format!(
                "{}.{}.{id}@example.com",
                first.to_lowercase(),
                last.to_lowercase()
            );
            r.set(&c_email, &email, created, Source::Import, None);
            r.set(&c_first, first, created, Source::Import, None);
            r.set(&c_last, last, created, Source::Import, None);
            r.set(
                &c_stage,
                pick(&mut rng, LIFECYCLE),
                updated,
                Source::Import,
                None,
            );
            if i % 3 == 0 {
                let phone = format!("+1-555-{:04}", rng.random_range(0..10_000));
                r.set(&c_phone, &phone, created, Source::Import, None);
            }
            if !company_ids.is_empty() {
                let k = i % company_ids.len();
                r.set(&c_company, &company_names[k], created, Source::Import, None);
                r.assoc.insert(
                    (ObjectType::Companies, company_ids[k]),
                    vec![contact_to_company, 1],
                );
            }
            r.updated_ms = updated;
            self.insert_new(ObjectType::Contacts, r);
            contact_ids.push(id);
        }
        // The company side of the contact associations, one table borrow for all.
        if !company_ids.is_empty() {
            let inv = inverse_type_id(contact_to_company);
            let table = self.tables_mut(ObjectType::Companies);
            for (i, cid) in contact_ids.iter().enumerate() {
                let company = company_ids[i % company_ids.len()];
                if let Some(r) = table.records.get_mut(&company) {
                    r.assoc.insert((ObjectType::Contacts, *cid), vec![inv, 2]);
                }
            }
        }

        let mut deal_links = Vec::with_capacity(deals);
        for i in 0..deals {
            let id = self.allocate_id();
            let created = now - rng.random_range(day..180 * day);
            let mut r = Record::new(id, created);
            let name = format!("Deal {id}");
            let amount = format!("{}", rng.random_range(1..500) * 100);
            r.set(&d_name, &name, created, Source::Import, None);
            r.set(&d_amount, &amount, created, Source::Import, None);
            r.set(
                &d_stage,
                pick(&mut rng, STAGES),
                created,
                Source::Import,
                None,
            );
            r.set(&d_pipeline, "default", created, Source::Import, None);
            if !contact_ids.is_empty() {
                let c = contact_ids[i % contact_ids.len()];
                r.assoc.insert((ObjectType::Contacts, c), vec![3]);
                deal_links.push((id, Some(c), None));
            }
            if !company_ids.is_empty() {
                let co = company_ids[i % company_ids.len()];
                r.assoc.insert((ObjectType::Companies, co), vec![341, 5]);
                match deal_links.last_mut() {
                    Some(last) if last.0 == id => last.2 = Some(co),
                    _ => deal_links.push((id, None, Some(co))),
                }
            }
            self.insert_new(ObjectType::Deals, r);
        }
        for (deal, contact, company) in deal_links {
            if let Some(c) = contact {
                if let Some(r) = self.tables_mut(ObjectType::Contacts).records.get_mut(&c) {
                    r.assoc.insert((ObjectType::Deals, deal), vec![4]);
                }
            }
            if let Some(co) = company {
                if let Some(r) = self.tables_mut(ObjectType::Companies).records.get_mut(&co) {
                    r.assoc.insert((ObjectType::Deals, deal), vec![342, 6]);
                }
            }
        }

        report.contacts = contacts;
        report.companies = companies;
        report.deals = deals;
        report.first_contact_id = contact_ids.first().copied();
        report.last_contact_id = contact_ids.last().copied();
        report
    }
}
