//! A user's balance as a ledger (issue #16; decisions only, not served
//! yet): `POST /users/{id}/balance {balance}` sets the balance, recorded as
//! an adjustment (the difference, the tenant's currency, a reason, the
//! actor); `GET` is the sum of the adjustments. Money never passes through
//! floating point here: amounts are [`Amount`]s, whole hundred-thousandths
//! (the spec's "precision is five digits"), parsed from the number's
//! decimal text and summed with checked integer arithmetic.

use super::CommandError;

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

#[cfg(test)]
mod tests {
    use super::*;

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
