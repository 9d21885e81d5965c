//! The holiday field table, shared by a user's holidays (PortSIP v22 Users
//! API, `/user/holidays…`, `/users/{id}/holidays…`) and the tenant's
//! holidays (companion API, `/holidays…`), which have the same fields.
//!
//! A holiday is a date (or a range of dates) with an optional time of day,
//! either in one year or every year. The spec gives every part as a bare
//! integer; switchboard bounds each part (year 1970–9999, month 1–12, day
//! 1–31, hour 0–23, minute 0–59) and judges the whole date with
//! [`holiday_dates`]:
//! * `month_start` and `day_start` are required; so is `year_start` unless
//!   `every_year`. A `consecutive` holiday also needs `month_end` and
//!   `day_end` (and `year_end` unless `every_year`).
//! * Each date must exist: 31 April is refused, 29 February only in a leap
//!   year (any year for a holiday kept every year).
//! * The time of day defaults to 00:00 at the start and 23:59 at the end.
//! * A single-day holiday (not `consecutive`) has no other end date: end date
//!   parts, when sent, must equal the start's; its end time is after its start
//!   time.
//! * A consecutive holiday ends after it starts. One kept every year may
//!   cross the new year (24 December to 2 January); one in given years may
//!   not end before it starts.
//! * `region` is an ISO 3166-1 alpha-3 code (three uppercase letters), as
//!   the spec's description says.
//!
//! Updates are partial, and the rules are judged on the holiday as it would
//! be after the update.

use super::{Field, FieldError, Fields, Kind, ListType as L, Table};

const fn part(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

/// Every holiday attribute, in `GET /user/holidays/{id}` order.
pub static HOLIDAY: Table = Table {
    resource: "holiday",
    fields: &[
        Field::new("name", Kind::Str { min: 1, max: 64 })
            .required()
            .summary()
            .list(L::String)
            .search(),
        Field::new("region", Kind::Code { len: 3 })
            .required()
            .summary()
            .list(L::String),
        Field::new("consecutive", Kind::Bool)
            .required()
            .summary()
            .list(L::Bool),
        Field::new("every_year", Kind::Bool)
            .required()
            .summary()
            .list(L::Bool),
        Field::new("year_start", part(1970, 9999))
            .summary()
            .list(L::Number),
        Field::new("year_end", part(1970, 9999)).summary(),
        Field::new("month_start", part(1, 12))
            .summary()
            .list(L::Number),
        Field::new("month_end", part(1, 12)).summary(),
        Field::new("day_start", part(1, 31)).summary(),
        Field::new("day_end", part(1, 31)).summary(),
        Field::new("hour_start", part(0, 23)).summary(),
        Field::new("hour_end", part(0, 23)).summary(),
        Field::new("minute_start", part(0, 59)).summary(),
        Field::new("minute_end", part(0, 59)).summary(),
    ],
};

/// Names the caller handles itself.
pub static HOLIDAY_SKIP: &[&str] = &["id"];

fn int(item: &Fields, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| match v {
        super::Value::Int(i) => Some(*i),
        _ => None,
    })
}

fn flag(item: &Fields, name: &str) -> bool {
    matches!(item.get(name), Some(super::Value::Bool(true)))
}

fn required(item: &Fields, name: &str) -> Result<i64, FieldError> {
    int(item, name).ok_or_else(|| FieldError::new(name, "is required"))
}

