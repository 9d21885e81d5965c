//! SetBalance: a user's balance as a ledger (issue #16).
//! `POST /users/{id}/balance {balance}` sets the balance, recorded as an
//! adjustment (the difference, the tenant's currency, a reason, the actor):
//! one item of the user's `balance_adjustments` list, with the item events,
//! so audit, history, `as_of`, replay and snapshots cover it. `GET` is the
//! sum of the adjustments. Money never passes through floating point here:
//! amounts are [`Amount`]s, whole hundred-thousandths (the spec's
//! "precision is five digits"), parsed from the number's decimal text and
//! summed with checked integer arithmetic.

use super::prepare::NewId;
use super::{CommandError, Decision, Thing};
use switchboard_events::domain::{ItemCreated, ItemOwner};
use switchboard_events::{Event, Expected, FieldSet, Fields, Id, Value, ValueRef};
use switchboard_projections::directory::items::ItemView;
use switchboard_projections::directory::Scope;

/// The list a user's balance adjustments are items of.
pub const ADJUSTMENTS: &str = "balance_adjustments";

/// The longest reason an adjustment may carry, in characters.
pub const REASON_MAX: usize = 255;

/// The currency recorded when the tenant has none (ISO 4217's "no currency").
pub const NO_CURRENCY: &str = "XXX";

/// Hundred-thousandths per unit of currency (five decimal digits).
pub const SCALE: i64 = 100_000;

/// The largest balance magnitude accepted: below 10^10 units, so every
/// amount has at most 15 significant digits and its decimal text survives
/// a JSON parser that reads numbers as binary floating point exactly.
pub const MAX_UNITS: i64 = 10_000_000_000;

/// An amount of money in hundred-thousandths of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Amount(pub i64);

impl Amount {
    /// Parses a JSON number's decimal text (`12`, `-0.5`, `1.23456`,
    /// `1e3`, `2.5E-2`): more than five decimal places, a magnitude of
    /// [`MAX_UNITS`] or more, or anything that is not a number is refused
    /// (never rounded).
    pub fn parse(text: &str) -> Result<Amount, &'static str> {
        const NOT_A_NUMBER: &str = "must be a number";
        let (negative, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => {
                let e: i32 = rest[i + 1..].parse().map_err(|_| NOT_A_NUMBER)?;
                (&rest[..i], e)
            }
            None => (rest, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NOT_A_NUMBER);
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) || mantissa.ends_with('.') {
            return Err(NOT_A_NUMBER);
        }
        // digits × 10^(exponent − frac.len()), in hundred-thousandths:
        // × 10^(exponent − frac.len() + 5).
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        let shift = i64::from(exponent) - frac.len() as i64 + 5;
        let too_big = "must be less than 10000000000 in magnitude";
        let mut value: i64 = 0;
        if digits.len() > 18 {
            return Err(too_big);
        }
        for b in digits.bytes() {
            value = value * 10 + i64::from(b - b'0');
        }
        if shift < 0 {
            let divisor = 10_i64
                .checked_pow(u32::try_from(-shift).map_err(|_| too_big)?)
                .unwrap_or(i64::MAX);
            if value % divisor != 0 {
                return Err("must have at most 5 decimal places");
            }
            value /= divisor;
        } else if value != 0 {
            let factor = 10_i64
                .checked_pow(u32::try_from(shift).map_err(|_| too_big)?)
                .ok_or(too_big)?;
            value = value.checked_mul(factor).ok_or(too_big)?;
        }
        if value >= MAX_UNITS * SCALE {
            return Err(too_big);
        }
        Ok(Amount(if negative { -value } else { value }))
    }

    /// The decimal text with five decimal places (`-12.50000`).
    pub fn to_decimal(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let scale = SCALE.unsigned_abs();
        format!("{sign}{}.{:05}", abs / scale, abs % scale)
    }

    /// The sum, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }
}

/// The balance: the sum of every adjustment, in order. An overflowing
/// ledger (impossible with amounts below [`MAX_UNITS`] and fewer than 9×10^3
/// billion adjustments) saturates rather than wraps.
pub fn balance(adjustments: impl IntoIterator<Item = Amount>) -> Amount {
    adjustments.into_iter().fold(Amount(0), |sum, a| {
        sum.checked_add(a)
            .unwrap_or(Amount(if a.0 < 0 { i64::MIN } else { i64::MAX }))
    })
}

