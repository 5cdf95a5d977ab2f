//! Realistic data for the emulators (the demo and `crmsync emulator`): contacts with Western
//! and Chinese names, tasks, events (some recurring, several categories), and a few people
//! present on both sides for first-sync linking. Deterministic: the same `n` gives the same data.

use chrono::{DateTime, Duration, Utc};
use crmsync_emulator::graph::GraphEmulator;
use crmsync_emulator::zoho::ZohoEmulator;
use serde_json::{json, Value};

const GIVEN: [&str; 16] = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Tim",
    "Barbara",
    "Ken",
    "Frances",
    "Dennis",
    "Radia",
    "John",
    "Hedy",
    "Edsger",
    "Katherine",
    "Donald",
];
const FAMILY: [&str; 16] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Berners-Lee",
    "Liskov",
    "Thompson",
    "Allen",
    "Ritchie",
    "Perlman",
    "Backus",
    "Lamarr",
    "Dijkstra",
    "Johnson",
    "Knuth",
];
const ZH_GIVEN: [&str; 12] = [
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "艳",
];
const ZH_FAMILY: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
];
const TITLES: [&str; 6] = [
    "CEO",
    "Sales Manager",
    "Engineer",
    "总经理",
    "Account Executive",
    "采购经理",
];
const CITIES: [&str; 6] = ["London", "上海", "New York", "北京", "Berlin", "深圳"];

/// A person of the seed: index `i` gives the same person on either side.
pub struct Person {
    pub given: String,
    pub family: String,
    pub email: String,
    pub title: &'static str,
    pub city: &'static str,
    pub phone: String,
}

pub fn person(i: usize) -> Person {
    let chinese = i % 3 == 1;
    let (given, family) = if chinese {
        (
            ZH_GIVEN[(i / 3) % ZH_GIVEN.len()].to_string(),
            ZH_FAMILY[(i * 7 / 3) % ZH_FAMILY.len()].to_string(),
        )
    } else {
        (
            GIVEN[i % GIVEN.len()].to_string(),
            FAMILY[(i * 5 + i / GIVEN.len()) % FAMILY.len()].to_string(),
        )
    };
    let email = if chinese {
        format!("contact{i}@example.cn")
    } else {
        format!(
            "{}.{}{i}@example.com",
            given.to_lowercase(),
            family.to_lowercase().replace('-', "")
        )
    };
    Person {
        given,
        family,
        email,
        title: TITLES[i % TITLES.len()],
        city: CITIES[i % CITIES.len()],
        phone: format!("+1 555 {:04}", i % 10_000),
    }
}

pub fn zoho_contact(p: &Person) -> Value {
    json!({"First_Name": p.given, "Last_Name": p.family, "Email": p.email, "Title": p.title,
           "Mailing_City": p.city, "Phone": p.phone})
}

pub fn graph_contact(p: &Person) -> Value {
    json!({"givenName": p.given, "surname": p.family, "jobTitle": p.title,
           "emailAddresses": [{"address": p.email, "name": format!("{} {}", p.given, p.family)}],
           "businessPhones": [p.phone]})
}

/// How many records of each kind a seed of `n` makes.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub zoho_contacts: usize,
    pub outlook_contacts: usize,
    pub twins: usize,
    pub tasks: usize,
    pub events: usize,
    pub personal_events: usize,
}

pub fn sizes(n: usize) -> Sizes {
    let n = n.max(20);
    Sizes {
        zoho_contacts: n * 6 / 10,
        outlook_contacts: n * 4 / 10,
        twins: (n / 30).clamp(2, 10),
        tasks: (n / 10).max(2),
        events: (n / 10).max(2),
        personal_events: 3,
    }
}

/// Event start offsets wrap within 300 days, inside the default event window (365 days ahead),
/// so a large seed does not put events out of scope.
fn within_window(hours: i64) -> Duration {
    Duration::hours(hours % (300 * 24))
}