/// Whether `year` is a leap year (proleptic Gregorian).
pub fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` of `year`; `None` for the year means "any year", where
/// February may have its 29th.
pub fn days_in_month(month: i64, year: Option<i64>) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 => match year {
            Some(y) if !is_leap(y) => 28,
            _ => 29,
        },
        _ => 31,
    }
}

/// One end of a holiday: its date and time parts.
struct Moment {
    year: Option<i64>,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
}

impl Moment {
    fn read(item: &Fields, end: &str, every_year: bool) -> Result<Moment, FieldError> {
        let name = |p: &str| format!("{p}_{end}");
        let year = if every_year {
            None
        } else {
            Some(required(item, &name("year"))?)
        };
        let month = required(item, &name("month"))?;
        let day = required(item, &name("day"))?;
        if day > days_in_month(month, year) {
            let when = match year {
                Some(y) => format!("{month}/{y}"),
                None => format!("month {month}"),
            };
            return Err(FieldError::new(
                name("day"),
                format!("{when} has no day {day}"),
            ));
        }
        let (hour, minute) = match end {
            "start" => (0, 0),
            _ => (23, 59),
        };
        Ok(Moment {
            year,
            month,
            day,
            hour: int(item, &name("hour")).unwrap_or(hour),
            minute: int(item, &name("minute")).unwrap_or(minute),
        })
    }

    /// Its parts, most significant first, with their names.
    fn parts(&self) -> [(&'static str, i64); 5] {
        [
            ("year", self.year.unwrap_or(0)),
            ("month", self.month),
            ("day", self.day),
            ("hour", self.hour),
            ("minute", self.minute),
        ]
    }
}

/// The holiday's dates and times, judged on the holiday as it would be
/// (every effective field after the change): see the module docs.
pub fn holiday_dates(_table: &Table, item: &Fields) -> Result<(), FieldError> {
    let every_year = flag(item, "every_year");
    let start = Moment::read(item, "start", every_year)?;
    if !flag(item, "consecutive") {
        for (p, value) in [
            ("year", start.year),
            ("month", Some(start.month)),
            ("day", Some(start.day)),
        ] {
            let end = format!("{p}_end");
            if let (Some(e), Some(s)) = (int(item, &end), value) {
                if e != s {
                    return Err(FieldError::new(
                        end,
                        format!(
                            "must equal {p}_start: a holiday that is not consecutive is one day"
                        ),
                    ));
                }
            }
        }
        let end_time = (
            int(item, "hour_end").unwrap_or(23),
            int(item, "minute_end").unwrap_or(59),
        );
        if end_time <= (start.hour, start.minute) {
            let field = if end_time.0 != start.hour {
                "hour_end"
            } else {
                "minute_end"
            };
            return Err(FieldError::new(field, "must be after the start time"));
        }
        return Ok(());
    }
    let end = Moment::read(item, "end", every_year)?;
    let (s, e) = (start.parts(), end.parts());
    // The first part where they differ decides the order; equal moments are
    // an empty range.
    let first = s.iter().zip(e.iter()).find(|(a, b)| a.1 != b.1);
    match first {
        Some(((_, a), (_, b))) if b > a => Ok(()),
        // Kept every year: ending on an earlier date crosses the new year.
        Some(((p, _), _)) if every_year && (*p == "month" || *p == "day") => Ok(()),
        Some(((p, _), _)) => Err(FieldError::new(
            format!("{p}_end"),
            "must not end before the holiday starts",
        )),
        None => Err(FieldError::new(
            "minute_end",
            "must be after the start: the holiday is empty",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_tables::test_support::{obj, set};
    use crate::field_tables::{spec, Mode};
    use serde_json::{json, Value as Json};

    /// On purpose (module docs): every date part is bounded.
    fn narrowed() -> Vec<String> {
        let mut out = Vec::new();
        for f in HOLIDAY.fields {
            if let Kind::Int { min, max } = f.kind {
                out.push(format!("{}: minimum None vs {min}", f.name));
                out.push(format!("{}: maximum {} vs {max}", f.name, i32::MAX));
            }
        }
        out
    }

    #[test]
    fn holidays_match_both_specs() {
        let names = set(HOLIDAY.fields.iter().map(|f| f.name));
        let required = set(["name", "region", "consecutive", "every_year"]);
        let users = spec::load("portsip-users-openapi.json");
        let companion = spec::load("portsip-companion-openapi.json");
        for (doc, list, item) in [
            (&users, "/user/holidays", "/user/holidays/{id}"),
            (
                &users,
                "/users/{id}/holidays",
                "/users/{id}/holidays/{holiday_id}",
            ),
            (&companion, "/holidays", "/holidays/{id}"),
        ] {
            let create = spec::body(doc, list, "post");
            assert_eq!(set(spec::props(&create)), names, "{list}");
            assert_eq!(set(spec::required(&create)), required, "{list}");
            assert_eq!(set(spec::props(&spec::body(doc, item, "post"))), names);
            let show = spec::response(doc, item, "get", "200");
            assert_eq!(set(spec::props(&show)), &names | &set(["id"]), "{item}");
            let listed = spec::response(doc, list, "get", "200");
            let items = &listed["properties"]["items"]["items"];
            assert_eq!(
                set(spec::props(items)),
                &set(HOLIDAY.summary_fields()) | &set(["id"])
            );
            assert_eq!(
                spec::compare(HOLIDAY.fields, &show, ""),
                narrowed(),
                "{item}"
            );
        }
        for path in ["/user/global_holidays", "/users/{id}/global_holidays"] {
            let listed = spec::response(&users, path, "get", "200");
            let items = &listed["properties"]["items"]["items"];
            assert_eq!(set(spec::props(items)), &names | &set(["id"]), "{path}");
            let body = spec::body(&users, path, "post");
            assert_eq!(set(spec::props(&body)), set(["items"]), "{path}");
        }
    }

    /// Validates `body` as a create and judges its dates.
    fn judge(body: Json) -> Result<(), FieldError> {
        let fields = HOLIDAY.validate(&obj(body), Mode::Create, HOLIDAY_SKIP)?;
        holiday_dates(&HOLIDAY, &fields)
    }

    fn base(consecutive: bool, every_year: bool) -> Json {
        json!({"name": "Holiday", "region": "FRA", "consecutive": consecutive,
               "every_year": every_year})
    }

    fn with(mut body: Json, extra: Json) -> Json {
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        body
    }

    fn field(r: Result<(), FieldError>) -> Option<String> {
        r.err().map(|e| e.field)
    }

    #[test]
    fn given_a_single_day_every_year_then_it_is_accepted() {
        let body = with(
            base(false, true),
            json!({"month_start": 7, "day_start": 14}),
        );
        assert_eq!(judge(body), Ok(()));
    }

    #[test]
    fn given_a_dated_holiday_without_its_year_then_year_start_is_required() {
        let body = with(
            base(false, false),
            json!({"month_start": 7, "day_start": 14}),
        );
        assert_eq!(field(judge(body)), Some("year_start".into()));
    }

    #[test]
    fn given_a_holiday_without_a_month_then_month_start_is_required() {
        let body = with(base(false, true), json!({"day_start": 14}));
        assert_eq!(field(judge(body)), Some("month_start".into()));
    }

    #[test]
    fn given_dates_that_do_not_exist_then_the_day_is_named() {
        let april_31 = with(
            base(false, true),
            json!({"month_start": 4, "day_start": 31}),
        );
        assert_eq!(field(judge(april_31)), Some("day_start".into()));
        let feb_29_2027 = with(
            base(false, false),
            json!({"year_start": 2027, "month_start": 2, "day_start": 29}),
        );
        assert_eq!(field(judge(feb_29_2027)), Some("day_start".into()));
        let feb_29_2028 = with(
            base(false, false),
            json!({"year_start": 2028, "month_start": 2, "day_start": 29}),
        );
        assert_eq!(judge(feb_29_2028), Ok(()));
        let feb_29_any = with(
            base(false, true),
            json!({"month_start": 2, "day_start": 29}),
        );
        assert_eq!(judge(feb_29_any), Ok(()));
        let month_13 = with(
            base(false, true),
            json!({"month_start": 13, "day_start": 1}),
        );
        assert_eq!(field(judge(month_13)), Some("month_start".into()));
    }

    #[test]
    fn given_a_single_day_with_another_end_date_then_the_end_is_named() {
        let body = with(
            base(false, true),
            json!({"month_start": 5, "day_start": 1, "month_end": 5, "day_end": 2}),
        );
        assert_eq!(field(judge(body)), Some("day_end".into()));
    }

    #[test]
    fn given_a_single_day_ending_before_its_start_time_then_the_end_time_is_named() {
        let body = with(
            base(false, true),
            json!({"month_start": 5, "day_start": 1, "hour_start": 14, "hour_end": 9}),
        );
        assert_eq!(field(judge(body)), Some("hour_end".into()));
        let half_day = with(
            base(false, true),
            json!({"month_start": 5, "day_start": 1, "hour_start": 12, "minute_start": 30}),
        );
        assert_eq!(judge(half_day), Ok(()));
    }

    #[test]
    fn given_a_range_in_given_years_then_it_must_not_end_before_it_starts() {
        let ok = with(
            base(true, false),
            json!({"year_start": 2026, "month_start": 12, "day_start": 24,
                   "year_end": 2027, "month_end": 1, "day_end": 2}),
        );
        assert_eq!(judge(ok), Ok(()));
        let backwards = with(
            base(true, false),
            json!({"year_start": 2027, "month_start": 1, "day_start": 2,
                   "year_end": 2026, "month_end": 12, "day_end": 24}),
        );
        assert_eq!(field(judge(backwards)), Some("year_end".into()));
        let no_end = with(
            base(true, false),
            json!({"year_start": 2027, "month_start": 1, "day_start": 2}),
        );
        assert_eq!(field(judge(no_end)), Some("year_end".into()));
    }

    #[test]
    fn given_a_range_every_year_then_it_may_cross_the_new_year() {
        let body = with(
            base(true, true),
            json!({"month_start": 12, "day_start": 24, "month_end": 1, "day_end": 2}),
        );
        assert_eq!(judge(body), Ok(()));
    }

    #[test]
    fn given_an_empty_range_then_the_end_is_named() {
        let body = with(
            base(true, true),
            json!({"month_start": 3, "day_start": 1, "month_end": 3, "day_end": 1,
                   "hour_start": 23, "minute_start": 59}),
        );
        assert_eq!(field(judge(body)), Some("minute_end".into()));
    }

    #[test]
    fn given_a_bad_region_then_region_is_named() {
        let body = with(
            base(false, true),
            json!({"region": "fr", "month_start": 1, "day_start": 1}),
        );
        assert_eq!(field(judge(body)), Some("region".into()));
    }
}