/// The adjustment that takes the balance from `current` to `requested`
/// (`None`: it is already there, nothing to record).
pub fn adjustment(current: Amount, requested: Amount) -> Result<Option<Amount>, CommandError> {
    let delta = requested
        .0
        .checked_sub(current.0)
        .ok_or_else(|| CommandError::invalid("balance", "is out of range"))?;
    Ok((delta != 0).then_some(Amount(delta)))
}

/// Set user `user_id`'s balance to `balance`, recording the difference.
#[derive(Debug, Clone, PartialEq)]
pub struct SetBalance {
    /// Whose balance.
    pub user_id: Id,
    /// The adjustment's id (an item id).
    pub adjustment_id: NewId,
    /// The balance requested.
    pub balance: Amount,
    /// The currency the client says the amount is in: it must be the
    /// tenant's (a ledger has one currency; nothing is converted).
    pub currency: Option<String>,
    /// Why (free text, at most [`REASON_MAX`] characters).
    pub reason: Option<String>,
}

/// One recorded adjustment, as read back from its item.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjustment<'a> {
    /// The item.
    pub item: &'a ItemView,
    /// The amount added (negative: taken away).
    pub amount: Amount,
    /// The balance after it.
    pub balance: Amount,
    /// The currency, ISO 4217.
    pub currency: &'a str,
    /// Why, if given.
    pub reason: Option<&'a str>,
    /// Who (0: the service itself).
    pub actor: Id,
}

fn amount_of(attrs: &(impl FieldSet + ?Sized), key: &str) -> Amount {
    match attrs.get(key) {
        Some(ValueRef::Int(n)) => Amount(n),
        _ => Amount(0),
    }
}

/// Reads an adjustment item.
pub fn adjustment_of(item: &ItemView) -> Adjustment<'_> {
    let text = |k: &str| item.attrs.get(k).and_then(|v| v.as_str());
    Adjustment {
        item,
        amount: amount_of(&item.attrs, "amount"),
        balance: amount_of(&item.attrs, "balance"),
        currency: text("currency").unwrap_or(NO_CURRENCY),
        reason: text("reason"),
        actor: match item.attrs.get("actor") {
            Some(ValueRef::Int(n)) => Id(u64::try_from(n).unwrap_or(0)),
            _ => Id(0),
        },
    }
}

/// User `user`'s adjustments, in the order they were recorded.
pub fn adjustments(s: &Scope, user: Id) -> Vec<Adjustment<'_>> {
    let mut all: Vec<Adjustment<'_>> = s
        .items
        .items(ADJUSTMENTS, ItemOwner::User(user))
        .map(adjustment_of)
        .collect();
    all.sort_by_key(|a| (a.item.stamp.created_offset, a.item.id));
    all
}

/// User `user`'s balance: the sum of its adjustments.
pub fn balance_of(s: &Scope, user: Id) -> Amount {
    balance(
        s.items
            .items(ADJUSTMENTS, ItemOwner::User(user))
            .map(|i| amount_of(&i.attrs, "amount")),
    )
}

/// A tenant currency code as the ledger records it (three letters, else
/// [`NO_CURRENCY`]).
pub fn ledger_currency(tenant_currency: Option<&str>) -> &str {
    tenant_currency
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        .unwrap_or(NO_CURRENCY)
}