fn local(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn zoho_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// Seeds both emulators. Outlook person indexes follow Zoho's, except the twins, which are the
/// first Zoho people again (one with a job title only Outlook knows).
pub fn seed(zoho: &ZohoEmulator, graph: &GraphEmulator, n: usize) -> Result<Sizes, String> {
    let s = sizes(n);
    let err = |e: &dyn std::fmt::Display| format!("seeding failed: {e}");
    let zc: Vec<Value> = (0..s.zoho_contacts)
        .map(|i| zoho_contact(&person(i)))
        .collect();
    zoho.insert_records("Contacts", &zc).map_err(|e| err(&e))?;
    let folder = graph.default_contact_folder();
    for k in 0..s.outlook_contacts {
        let i = if k < s.twins { k } else { s.zoho_contacts + k };
        let mut c = graph_contact(&person(i));
        if k == 0 {
            c["jobTitle"] = json!("Countess of Computing");
            c["personalNotes"] = json!("Known only in Outlook until the first sync");
        }
        graph.insert_contact(&folder, c).map_err(|e| err(&e))?;
    }

    let today = Utc::now().date_naive();
    let zt: Vec<Value> = (0..s.tasks)
        .map(|i| {
            json!({"Subject": format!("Follow up with {} #{i}", person(i).family),
                   "Due_Date": (today + Duration::days((i % 30) as i64 + 1)).format("%Y-%m-%d").to_string(),
                   "Status": "Not Started", "Priority": if i % 4 == 0 { "High" } else { "Normal" }})
        })
        .collect();
    zoho.insert_records("Tasks", &zt).map_err(|e| err(&e))?;
    let list = graph.default_task_list();
    for i in 0..s.tasks {
        graph
            .insert_task(
                &list,
                json!({"title": format!("Prepare offer for {} #{i}", person(i + 1).family),
                       "importance": if i % 3 == 0 { "high" } else { "normal" },
                       "dueDateTime": {"dateTime": format!("{}T00:00:00", today + Duration::days((i % 20) as i64 + 2)), "timeZone": "UTC"}}),
            )
            .map_err(|e| err(&e))?;
    }

    let base = Utc::now() + Duration::days(2);
    let ze: Vec<Value> = (0..s.events)
        .map(|i| {
            let start = base + within_window(i as i64 * 5);
            let mut e = json!({"Event_Title": format!("Meeting with {} #{i}", person(i).family),
                   "Start_DateTime": zoho_time(start), "End_DateTime": zoho_time(start + Duration::hours(1)),
                   "Venue": person(i).city});
            if i % 7 == 3 {
                e["Recurring_Activity"] = json!({"RRULE": "FREQ=WEEKLY;INTERVAL=1;COUNT=8"});
            }
            e
        })
        .collect();
    zoho.insert_records("Events", &ze).map_err(|e| err(&e))?;
    let cal = graph.default_calendar();
    for cat in ["Zoho", "Customer", "Personal"] {
        let colour = match cat {
            "Zoho" => "preset4",
            "Customer" => "preset7",
            _ => "preset1",
        };
        // A category that is already there is fine.
        let _ = graph.add_category(cat, colour);
    }
    for i in 0..s.events {
        let start = base + within_window(i as i64 * 5 + 2);
        let cats: Vec<&str> = if i % 2 == 0 {
            vec!["Zoho"]
        } else {
            vec!["Zoho", "Customer"]
        };
        let mut e = json!({"subject": format!("Call with {} #{i}", person(i + 2).family),
               "categories": cats,
               "start": {"dateTime": local(start), "timeZone": "UTC"},
               "end": {"dateTime": local(start + Duration::minutes(30)), "timeZone": "UTC"}});
        if i % 5 == 1 {
            e["recurrence"] = json!({"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [start.format("%A").to_string().to_lowercase()]},
                                     "range": {"type": "numbered", "startDate": start.format("%Y-%m-%d").to_string(), "numberOfOccurrences": 6}});
        }
        graph.insert_event(&cal, e).map_err(|e| err(&e))?;
    }
    for i in 0..s.personal_events {
        let start = base + within_window(i as i64 * 7 + 3);
        graph
            .insert_event(
                &cal,
                json!({"subject": format!("Personal: dentist {i}"), "categories": ["Personal"],
                       "start": {"dateTime": local(start), "timeZone": "UTC"},
                       "end": {"dateTime": local(start + Duration::hours(1)), "timeZone": "UTC"}}),
            )
            .map_err(|e| err(&e))?;
    }
    Ok(s)
}