/// Decides SetBalance: the user exists; a currency, if given, is the
/// tenant's; the reason fits; the adjustment is the exact difference
/// between the requested and the current balance (none when equal). The
/// actor `actor` (0: the service) is recorded with it.
pub fn set(
    s: &Scope,
    tenant_currency: Option<&str>,
    actor: Id,
    cmd: &SetBalance,
) -> Result<Decision, CommandError> {
    if !s.users.contains_key(&cmd.user_id) {
        return Err(CommandError::NotFound(Thing::User));
    }
    let currency = ledger_currency(tenant_currency);
    if let Some(given) = cmd.currency.as_deref() {
        if given != currency {
            return Err(CommandError::invalid(
                "currency",
                format!("must be the tenant's currency, {currency}"),
            ));
        }
    }
    if let Some(reason) = cmd.reason.as_deref() {
        if reason.chars().count() > REASON_MAX || reason.chars().any(char::is_control) {
            return Err(CommandError::invalid(
                "reason",
                format!("must be at most {REASON_MAX} characters, without control characters"),
            ));
        }
    }
    let Some(delta) = adjustment(balance_of(s, cmd.user_id), cmd.balance)? else {
        return Ok(Decision::none());
    };
    let mut attrs = Fields::from([
        ("amount".to_owned(), Value::Int(delta.0)),
        ("balance".to_owned(), Value::Int(cmd.balance.0)),
        ("currency".to_owned(), Value::from(currency)),
        (
            "actor".to_owned(),
            Value::Int(i64::try_from(actor.0).unwrap_or(0)),
        ),
    ]);
    if let Some(reason) = cmd.reason.as_deref().filter(|r| !r.is_empty()) {
        attrs.insert("reason".to_owned(), Value::from(reason));
    }
    let item_id = cmd.adjustment_id.get()?;
    let event = Event::ItemCreated(ItemCreated {
        item_id,
        collection: ADJUSTMENTS.to_owned(),
        owner: ItemOwner::User(cmd.user_id),
        attrs,
    });
    let stream = event.stream();
    Ok(Decision::events(vec![event]).expect(stream, Expected::NoStream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testing::given_in;
    use switchboard_events::TenantId;

    const T: TenantId = Id(9);
    const ANN: Id = Id(100);
    const ADMIN: Id = Id(7);

    fn ann() -> Event {
        crate::commands::testing::user_created(ANN, "ann")
    }

    fn set_to(id: u64, text: &str) -> SetBalance {
        SetBalance {
            user_id: ANN,
            adjustment_id: NewId::given(Id(id)),
            balance: Amount::parse(text).unwrap_or_default(),
            currency: None,
            reason: Some("top-up".into()),
        }
    }

    /// Decides `cmd` after `events` and returns the events with the new ones.
    fn after(mut events: Vec<Event>, cmd: &SetBalance) -> Result<Vec<Event>, CommandError> {
        let dir = given_in(T, &events);
        let d = set(dir.scope_or_empty(T), Some("EUR"), ADMIN, cmd)?;
        events.extend(d.events);
        Ok(events)
    }

    #[test]
    fn given_no_adjustments_when_a_balance_is_set_then_the_difference_is_recorded() {
        let dir = given_in(T, &[ann()]);
        let d = set(
            dir.scope_or_empty(T),
            Some("EUR"),
            ADMIN,
            &set_to(1, "12.5"),
        )
        .expect("set");
        assert_eq!(
            d.events,
            vec![Event::ItemCreated(ItemCreated {
                item_id: Id(1),
                collection: ADJUSTMENTS.into(),
                owner: ItemOwner::User(ANN),
                attrs: Fields::from([
                    ("amount".to_owned(), Value::Int(1_250_000)),
                    ("balance".to_owned(), Value::Int(1_250_000)),
                    ("currency".to_owned(), Value::from("EUR")),
                    ("actor".to_owned(), Value::Int(7)),
                    ("reason".to_owned(), Value::from("top-up")),
                ]),
            })]
        );
        assert_eq!(
            d.expected,
            vec![(
                switchboard_events::StreamId::of("item", Id(1)),
                Expected::NoStream
            )]
        );
    }

    #[test]
    fn given_adjustments_when_set_again_then_the_balance_is_their_exact_sum() {
        let events = after(vec![ann()], &set_to(1, "0.1")).expect("first");
        let events = after(events, &set_to(2, "0.3")).expect("second");
        let events = after(events, &set_to(3, "-2")).expect("third");
        let dir = given_in(T, &events);
        let s = dir.scope_or_empty(T);
        assert_eq!(balance_of(s, ANN), Amount(-200_000));
        let amounts: Vec<i64> = adjustments(s, ANN).iter().map(|a| a.amount.0).collect();
        assert_eq!(amounts, vec![10_000, 20_000, -230_000]);
        let last = &adjustments(s, ANN)[2];
        assert_eq!(
            (last.balance, last.currency, last.actor),
            (Amount(-200_000), "EUR", ADMIN)
        );
    }

    #[test]
    fn given_the_same_balance_when_set_then_nothing_is_recorded() {
        let events = after(vec![ann()], &set_to(1, "5")).expect("first");
        let dir = given_in(T, &events);
        let d = set(
            dir.scope_or_empty(T),
            Some("EUR"),
            ADMIN,
            &set_to(2, "5.00000"),
        )
        .expect("same");
        assert!(d.is_empty());
    }

    #[test]
    fn given_another_currency_or_a_bad_reason_then_the_field_is_named() {
        let dir = given_in(T, &[ann()]);
        let s = dir.scope_or_empty(T);
        let mut cmd = set_to(1, "1");
        cmd.currency = Some("USD".into());
        assert!(matches!(
            set(s, Some("EUR"), ADMIN, &cmd),
            Err(CommandError::Invalid { ref field, .. }) if field == "currency"
        ));
        cmd.currency = Some("EUR".into());
        cmd.reason = Some("x".repeat(REASON_MAX + 1));
        assert!(matches!(
            set(s, Some("EUR"), ADMIN, &cmd),
            Err(CommandError::Invalid { ref field, .. }) if field == "reason"
        ));
        cmd.reason = Some("line\nbreak".into());
        assert!(matches!(
            set(s, Some("EUR"), ADMIN, &cmd),
            Err(CommandError::Invalid { ref field, .. }) if field == "reason"
        ));
    }

    #[test]
    fn given_no_such_user_then_not_found() {
        let dir = given_in(T, &[]);
        assert_eq!(
            set(dir.scope_or_empty(T), Some("EUR"), ADMIN, &set_to(1, "1")),
            Err(CommandError::NotFound(Thing::User))
        );
    }

    #[test]
    fn given_a_tenant_without_a_currency_then_the_ledger_says_xxx() {
        assert_eq!(ledger_currency(None), NO_CURRENCY);
        assert_eq!(ledger_currency(Some("eur")), NO_CURRENCY);
        assert_eq!(ledger_currency(Some("CHF")), "CHF");
    }

    #[test]
    fn given_decimal_text_when_parsed_then_it_is_exact_hundred_thousandths() {
        for (text, units) in [
            ("0", 0),
            ("12", 1_200_000),
            ("-0.5", -50_000),
            ("1.23456", 123_456),
            ("0.1", 10_000),
            ("1e3", 100_000_000),
            ("2.5E-2", 2_500),
            ("1.000000", 100_000),
            ("9999999999.99999", 999_999_999_999_999),
        ] {
            assert_eq!(Amount::parse(text), Ok(Amount(units)), "{text}");
        }
    }

    #[test]
    fn given_too_many_decimals_or_too_much_money_then_it_is_refused_not_rounded() {
        assert_eq!(
            Amount::parse("0.000001"),
            Err("must have at most 5 decimal places")
        );
        assert_eq!(
            Amount::parse("1e-6"),
            Err("must have at most 5 decimal places")
        );
        for text in ["10000000000", "1e10", "1e400", "123456789012345678901"] {
            assert!(Amount::parse(text).is_err(), "{text}");
        }
        for text in ["", "-", "1.", ".5", "1.2.3", "abc", "1e", "0x10", "+1"] {
            assert_eq!(Amount::parse(text), Err("must be a number"), "{text}");
        }
    }

    #[test]
    fn amounts_render_with_five_decimals() {
        assert_eq!(Amount(-1_250_000).to_decimal(), "-12.50000");
        assert_eq!(Amount(1).to_decimal(), "0.00001");
        assert_eq!(Amount(0).to_decimal(), "0.00000");
    }

    #[test]
    fn given_a_ledger_the_balance_is_the_exact_sum() {
        // 0.1 + 0.2 is 0.3 here, unlike in binary floating point.
        let ledger = ["0.1", "0.2"].map(|t| Amount::parse(t).unwrap_or_default());
        assert_eq!(balance(ledger), Amount(30_000));
        assert_eq!(balance([]), Amount(0));
        assert_eq!(balance([Amount(i64::MAX), Amount(1)]), Amount(i64::MAX));
    }

    #[test]
    fn given_a_requested_balance_the_adjustment_is_the_difference() {
        assert_eq!(
            adjustment(Amount(30_000), Amount(10_000)),
            Ok(Some(Amount(-20_000)))
        );
        assert_eq!(adjustment(Amount(5), Amount(5)), Ok(None));
        assert!(adjustment(Amount(i64::MIN), Amount(1)).is_err());
    }
}
